"""Erasure requests over the API: the same actions as the web and `manage.py erasure`."""

from datetime import datetime
from typing import Any, Literal

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from chatdata.erasure.actions import (
    do_approve_erasure,
    do_erase_outside_holds,
    do_cancel_erasure,
    do_open_erasure,
    do_reject_erasure,
    do_resume_erasure,
)
from chatdata.erasure.certificate import do_issue_certificate
from chatdata.erasure.export import export_filename, stream_export
from chatdata.models import ApiRequestOrigin, ErasureRequest
from chatdata.permissions import can_view_erasures
from dashboard.api.common import Id, act, allow, page_limit, responses

router = Router(tags=["erasure requests"])


class ErasureIn(Schema):
    user: str  # the chat service's external id of the data subject
    ticket: str
    received: str | None = None  # ISO 8601 with a timezone; default now
    peer_conversations: Literal["keep", "delete"] = "keep"
    notes: str = ""
    # If a legal hold covers the subject, erase everything it does not keep (else the hold blocks it).
    outside_holds: bool = False


class ConfirmIn(Schema):
    confirmation: str = ""  # the data subject's external id, typed as on the web


class ReasonIn(Schema):
    reason: str


class ErasureOut(Schema):
    id: int
    state: str
    subject: str
    ticket: str
    received_at: datetime
    due_at: datetime
    peer_conversations: str
    notes: str
    requested_by: str
    approved_by: str | None
    rejected_by: str | None
    rejection_reason: str
    blocked_reason: str
    outside_holds: bool
    phase: str
    error: str
    counts: Any
    residue: Any
    kept: Any
    purges: list[int]
    finished_at: datetime | None
    certificate: bool


class ErasurePage(Schema):
    results: list[ErasureOut]
    next: int | None


def _name(user):
    return user.get_username() if user is not None else None


def erasure_out(e):
    return {
        "id": e.pk, "state": e.state, "subject": e.subject_pseudonym, "ticket": e.ticket, "received_at": e.received_at,
        "due_at": e.due_at, "peer_conversations": e.peer_conversations, "notes": e.notes,
        "requested_by": _name(e.requested_by), "approved_by": _name(e.approved_by), "rejected_by": _name(e.rejected_by),
        "rejection_reason": e.rejection_reason, "blocked_reason": e.blocked_reason, "outside_holds": e.outside_holds, "phase": e.phase, "error": e.error,
        "counts": e.counts, "residue": e.residue, "kept": e.kept,
        "purges": list(e.purges.order_by("id").values_list("id", flat=True)),
        "finished_at": e.finished_at, "certificate": e.certificate is not None,
    }


def _viewer(request):
    allow(None if can_view_erasures(request.auth.owner) else "Only compliance officers, auditors and admins see erasure requests.")


def _get(request, pk):
    _viewer(request)
    return get_object_or_404(ErasureRequest.objects.select_related("requested_by", "approved_by", "rejected_by", "subject"), pk=pk)


@router.post("", response=responses(ErasureOut, 201), summary="Open an erasure request (awaiting approval, or blocked by a hold)")
def open_erasure(request, body: ErasureIn):
    erasure = act(request, do_open_erasure, subject=body.user, ticket=body.ticket, received_at=body.received,
                  peer_conversations=body.peer_conversations, notes=body.notes, outside_holds=body.outside_holds)
    ApiRequestOrigin.objects.create(token=request.auth, erasure=erasure)
    return 201, erasure_out(erasure)


@router.get("", response=responses(ErasurePage), summary="Erasure requests, newest first")
def list_erasures(request, state: Literal[tuple(ErasureRequest.State.values)] | None = None, before: Id | None = None,
                  limit: int | None = None):
    _viewer(request)
    limit = page_limit(limit)
    rows = ErasureRequest.objects.select_related("requested_by", "approved_by", "rejected_by").order_by("-id")
    if state:
        rows = rows.filter(state=state)
    if before is not None:
        rows = rows.filter(id__lt=before)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"results": [erasure_out(e) for e in page], "next": page[-1].pk if more else None}


@router.get("/{int:pk}", response=responses(ErasureOut), summary="One erasure request")
def get(request, pk: Id):
    return erasure_out(_get(request, pk))


@router.post("/{int:pk}/approve", response=responses(ErasureOut), summary="Approve (never one's own): the run starts",
             description="Send the data subject's external id as `confirmation`, as the web asks the approver to type it.")
def approve(request, pk: Id, body: ConfirmIn | None = None):
    typed = body.confirmation if body is not None else ""
    return erasure_out(act(request, do_approve_erasure, _get(request, pk), confirmation=typed))


@router.post("/{int:pk}/outside-holds", response=responses(ErasureOut),
             summary="Blocked by a hold on the subject: erase everything the hold does not keep (approved again)")
def outside_holds(request, pk: Id):
    return erasure_out(act(request, do_erase_outside_holds, _get(request, pk)))


@router.post("/{int:pk}/reject", response=responses(ErasureOut), summary="Reject, saying why")
def reject(request, pk: Id, body: ReasonIn):
    return erasure_out(act(request, do_reject_erasure, _get(request, pk), reason=body.reason))


@router.post("/{int:pk}/cancel", response=responses(ErasureOut), summary="Cancel")
def cancel(request, pk: Id):
    return erasure_out(act(request, do_cancel_erasure, _get(request, pk)))


@router.post("/{int:pk}/resume", response=responses(ErasureOut), summary="Resume a blocked or failed request")
def resume(request, pk: Id):
    return erasure_out(act(request, do_resume_erasure, _get(request, pk)))


@router.get("/{int:pk}/export", response={200: None, **responses(None)}, summary="The subject's data export (ZIP, streamed; audited)")
def export(request, pk: Id):
    erasure = _get(request, pk)
    chunks = act(request, stream_export, erasure)
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(erasure)}"'
    return response


@router.get("/{int:pk}/certificate", response=responses(dict[str, Any]), summary="The signed certificate (JSON; audited)")
def certificate(request, pk: Id):
    return act(request, do_issue_certificate, _get(request, pk))
