"""Keyset ("seek") paging for every list in the dashboard.

OFFSET paging reads and throws away every skipped row, so page 20,000 of a million-message
timeline costs 20,000 times page one. A keyset cursor names the last row shown, by its sort key,
and the next page seeks straight to it through the index: every page costs the same, and rows
inserted or purged between two clicks cause neither overlaps nor gaps.

Cursors are self-contained (the sort key itself, not an id to look up), so a cursor stays valid
after its row has been purged. A position in a (sent_at, id) ordering is written as
"<microseconds since the epoch>_<id>": URL-safe and free of time zone ambiguity.

The comparison is written as `sent_at <= t AND (sent_at < t OR id < i)` rather than an OR alone:
the first term is a range condition the (…, sent_at, id) indexes can seek on, the second only
filters the few rows that share the timestamp. (A bare OR makes PostgreSQL scan from the newest
row down to the cursor.)
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Q

from chatdata.parsing import MAX_ID, InvalidNumber, parse_count

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidCursor(ValueError):
    """A cursor from a URL that cannot be parsed (hand-edited or truncated)."""


def parse_id(text: str) -> int:
    """A row id from a cursor: a whole number in ASCII digits that fits a bigint."""
    try:
        return parse_count(text, "page position", maximum=MAX_ID)
    except InvalidNumber:
        raise InvalidCursor(f"{str(text)[:40]!r} is not a page position") from None


@dataclass(frozen=True)
class Position:
    """A row's place in a (timestamp, id) ordering."""

    at: datetime
    id: int

    def encode(self) -> str:
        delta = self.at - EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}_{self.id}"

    @classmethod
    def decode(cls, text: str) -> "Position":
        micros, sep, ident = (text or "").strip().partition("_")
        try:
            if not sep:
                raise ValueError
            # Before the epoch the microseconds are negative; int() alone would also read '٣'.
            sign = -1 if micros.startswith("-") else 1
            at = EPOCH + timedelta(microseconds=sign * parse_count(micros.removeprefix("-"), "at"))
        except (InvalidNumber, ValueError, OverflowError):
            raise InvalidCursor(f"{text!r} is not a page position") from None
        return cls(at, parse_id(ident))

    @classmethod
    def of(cls, row, field_name: str = "sent_at") -> "Position":
        return cls(getattr(row, field_name), row.pk)


def before(position: Position, field_name: str = "sent_at") -> Q:
    """Rows strictly older than `position` in a (field, id) ordering."""
    at = position.at
    return Q(**{f"{field_name}__lte": at}) & (Q(**{f"{field_name}__lt": at}) | Q(id__lt=position.id))


def after(position: Position, field_name: str = "sent_at") -> Q:
    """Rows strictly newer than `position` in a (field, id) ordering."""
    at = position.at
    return Q(**{f"{field_name}__gte": at}) & (Q(**{f"{field_name}__gt": at}) | Q(id__gt=position.id))


def position_of(message) -> Position:
    """A position whose "older" page starts with `message` itself (for links into a timeline)."""
    return Position(message.sent_at, message.pk + 1)


def link_positions(messages):
    """Give each message `context_cursor`, the timeline position that opens its conversation at it."""
    messages = list(messages)
    for message in messages:
        message.context_cursor = position_of(message).encode()
    return messages


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paged list. `next_cursor` continues the list (None on the last page);
    `prev_cursor` goes back towards the start where a list supports it."""

    items: list = field(default_factory=list)
    next_cursor: str | None = None
    prev_cursor: str | None = None

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)

    def __bool__(self):
        return bool(self.items)


def take(rows, limit: int):
    """Split a fetch of limit+1 rows into (the page, whether more rows exist)."""
    rows = list(rows)
    return rows[:limit], len(rows) > limit
