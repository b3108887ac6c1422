"""Legal holds over the API: list (any role), place and release (compliance, admins)."""

from datetime import datetime
from typing import Literal

from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from chatdata.models import ChatUser, Conversation, LegalHold, Message
from chatdata.permissions import can_view_holds, holds_refusal
from chatdata.purge.holds import do_add_legal_hold, do_release_legal_hold
from chatdata.purge.predicates import hold_q
from dashboard.api.common import Id, Invalid, act, allow, page_limit, responses

router = Router(tags=["legal holds"])


class HoldIn(Schema):
    user: str | None = None
    conversation: str | None = None
    start: str | None = None
    end: str | None = None
    reason: str


class ReleaseIn(Schema):
    reason: str = ""


class HoldOut(Schema):
    id: int
    kind: str
    subject: str
    start: datetime | None
    end: datetime | None
    reason: str
    created_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None
    release_reason: str
    active: bool
    covered_messages: int


class HoldPage(Schema):
    results: list[HoldOut]
    next: int | None


def hold_out(hold, covered=True):
    count = 0
    if covered and hold.is_active and not (hold.kind == LegalHold.Kind.CONVERSATION and hold.conversation_id is None):
        count = Message.objects.filter(hold_q(hold)).count()
    return {
        "id": hold.pk, "kind": hold.kind, "subject": hold.subject_external_id, "start": hold.start, "end": hold.end,
        "reason": hold.reason, "created_by": hold.created_by.get_username(), "created_at": hold.created_at,
        "released_at": hold.released_at, "released_by": hold.released_by.get_username() if hold.released_by else None,
        "release_reason": hold.release_reason, "active": hold.is_active, "covered_messages": count,
    }


@router.get("", response=responses(HoldPage), summary="Legal holds, newest first")
def list_holds(request, state: Literal["active", "released", "all"] = "active", before: Id | None = None, limit: int | None = None):
    allow(None if can_view_holds(request.auth.owner) else "Your account has no chatsweep role.")
    limit = page_limit(limit)
    holds = LegalHold.objects.select_related("created_by", "released_by").order_by("-id")
    if state == "active":
        holds = holds.filter(released_at__isnull=True)
    elif state == "released":
        holds = holds.filter(released_at__isnull=False)
    if before is not None:
        holds = holds.filter(id__lt=before)
    page = list(holds[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"results": [hold_out(h) for h in page], "next": page[-1].pk if more else None}


@router.post("", response=responses(HoldOut, 201), summary="Place a legal hold on a user or a conversation (external ids)")
def place(request, body: HoldIn):
    allow(holds_refusal(request.auth.owner))
    if bool(body.user) == bool(body.conversation):
        raise Invalid("A legal hold covers either one user or one conversation.", "user")
    user = conversation = None
    if body.user:
        user = ChatUser.objects.filter(external_id=body.user).first()
        if user is None:
            raise Invalid(f"No chat user with id {body.user}.", "user")
    else:
        conversation = Conversation.objects.filter(external_id=body.conversation).first()
        if conversation is None:
            raise Invalid(f"No conversation with id {body.conversation}.", "conversation")
    hold = act(request, do_add_legal_hold, user=user, conversation=conversation, start=body.start, end=body.end, reason=body.reason)
    return 201, hold_out(hold)


@router.post("/{int:pk}/release", response=responses(HoldOut), summary="Release a legal hold")
def release(request, pk: Id, body: ReleaseIn):
    allow(holds_refusal(request.auth.owner))
    hold = get_object_or_404(LegalHold, pk=pk)
    return hold_out(act(request, do_release_legal_hold, hold, reason=body.reason))


