"""Scope × effect: what a purge touches and what happens to it (DESIGN.md §2), as frozen values.

A `PurgeSpec` is the single source of truth of a deletion: the preview counts it, the run executes
it, the audit log records it and the sync events describe it. It holds primary keys (a web form
posts them); `chatdata.purge.validation.spec_from_external` builds one from the chat service's
external ids. `spec.to_dict()` / `spec_from_dict(d)` give its canonical JSON form:

    {"scope": {"kind": "range", "conversation": 12,
               "start": "2026-01-01T00:00:00+00:00", "end": null},
     "effect": "hide_for_user", "member": 7, "clear_history": false}

Scopes (`kind`):
- `messages` {ids, conversation?}: explicit message ids; with `conversation`, every id must be in it.
- `range` {conversation, start?, end?}: `start <= sent_at < end`, at least one bound, aware datetimes.
- `conversation` {conversation}: the whole history of one conversation.
- `conversations` {conversations}: several conversations, each handled on its own (a PurgeItem each).
- `user` {user, start?, end?, conversations?}: what one end user sent (an erasure), optionally
  narrowed by time and conversations.

Effects, and which scopes take them:
- `hide_for_user` + member: messages, range, conversation, conversations. Id lists and ranges with a
  start write MessageHide rows; the whole history and an open-start range move the member's
  `Membership.cleared_before` forward (never back): to the range's end, or one microsecond past
  the last message at or below the high-water mark. That move is by time, like the clients'
  own "clear history": a message stored later with an older `sent_at` is hidden too.
- `delete_for_everyone`: every scope; the only effect a `user` scope takes.
- `delete_conversation`: conversation, conversations. With a member, the conversation is hidden
  from that member's list (`clear_history` also clears their history); without one it is removed
  for everyone with its memberships and messages.

Structural problems raise `PurgeInvalid` here, with no database access; problems that need the
database (unknown ids, rooms, membership) are checked by `chatdata.purge.validation`.
"""

from dataclasses import MISSING, dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import ClassVar

from django.conf import settings

from chatdata.parsing import InvalidNumber, parse_id

MESSAGES = "messages"
RANGE = "range"
CONVERSATION = "conversation"
CONVERSATIONS = "conversations"
USER = "user"
SCOPE_KINDS = (MESSAGES, RANGE, CONVERSATION, CONVERSATIONS, USER)

HIDE_FOR_USER = "hide_for_user"
DELETE_FOR_EVERYONE = "delete_for_everyone"
DELETE_CONVERSATION = "delete_conversation"
EFFECTS = (HIDE_FOR_USER, DELETE_FOR_EVERYONE, DELETE_CONVERSATION)

EFFECTS_BY_SCOPE = {
    MESSAGES: (HIDE_FOR_USER, DELETE_FOR_EVERYONE),
    RANGE: (HIDE_FOR_USER, DELETE_FOR_EVERYONE),
    CONVERSATION: EFFECTS,
    CONVERSATIONS: EFFECTS,
    USER: (DELETE_FOR_EVERYONE,),
}


class PurgeInvalid(Exception):
    """A scope or effect that cannot be run; `message` says why, `field` names the culprit."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


def _pk(value, field):
    try:
        return parse_id(value, field)
    except InvalidNumber as exc:
        raise PurgeInvalid(exc.message, field) from None


def _pks(values, field):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise PurgeInvalid(f"{field} must be a list of ids.", field)
    unique = []
    seen = set()
    for value in values:
        pk = _pk(value, field)
        if pk not in seen:
            seen.add(pk)
            unique.append(pk)
    check_id_count(len(unique), field)
    return tuple(unique)


def check_id_count(count, field):
    """settings.PURGE_MAX_IDS: how many ids one scope (or one request's list of external ids) takes."""
    limit = settings.PURGE_MAX_IDS
    if count > limit:
        raise PurgeInvalid(f"At most {limit} {field} can be given in one request; got {count}.", field)


def parse_moment(value, field):
    """An aware datetime in UTC from a datetime or an ISO 8601 string; naive ones are refused."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise PurgeInvalid(f"{field} {value!r} is not an ISO 8601 date and time.", field) from None
    if not isinstance(value, datetime):
        raise PurgeInvalid(f"{field} must be a date and time, not {value!r}.", field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise PurgeInvalid(
            f"{field} {value.isoformat()} has no timezone; give one, e.g. {value.isoformat()}Z or +02:00.", field
        )
    return value.astimezone(UTC)


def check_bounds(start, end):
    """A time window's one rule, for scopes and legal holds alike: the end comes after the start."""
    if start is not None and end is not None and end <= start:
        raise PurgeInvalid("The end must be after the start.", "end")


def _iso(moment):
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True)
class MessagesScope:
    ids: tuple
    conversation: int | None = None
    kind: ClassVar[str] = MESSAGES

    def __post_init__(self):
        object.__setattr__(self, "ids", _pks(self.ids, "ids"))
        if not self.ids:
            raise PurgeInvalid("The scope is empty: choose at least one message.", "ids")
        if self.conversation is not None:
            object.__setattr__(self, "conversation", _pk(self.conversation, "conversation"))

    def to_dict(self):
        return {"kind": self.kind, "ids": list(self.ids), "conversation": self.conversation}


@dataclass(frozen=True)
class RangeScope:
    conversation: int
    start: datetime | None = None
    end: datetime | None = None
    kind: ClassVar[str] = RANGE

    def __post_init__(self):
        object.__setattr__(self, "conversation", _pk(self.conversation, "conversation"))
        object.__setattr__(self, "start", parse_moment(self.start, "start"))
        object.__setattr__(self, "end", parse_moment(self.end, "end"))
        if self.start is None and self.end is None:
            raise PurgeInvalid(
                "The range is empty: give a start, an end or both (for the whole history use the conversation scope).",
                "start",
            )
        check_bounds(self.start, self.end)

    def to_dict(self):
        return {"kind": self.kind, "conversation": self.conversation, "start": _iso(self.start), "end": _iso(self.end)}


@dataclass(frozen=True)
class ConversationScope:
    conversation: int
    kind: ClassVar[str] = CONVERSATION

    def __post_init__(self):
        object.__setattr__(self, "conversation", _pk(self.conversation, "conversation"))

    def to_dict(self):
        return {"kind": self.kind, "conversation": self.conversation}


@dataclass(frozen=True)
class ConversationsScope:
    conversations: tuple
    kind: ClassVar[str] = CONVERSATIONS

    def __post_init__(self):
        object.__setattr__(self, "conversations", _pks(self.conversations, "conversations"))
        if not self.conversations:
            raise PurgeInvalid("The scope is empty: choose at least one conversation.", "conversations")

    def to_dict(self):
        return {"kind": self.kind, "conversations": list(self.conversations)}


@dataclass(frozen=True)
class UserScope:
    user: int
    start: datetime | None = None
    end: datetime | None = None
    conversations: tuple = ()
    kind: ClassVar[str] = USER

    def __post_init__(self):
        object.__setattr__(self, "user", _pk(self.user, "user"))
        object.__setattr__(self, "start", parse_moment(self.start, "start"))
        object.__setattr__(self, "end", parse_moment(self.end, "end"))
        object.__setattr__(self, "conversations", _pks(self.conversations or (), "conversations"))
        check_bounds(self.start, self.end)

    def to_dict(self):
        return {
            "kind": self.kind,
            "user": self.user,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "conversations": list(self.conversations),
        }


SCOPE_CLASSES = {cls.kind: cls for cls in (MessagesScope, RangeScope, ConversationScope, ConversationsScope, UserScope)}

# How the effect is carried out; decides batching, counts and sync events.
MODE_DELETE = "delete"  # rows removed in batches
MODE_HIDE_ROWS = "hide_rows"  # MessageHide rows written in batches
MODE_CLEAR = "clear"  # one Membership row per conversation changes


@dataclass(frozen=True)
class PurgeSpec:
    scope: object
    effect: str
    member: int | None = None
    clear_history: bool = False

    def __post_init__(self):
        if type(self.scope) not in SCOPE_CLASSES.values():
            raise PurgeInvalid(f"Unknown scope {self.scope!r}.", "scope")
        if self.effect not in EFFECTS:
            raise PurgeInvalid(f"Unknown effect {self.effect!r}; expected one of {', '.join(EFFECTS)}.", "effect")
        kind = self.scope.kind
        if self.effect not in EFFECTS_BY_SCOPE[kind]:
            allowed = " or ".join(EFFECTS_BY_SCOPE[kind])
            raise PurgeInvalid(f"A {kind} scope cannot take the effect {self.effect}; it takes {allowed}.", "effect")
        if self.member is not None:
            object.__setattr__(self, "member", _pk(self.member, "member"))
        if self.effect == HIDE_FOR_USER and self.member is None:
            raise PurgeInvalid("hide_for_user needs a member: the one who will no longer see the messages.", "member")
        if self.effect == DELETE_FOR_EVERYONE and self.member is not None:
            raise PurgeInvalid("delete_for_everyone affects every member; it takes no member.", "member")
        if not isinstance(self.clear_history, bool):
            raise PurgeInvalid("clear_history must be true or false.", "clear_history")
        if self.clear_history and not (self.effect == DELETE_CONVERSATION and self.member is not None):
            raise PurgeInvalid("clear_history only applies to delete_conversation for one member.", "clear_history")

    @property
    def kind(self):
        return self.scope.kind

    @property
    def one_member(self):
        """True for the one-way effects: only `member`'s view changes, nothing is removed."""
        return self.member is not None

    @property
    def destroys(self):
        """True when rows leave the server's store (what legal holds guard against)."""
        return not self.one_member

    @property
    def mode(self):
        if self.destroys:
            return MODE_DELETE
        if self.effect == HIDE_FOR_USER and (
            self.kind == MESSAGES or (self.kind == RANGE and self.scope.start is not None)
        ):
            return MODE_HIDE_ROWS
        return MODE_CLEAR

    @property
    def removes_conversations(self):
        return self.effect == DELETE_CONVERSATION and self.member is None

    @property
    def is_erasure(self):
        return self.kind == USER and self.effect == DELETE_FOR_EVERYONE

    def to_dict(self):
        return {
            "scope": self.scope.to_dict(),
            "effect": self.effect,
            "member": self.member,
            "clear_history": self.clear_history,
        }


def spec_from_dict(data):
    """The PurgeSpec for a canonical dict (see the module docstring); PurgeInvalid if malformed."""
    if not isinstance(data, dict):
        raise PurgeInvalid("A purge spec must be a JSON object.")
    scope = data.get("scope")
    if not isinstance(scope, dict):
        raise PurgeInvalid("The spec needs a scope object with a kind.", "scope")
    kind = scope.get("kind")
    cls = SCOPE_CLASSES.get(kind)
    if cls is None:
        raise PurgeInvalid(f"Unknown scope {kind!r}; expected one of {', '.join(SCOPE_KINDS)}.", "scope")
    given = {name: value for name, value in scope.items() if name != "kind"}
    known = {f.name for f in dataclass_fields(cls)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise PurgeInvalid(f"A {kind} scope has no field {', '.join(unknown)}.", unknown[0])
    for f in dataclass_fields(cls):
        if f.default is MISSING and given.get(f.name) is None:
            raise PurgeInvalid(f"A {kind} scope needs {f.name}.", f.name)
    scope_value = cls(**given)
    return PurgeSpec(
        scope=scope_value,
        effect=data.get("effect"),
        member=data.get("member"),
        clear_history=data.get("clear_history") or False,
    )
