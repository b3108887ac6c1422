"""Read endpoints: chat users, conversations, a conversation's messages; every list by keyset
(never OFFSET), so a page deep in a million rows costs what the first does. Any role may read,
as on the web."""

from datetime import datetime
from typing import Any, Literal

from django.db.models import Q
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from chatdata.models import ChatUser, Conversation, Message
from chatdata.parsing import InvalidNumber, parse_id
from chatdata.permissions import can_view_purges
from dashboard.api.common import Id, Invalid, allow, page_limit, responses

router = Router(tags=["chat data"])


class UserOut(Schema):
    id: int
    external_id: str
    display_name: str
    created_at: datetime
    erased_at: datetime | None


class UserPage(Schema):
    results: list[UserOut]
    next: int | None


class ConversationOut(Schema):
    id: int
    external_id: str
    kind: str
    title: str
    created_at: datetime
    last_message_at: datetime | None


class ConversationPage(Schema):
    results: list[ConversationOut]
    next: int | None


class MessageOut(Schema):
    id: int
    external_id: str
    conversation: int
    sender: int
    sender_external_id: str
    sent_at: datetime
    kind: str
    body: str
    payload: Any


class MessagePage(Schema):
    results: list[MessageOut]
    next: str | None


def _reader(request):
    allow(None if can_view_purges(request.auth.owner) else "Your account has no chatsweep role.")


def _user(u):
    return {"id": u.pk, "external_id": u.external_id, "display_name": u.display_name, "created_at": u.created_at, "erased_at": u.erased_at}


def _conversation(c):
    return {"id": c.pk, "external_id": c.external_id, "kind": c.kind, "title": c.title, "created_at": c.created_at,
            "last_message_at": c.last_message_at}


@router.get("users", response=responses(UserPage), summary="Chat users by id; q matches the external id or name")
def users(request, q: str = "", after: Id | None = None, limit: int | None = None):
    _reader(request)
    limit = page_limit(limit)
    rows = ChatUser.objects.order_by("id")
    if q.strip():
        rows = rows.filter(Q(external_id=q.strip()) | Q(display_name__icontains=q.strip()))
    if after is not None:
        rows = rows.filter(id__gt=after)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"results": [_user(u) for u in page], "next": page[-1].pk if more else None}


@router.get("users/{int:pk}", response=responses(UserOut), summary="One chat user")
def user(request, pk: Id):
    _reader(request)
    return _user(get_object_or_404(ChatUser, pk=pk))


@router.get("conversations", response=responses(ConversationPage), summary="Conversations by id")
def conversations(
    request, q: str = "", kind: Literal[tuple(Conversation.Kind.values)] | None = None,
    after: Id | None = None, limit: int | None = None,
):
    _reader(request)
    limit = page_limit(limit)
    rows = Conversation.objects.order_by("id")
    if q.strip():
        rows = rows.filter(Q(external_id=q.strip()) | Q(title__icontains=q.strip()))
    if kind:
        rows = rows.filter(kind=kind)
    if after is not None:
        rows = rows.filter(id__gt=after)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"results": [_conversation(c) for c in page], "next": page[-1].pk if more else None}


@router.get("conversations/{int:pk}", response=responses(ConversationOut), summary="One conversation")
def conversation(request, pk: Id):
    _reader(request)
    return _conversation(get_object_or_404(Conversation, pk=pk))


def _position(cursor):
    """'<sent_at ISO 8601>~<id>' → (datetime, id)."""
    moment, _, pk = cursor.rpartition("~")
    try:
        when = datetime.fromisoformat(moment)
        if when.tzinfo is None:
            raise ValueError
        return when, parse_id(pk, "before")
    except (ValueError, InvalidNumber):
        raise Invalid("This page cursor is not one the API gave out; start from the first page.", "before") from None


@router.get("conversations/{int:pk}/messages", response=responses(MessagePage),
            summary="A conversation's messages, newest first, by keyset on (sent_at, id)")
def messages(request, pk: Id, before: str | None = None, limit: int | None = None):
    _reader(request)
    limit = page_limit(limit, default=100, maximum=1000)
    chat = get_object_or_404(Conversation, pk=pk)
    rows = Message.objects.filter(conversation=chat).select_related("sender").order_by("-sent_at", "-id")
    if before:
        when, last = _position(before)
        rows = rows.filter(Q(sent_at__lt=when) | Q(sent_at=when, id__lt=last))
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "results": [
            {"id": m.pk, "external_id": m.external_id, "conversation": m.conversation_id, "sender": m.sender_id,
             "sender_external_id": m.sender.external_id, "sent_at": m.sent_at, "kind": m.kind, "body": m.body,
             "payload": m.payload}
            for m in page
        ],
        "next": f"{page[-1].sent_at.isoformat()}~{page[-1].pk}" if more else None,
    }
