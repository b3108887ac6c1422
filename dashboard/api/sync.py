"""GET /api/v1/sync-events: the feed of chatdata.sync_feed for the chat service."""

from datetime import datetime
from typing import Any

from ninja import Router, Schema

from chatdata.permissions import can_view_purges
from chatdata.sync_feed import MAX_LIMIT, read_feed
from dashboard.api.common import Id, Invalid, allow, page_limit, responses

router = Router(tags=["sync feed"])


class EventOut(Schema):
    id: int
    user: int | None
    user_external_id: str | None
    conversation: int
    conversation_external_id: str
    kind: str
    payload: Any
    created_at: datetime


class FeedPage(Schema):
    results: list[EventOut]
    next: int


@router.get("", response=responses(FeedPage), summary="Sync events after a cursor, oldest first; resume from `next`")
def sync_events(request, after: Id = 0, limit: int | None = None, user: Id | None = None, conversation: Id | None = None):
    allow(None if can_view_purges(request.auth.owner) else "Your account has no chatsweep role.")
    if after < 0:
        raise Invalid("after must be 0 or an event id.", "after")
    events, cursor = read_feed(after=after, limit=page_limit(limit, default=100, maximum=MAX_LIMIT), user=user, conversation=conversation)
    return {"results": events, "next": cursor}
