"""Read helpers for the directory pages: chat users and conversations.

Conversations sort by last activity through conv_activity_idx / conv_kind_activity_idx. A
conversation without messages has no last activity (NULL); rather than a NULLS FIRST/LAST ordering
that the index cannot serve on both backends, the list runs in two phases, each an index order of
its own: conversations with activity, then those without (or the reverse when sorting by "idle"),
and the cursor says which phase it is in.
"""

from dataclasses import dataclass
from datetime import UTC

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chatdata.browse.bodies import shorten, with_short_bodies
from chatdata.browse.counts import Tally, count_of, count_or_estimate
from chatdata.browse.keyset import InvalidCursor, Page, Position, after, before, link_positions, parse_id, take
from chatdata.models import ChatUser, Conversation, Membership, Message

USERS_PAGE = 50
CONVERSATIONS_PAGE = 50
LATEST_MESSAGES = 10
# The user page counts their messages per conversation over their latest messages only: one
# index range scan on (sender, sent_at), bounded however prolific the user is.
USER_WINDOW = 10_000


# --- users --------------------------------------------------------------------------------------


def find_users(*, q: str = "", after_id: int | None = None, limit: int = USERS_PAGE) -> Page:
    """Chat users by name (then id), optionally matching `q` as an external id prefix or a part of
    the name. The cursor is the last user's id: users are never deleted (an erasure empties them)."""
    users = ChatUser.objects.all()
    if q:
        users = users.filter(Q(external_id__startswith=q) | Q(display_name__icontains=q))
    if after_id is not None:
        name = ChatUser.objects.filter(pk=after_id).values_list("display_name", flat=True).first()
        if name is None:
            raise InvalidCursor(f"no chat user {after_id}")
        users = users.filter(display_name__gte=name).filter(Q(display_name__gt=name) | Q(id__gt=after_id))
    users = users.annotate(conversation_count=count_of(Membership, "user")).order_by("display_name", "id")
    rows, more = take(users[: limit + 1], limit)
    return Page(rows, next_cursor=str(rows[-1].pk) if more else None)


@dataclass(frozen=True)
class UserActivity:
    """Where a user's latest messages went: {conversation id: (count, latest sent_at)}, counted
    over their latest `window` messages (all of them when `complete`)."""

    per_conversation: dict
    counted: int
    complete: bool
    since: object  # sent_at of the oldest message counted, or None

    def count_in(self, conversation_id):
        return self.per_conversation.get(conversation_id, (0, None))[0]

    def latest_in(self, conversation_id):
        return self.per_conversation.get(conversation_id, (0, None))[1]


def user_activity(user, *, window: int = USER_WINDOW) -> UserActivity:
    table = connection.ops.quote_name(Message._meta.db_table)
    sql = (
        "SELECT conversation_id, COUNT(*), MAX(sent_at), MIN(sent_at) FROM "
        f"(SELECT conversation_id, sent_at FROM {table} WHERE sender_id = %s ORDER BY sent_at DESC LIMIT %s) w "
        "GROUP BY conversation_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, window])
        rows = cursor.fetchall()
    per_conversation, counted, since = {}, 0, None
    for conversation_id, count, latest, oldest in rows:
        latest, oldest = _to_datetime(latest), _to_datetime(oldest)
        per_conversation[conversation_id] = (count, latest)
        counted += count
        since = oldest if since is None or oldest < since else since
    return UserActivity(per_conversation, counted, complete=counted < window, since=since)


def _to_datetime(value):
    # SQLite hands raw aggregates back as naive UTC text; PostgreSQL as aware datetimes.
    if isinstance(value, str):
        value = parse_datetime(value)
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
    return value


def sent_count(user, activity: UserActivity) -> Tally:
    """How many messages the user sent: exact when their window held them all."""
    if activity.complete:
        return Tally(activity.counted)
    return count_or_estimate(Message.objects.filter(sender=user), column="sent_at", at_least=activity.counted)


@dataclass(frozen=True)
class UserConversation:
    """One row of a user's page: the conversation, their membership (None if they left) and their
    messages there, as counted by `user_activity`."""

    conversation: Conversation
    membership: Membership | None
    their_messages: int
    their_latest: object


def user_conversations(user, activity: UserActivity, *, cursor: str = "", limit: int = CONVERSATIONS_PAGE) -> Page:
    """The user's conversations, latest activity first, keyset paged like the conversation list."""
    page = find_conversations(member=user, cursor=cursor, limit=limit)
    memberships = {m.conversation_id: m for m in Membership.objects.filter(user=user, conversation__in=page.items)}
    rows = [
        UserConversation(c, memberships.get(c.pk), activity.count_in(c.pk), activity.latest_in(c.pk)) for c in page
    ]
    return Page(rows, next_cursor=page.next_cursor)


def membership_count(user) -> int:
    return Membership.objects.filter(user=user).count()


def latest_messages(user, *, limit: int = LATEST_MESSAGES):
    rows = Message.objects.filter(sender=user).select_related("sender", "conversation").order_by("-sent_at", "-id")
    return link_positions(shorten(with_short_bodies(rows)[:limit]))


# --- conversations --------------------------------------------------------------------------------

SORTS = {
    "activity": "Latest activity first",
    "idle": "Longest idle first",
    "created": "Newest first",
}


def _activity_phases(sort):
    active = ("active", Q(last_message_at__isnull=False))
    silent = ("silent", Q(last_message_at__isnull=True))
    if sort == "activity":
        return [(*active, ("-last_message_at", "-id")), (*silent, ("-id",))]
    return [(*silent, ("id",)), (*active, ("last_message_at", "id"))]


def _decode_conversation_cursor(sort, cursor):
    """-> (phase name, Q continuing after the cursor). Cursors: "<micros>_<id>" (a conversation with
    activity), "none_<id>" (one without), "<id>" (sort=created)."""
    descending = sort == "activity"
    if sort == "created":
        return None, Q(id__lt=parse_id(cursor))
    if cursor.startswith("none_"):
        ident = parse_id(cursor[5:])
        return "silent", Q(id__lt=ident) if descending else Q(id__gt=ident)
    position = Position.decode(cursor)
    keyset = before if descending else after
    return "active", keyset(position, "last_message_at")


def _encode_conversation_cursor(sort, conversation):
    if sort == "created":
        return str(conversation.pk)
    if conversation.last_message_at is None:
        return f"none_{conversation.pk}"
    return Position.of(conversation, "last_message_at").encode()


def find_conversations(
    *,
    kind: str = "",
    q: str = "",
    sort: str = "activity",
    cursor: str = "",
    member=None,
    limit: int = CONVERSATIONS_PAGE,
) -> Page:
    """Conversations filtered by kind, `q` (external id prefix or part of the title) and member,
    sorted by `sort` (a key of SORTS), keyset paged."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    conversations = Conversation.objects.all()
    if kind:
        conversations = conversations.filter(kind=kind)
    if q:
        conversations = conversations.filter(Q(external_id__startswith=q) | Q(title__icontains=q))
    if member is not None:
        conversations = conversations.filter(memberships__user=member)
    conversations = conversations.annotate(
        member_count=count_of(Membership, "conversation"), message_count=count_of(Message, "conversation"),
    )

    start_phase, continuing = _decode_conversation_cursor(sort, cursor) if cursor else (None, Q())
    if sort == "created":
        rows = list(conversations.filter(continuing).order_by("-id")[: limit + 1])
    else:
        rows, started = [], start_phase is None
        for name, condition, ordering in _activity_phases(sort):
            if not started and name != start_phase:
                continue
            phase = conversations.filter(condition)
            if not started:
                phase, started = phase.filter(continuing), True
            rows += phase.order_by(*ordering)[: limit + 1 - len(rows)]
            if len(rows) > limit:
                break
    rows, more = take(rows, limit)
    return Page(rows, next_cursor=_encode_conversation_cursor(sort, rows[-1]) if more else None)


def recent_conversations(limit: int = 8):
    return list(Conversation.objects.filter(last_message_at__isnull=False).order_by("-last_message_at", "-id")[:limit])
