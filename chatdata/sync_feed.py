"""The sync feed: every SyncEvent, in order, from a cursor, so the chat service can mirror
deletions on devices and never miss or repeat one.

The protocol is `after=<last id seen>`: a page holds events with larger ids, oldest first, and its
`next` cursor is the last id in it (or `after` again when it is empty). That is only safe if an
event can never become visible with an id smaller than one a reader already went past; with a
plain sequence it could: transaction A draws id 10, transaction B draws 11 and commits, a reader
reads 11 and moves on, A commits 10 behind it. Migration 0009 closes that gap in the database: a
statement trigger on chatdata_syncevent takes the audit log's transaction advisory lock before
any id is drawn, and holds it to commit, so ids are drawn in commit order. Every writer goes
through the trigger (the engine's INSERT … SELECT, the ORM, a psql session), whoever connects.
`tests/test_api_sync.py` inserts events from concurrent transactions while a reader pages and
checks it got each exactly once.
"""

from django.db.models import F

from chatdata.models import SyncEvent

MAX_LIMIT = 1000


def event_document(event):
    return {
        "id": event.id,
        "user": event.user_id,
        "user_external_id": event.user_external_id,
        "conversation": event.conversation_pk,
        "conversation_external_id": event.conversation_external_id,
        "kind": event.kind,
        "payload": event.payload,
        "created_at": event.created_at,
    }


def read_feed(*, after=0, limit=100, user=None, conversation=None):
    """(events as dicts, next cursor). `user` and `conversation` are chatsweep ids."""
    events = SyncEvent.objects.filter(id__gt=after).order_by("id")
    if user is not None:
        events = events.filter(user_id=user)
    if conversation is not None:
        events = events.filter(conversation_pk=conversation)
    page = list(events.annotate(user_external_id=F("user__external_id"))[:limit])
    return [event_document(e) for e in page], (page[-1].id if page else after)
