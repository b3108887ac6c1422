"""Purge requests over the API: the web's preview → execute → approve flow, through the same
do_* actions; a refusal keeps its status (chatdata decides, this module only translates).

Executing an expired preview answers 409 `expired` (POST .../preview-again makes a new one);
executing one whose scope changed since answers 409 `scope_changed` and the request's preview now
holds the new counts: POST .../execute again confirms them. A cancelled request can be resumed
(the rest) or closed (given up for good)."""

from datetime import datetime
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema

from chatdata.models import ApiRequestOrigin, PurgeRequest
from chatdata.permissions import can_view_purges
from chatdata.purge.actions import (
    do_approve_purge,
    do_cancel_purge,
    do_close_purge,
    do_execute_purge,
    do_preview_again,
    do_preview_purge,
    do_reject_purge,
    do_resume_purge,
)
from chatdata.purge import staleness
from chatdata.purge.confirmation import confirmation_for
from chatdata.purge.scopes import PurgeInvalid, spec_from_dict
from chatdata.purge.validation import spec_from_external
from dashboard.api.common import Id, act, allow, page_limit, responses

router = Router(tags=["purge requests"])


class PurgeIn(Schema):
    scope: dict[str, Any]
    effect: str
    member: int | str | None = None
    clear_history: bool = False
    reason: str
    ticket: str = ""
    # True: ids in `scope` and `member` are the chat service's external ids, not chatsweep's.
    external_ids: bool = False


class ReasonIn(Schema):
    reason: str


class NoteIn(Schema):
    reason: str = ""


class ConfirmIn(Schema):
    # What a person types on the web (chatdata.purge.confirmation): the conversation's title, the
    # user's external id or the number of messages; asked when the request's `confirmation.typed`.
    confirmation: str = ""


class ConfirmationOut(Schema):
    typed: bool
    irreversible: bool
    count: int
    name: str | None
    prompt: str


class ItemOut(Schema):
    position: int
    conversation: int
    conversation_external_id: str
    status: str
    reason: str
    preview: dict[str, Any]
    counts: dict[str, Any] | None


class CallbackOut(Schema):
    delivery: str
    number: int
    url: str
    event: str
    at: datetime
    status_code: int | None
    error: str
    ok: bool


class PurgeOut(Schema):
    id: int
    state: str
    # A preview left unconfirmed past PURGE_PREVIEW_TTL (`state` stays "previewed"); when it expires.
    expired: bool
    expires_at: datetime | None
    scope_kind: str
    effect: str
    target: str
    spec: dict[str, Any]
    reason: str
    ticket: str
    requested_by: str
    created_at: datetime
    high_water_mark: int | None
    needs_approval: bool
    runs_inline: bool
    preview: dict[str, Any] | None
    result: dict[str, Any] | None
    total_messages: int
    processed_messages: int
    percent_done: int
    approved_by: str | None
    rejected_by: str | None
    rejection_reason: str
    closed_by: str | None
    finished_at: datetime | None
    error: str
    erasure: int | None
    confirmation: ConfirmationOut
    items: list[ItemOut]
    callbacks: list[CallbackOut]


class PurgePage(Schema):
    results: list[PurgeOut]
    next: int | None


def _name(user):
    return user.get_username() if user is not None else None


def purge_out(purge, *, items=True, attempts=None):
    """`attempts`: the callback attempts when known (none, for a request just made); else read."""
    if attempts is None:
        attempts = []
        origin = ApiRequestOrigin.objects.filter(purge_request=purge).first()
        if origin is not None:
            attempts = list(origin.callback_attempts.all())
    return {
        "id": purge.pk, "state": purge.state, "expired": purge.is_expired, "expires_at": purge.preview_expires_at,
        "scope_kind": purge.scope_kind, "effect": purge.effect,
        "target": purge.target, "spec": purge.spec, "reason": purge.reason, "ticket": purge.ticket,
        "requested_by": _name(purge.requested_by), "created_at": purge.created_at,
        "high_water_mark": purge.high_water_mark, "needs_approval": purge.needs_approval,
        "runs_inline": purge.runs_inline, "preview": purge.preview, "result": purge.result,
        "total_messages": purge.total_messages, "processed_messages": purge.processed_messages,
        "percent_done": purge.percent_done, "approved_by": _name(purge.approved_by),
        "rejected_by": _name(purge.rejected_by), "rejection_reason": purge.rejection_reason,
        "closed_by": _name(purge.closed_by),
        "finished_at": purge.finished_at, "error": purge.error, "erasure": purge.erasure_id,
        "confirmation": confirmation_for(purge).as_dict(),
        "items": [
            {"position": i.position, "conversation": i.conversation_pk, "conversation_external_id": i.conversation_external_id,
             "status": i.status, "reason": i.reason, "preview": i.preview, "counts": i.counts}
            for i in (purge.items.all()[:1000] if items else [])
        ],
        "callbacks": [
            {"delivery": a.delivery, "number": a.number, "url": a.url, "event": a.event, "at": a.at,
             "status_code": a.status_code, "error": a.error, "ok": a.ok}
            for a in attempts
        ],
    }


def _viewer(request):
    allow(None if can_view_purges(request.auth.owner) else "Your account has no chatsweep role.")


def _get(request, pk):
    _viewer(request)
    return get_object_or_404(
        PurgeRequest.objects.select_related("requested_by", "approved_by", "rejected_by", "closed_by"), pk=pk
    )


def _spec(body):
    data = {"scope": body.scope, "effect": body.effect, "member": body.member, "clear_history": body.clear_history}
    if body.external_ids:
        return spec_from_external(data)
    if isinstance(body.member, str):
        raise PurgeInvalid("member must be a number (chatsweep's id); set external_ids for the chat service's ids.", "member")
    return spec_from_dict(data)


def _origin(request):
    """Records which token made a new request, in the transaction that writes the request."""
    return lambda purge: ApiRequestOrigin.objects.create(token=request.auth, purge_request=purge)


@router.post("", response=responses(PurgeOut, 201), summary="Preview a purge (creates a previewed request)")
def create(request, body: PurgeIn):
    spec = _spec(body)
    purge = act(request, do_preview_purge, spec, reason=body.reason, ticket=body.ticket, on_create=_origin(request))
    return 201, purge_out(purge, attempts=[])


@router.get("", response=responses(PurgePage), summary="List purge requests, newest first")
def list_purges(
    request,
    state: Literal[tuple(value for value, _ in staleness.state_choices())] | None = Query(
        None, description="a state, or `expired` (previews left unconfirmed past PURGE_PREVIEW_TTL); `previewed` is the others"
    ),
    requested_by: str | None = None,
    scope_kind: str | None = None,
    erasure: Id | None = None,
    before: Id | None = Query(None, description="cursor: the `next` of the previous page"),
    limit: int | None = None,
):
    _viewer(request)
    limit = page_limit(limit)
    rows = PurgeRequest.objects.select_related("requested_by", "approved_by", "rejected_by", "closed_by").order_by("-id")
    if state:
        rows = staleness.filter_state(rows, state)
    if requested_by:
        rows = rows.filter(requested_by__username=requested_by)
    if scope_kind:
        rows = rows.filter(scope_kind=scope_kind)
    if erasure is not None:
        rows = rows.filter(erasure_id=erasure)
    if before is not None:
        rows = rows.filter(id__lt=before)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"results": [purge_out(p, items=False) for p in page], "next": page[-1].pk if more else None}


@router.get("/{int:pk}", response=responses(PurgeOut), summary="A purge request: state, progress, counts, items")
def get(request, pk: Id):
    return purge_out(_get(request, pk))


@router.post("/{int:pk}/execute", response=responses(PurgeOut), summary="Execute a previewed request (or submit it for approval)",
             description="Send the typed `confirmation` the request's `confirmation.prompt` asks for, as on the web.")
def execute(request, pk: Id, body: ConfirmIn | None = None):
    typed = body.confirmation if body is not None else ""
    return purge_out(act(request, do_execute_purge, _get(request, pk), confirmation=typed))


@router.post("/{int:pk}/approve", response=responses(PurgeOut), summary="Approve another person's request; it starts",
             description="The approver sends the same typed `confirmation` as the requester (`confirmation.prompt`).")
def approve(request, pk: Id, body: ConfirmIn | None = None):
    typed = body.confirmation if body is not None else ""
    return purge_out(act(request, do_approve_purge, _get(request, pk), confirmation=typed))


@router.post("/{int:pk}/reject", response=responses(PurgeOut), summary="Reject another person's request, saying why")
def reject(request, pk: Id, body: ReasonIn):
    return purge_out(act(request, do_reject_purge, _get(request, pk), reason=body.reason))


@router.post("/{int:pk}/cancel", response=responses(PurgeOut), summary="Cancel (a running one stops at its next batch)")
def cancel(request, pk: Id):
    return purge_out(act(request, do_cancel_purge, _get(request, pk)))


@router.post("/{int:pk}/resume", response=responses(PurgeOut), summary="Resume a failed or interrupted request")
def resume(request, pk: Id):
    return purge_out(act(request, do_resume_purge, _get(request, pk)))


@router.post("/{int:pk}/close", response=responses(PurgeOut), summary="Close a cancelled request: its rest is given up for good")
def close(request, pk: Id, body: NoteIn):
    return purge_out(act(request, do_close_purge, _get(request, pk), reason=body.reason))


@router.post(
    "/{int:pk}/preview-again", response=responses(PurgeOut, 201),
    summary="Preview a previewed (e.g. expired) request's scope again; the old preview is discarded",
)
def preview_again(request, pk: Id):
    old = _get(request, pk)
    purge = act(request, do_preview_again, old, on_create=_origin(request))
    return 201, purge_out(purge, attempts=[])
