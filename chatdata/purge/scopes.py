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
- `matching` {text?, senders?, conversation?, start?, end?}: what a message search finds ("select
  all N matching" on the search page): the words matched as chatdata.browse.search matches them,
  by any of the senders, in the conversation, `start <= sent_at < end`. It needs words, a sender
  or a conversation (like the search): it never means "every message".

`range` and `conversations` take an optional `senders` list: only what those chat users sent in
the range (or in each conversation) is in scope. It is left out of the JSON when empty.

Effects, and which scopes take them:
- `hide_for_user` + member: messages, range, conversation, conversations. Id lists and ranges with a
  start write MessageHide rows; the whole history and an open-start range move the member's
  `Membership.cleared_before` forward (never back): to the range's end, or one microsecond past
  the last message at or below the high-water mark. That move is by time, like the clients'
  own "clear history": a message stored later with an older `sent_at` is hidden too.
- `delete_for_everyone`: every scope; the only effect a `user` scope takes.
- `delete_conversation`: conversation, conversations. With a member, the conversation is hidden
  from that member's list (`clear_history` also clears their history); without one it is removed
  for everyone with its memberships and messages. Not with senders (it takes whole conversations).
- `delete_attachments` ("only attachments", Rocket.Chat's "files only" prune): range, conversation,
  conversations, matching. The attachment rows and their files go, for everyone; the messages
  stay. Its scope is the messages in scope that have an attachment (what `messages` counts).
- A `matching` scope takes delete_for_everyone or delete_attachments: its messages come from many
  conversations, so a one-member effect or removing conversations does not apply.
With senders, hide_for_user (on a range only) writes MessageHide rows: a member's cleared_before
would hide everyone's messages.

Structural problems raise `PurgeInvalid` here, with no database access (each field is read by
`chatdata.purge.inputs`); problems that need the database (unknown ids, rooms, membership) are
checked by `chatdata.purge.validation`.
"""

from dataclasses import MISSING, dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import ClassVar

# PurgeInvalid lived here and is still imported from here (the API, the pages, the commands).
from chatdata.purge.inputs import (
    PurgeInvalid,
    check_bounds,
    finds_a_word,
    parse_match_text,
    parse_moment,
    parse_pk,
    parse_pks,
    parse_senders,
)

MESSAGES = "messages"
RANGE = "range"
CONVERSATION = "conversation"
CONVERSATIONS = "conversations"
USER = "user"
MATCHING = "matching"
SCOPE_KINDS = (MESSAGES, RANGE, CONVERSATION, CONVERSATIONS, USER, MATCHING)

HIDE_FOR_USER = "hide_for_user"
DELETE_FOR_EVERYONE = "delete_for_everyone"
DELETE_CONVERSATION = "delete_conversation"
DELETE_ATTACHMENTS = "delete_attachments"
EFFECTS = (HIDE_FOR_USER, DELETE_FOR_EVERYONE, DELETE_CONVERSATION, DELETE_ATTACHMENTS)

EFFECTS_BY_SCOPE = {
    MESSAGES: (HIDE_FOR_USER, DELETE_FOR_EVERYONE),
    RANGE: (HIDE_FOR_USER, DELETE_FOR_EVERYONE, DELETE_ATTACHMENTS),
    CONVERSATION: EFFECTS,
    CONVERSATIONS: EFFECTS,
    USER: (DELETE_FOR_EVERYONE,),
    MATCHING: (DELETE_FOR_EVERYONE, DELETE_ATTACHMENTS),
}


def _with_senders(data, senders):
    if senders:
        data["senders"] = list(senders)
    return data


def _iso(moment):
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True)
class MessagesScope:
    ids: tuple
    conversation: int | None = None
    kind: ClassVar[str] = MESSAGES

    def __post_init__(self):
        object.__setattr__(self, "ids", parse_pks(self.ids, "ids"))
        if not self.ids:
            raise PurgeInvalid("The scope is empty: choose at least one message.", "ids")
        if self.conversation is not None:
            object.__setattr__(self, "conversation", parse_pk(self.conversation, "conversation"))

    def to_dict(self):
        return {"kind": self.kind, "ids": list(self.ids), "conversation": self.conversation}


@dataclass(frozen=True)
class RangeScope:
    conversation: int
    start: datetime | None = None
    end: datetime | None = None
    senders: tuple = ()
    kind: ClassVar[str] = RANGE

    def __post_init__(self):
        object.__setattr__(self, "conversation", parse_pk(self.conversation, "conversation"))
        object.__setattr__(self, "start", parse_moment(self.start, "start"))
        object.__setattr__(self, "end", parse_moment(self.end, "end"))
        object.__setattr__(self, "senders", parse_senders(self.senders))
        if self.start is None and self.end is None:
            raise PurgeInvalid(
                "The range is empty: give a start, an end or both (for the whole history use the conversation scope).",
                "start",
            )
        check_bounds(self.start, self.end)

    def to_dict(self):
        data = {"kind": self.kind, "conversation": self.conversation, "start": _iso(self.start), "end": _iso(self.end)}
        return _with_senders(data, self.senders)


@dataclass(frozen=True)
class ConversationScope:
    conversation: int
    kind: ClassVar[str] = CONVERSATION

    def __post_init__(self):
        object.__setattr__(self, "conversation", parse_pk(self.conversation, "conversation"))

    def to_dict(self):
        return {"kind": self.kind, "conversation": self.conversation}


@dataclass(frozen=True)
class ConversationsScope:
    conversations: tuple
    senders: tuple = ()
    kind: ClassVar[str] = CONVERSATIONS

    def __post_init__(self):
        object.__setattr__(self, "conversations", parse_pks(self.conversations, "conversations"))
        if not self.conversations:
            raise PurgeInvalid("The scope is empty: choose at least one conversation.", "conversations")
        object.__setattr__(self, "senders", parse_senders(self.senders))

    def to_dict(self):
        return _with_senders({"kind": self.kind, "conversations": list(self.conversations)}, self.senders)


@dataclass(frozen=True)
class UserScope:
    user: int
    start: datetime | None = None
    end: datetime | None = None
    conversations: tuple = ()
    kind: ClassVar[str] = USER

    def __post_init__(self):
        object.__setattr__(self, "user", parse_pk(self.user, "user"))
        object.__setattr__(self, "start", parse_moment(self.start, "start"))
        object.__setattr__(self, "end", parse_moment(self.end, "end"))
        object.__setattr__(self, "conversations", parse_pks(self.conversations or (), "conversations"))
        check_bounds(self.start, self.end)

    def to_dict(self):
        return {
            "kind": self.kind,
            "user": self.user,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "conversations": list(self.conversations),
        }


@dataclass(frozen=True)
class MatchingScope:
    """What a search finds: its words, senders, conversation and time window (module docstring)."""

    text: str = ""
    senders: tuple = ()
    conversation: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    kind: ClassVar[str] = MATCHING

    def __post_init__(self):
        object.__setattr__(self, "text", parse_match_text(self.text))
        object.__setattr__(self, "senders", parse_senders(self.senders))
        if self.conversation is not None:
            object.__setattr__(self, "conversation", parse_pk(self.conversation, "conversation"))
        object.__setattr__(self, "start", parse_moment(self.start, "start"))
        object.__setattr__(self, "end", parse_moment(self.end, "end"))
        check_bounds(self.start, self.end)
        if not (self.text or self.senders or self.conversation is not None):
            raise PurgeInvalid(
                "A matching scope needs words, a sender or a conversation, as a search does: it never means every message.",
                "text",
            )
        if self.text and not self.narrowed and not finds_a_word(self.text):
            raise PurgeInvalid(
                "Words that only exclude (-word) match nearly every message: add a word to find, a sender or a conversation.",
                "text",
            )

    @property
    def narrowed(self):
        """As chatdata.browse.search.MessageQuery.narrowed: some CJK words match differently."""
        return bool(self.senders) or self.conversation is not None

    def to_dict(self):
        return {
            "kind": self.kind,
            "text": self.text,
            "senders": list(self.senders),
            "conversation": self.conversation,
            "start": _iso(self.start),
            "end": _iso(self.end),
        }


SCOPE_CLASSES = {
    cls.kind: cls for cls in (MessagesScope, RangeScope, ConversationScope, ConversationsScope, UserScope, MatchingScope)
}

# How the effect is carried out; decides batching, counts and sync events.
MODE_DELETE = "delete"  # rows removed in batches
MODE_HIDE_ROWS = "hide_rows"  # MessageHide rows written in batches
MODE_CLEAR = "clear"  # one Membership row per conversation changes
MODE_ATTACHMENTS = "attachments"  # attachment rows (and files) removed in batches; messages stay


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
            object.__setattr__(self, "member", parse_pk(self.member, "member"))
        if self.effect == HIDE_FOR_USER and self.member is None:
            raise PurgeInvalid("hide_for_user needs a member: the one who will no longer see the messages.", "member")
        if self.effect in (DELETE_FOR_EVERYONE, DELETE_ATTACHMENTS) and self.member is not None:
            raise PurgeInvalid(f"{self.effect} affects every member; it takes no member.", "member")
        if self.senders and self.effect == DELETE_CONVERSATION:
            raise PurgeInvalid(
                "Senders narrow which messages go, but delete_conversation takes whole conversations: "
                "delete their messages for everyone (or only the attachments) instead.",
                "senders",
            )
        if self.senders and self.one_member and self.kind != RANGE:
            raise PurgeInvalid(
                "Hiding for one member can be narrowed to some senders in a time range of one conversation only.",
                "senders",
            )
        if not isinstance(self.clear_history, bool):
            raise PurgeInvalid("clear_history must be true or false.", "clear_history")
        if self.clear_history and not (self.effect == DELETE_CONVERSATION and self.member is not None):
            raise PurgeInvalid("clear_history only applies to delete_conversation for one member.", "clear_history")

    @property
    def kind(self):
        return self.scope.kind

    @property
    def senders(self):
        """The chat users a scope is narrowed to (what they sent), () for everyone."""
        return getattr(self.scope, "senders", ())

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
        if self.effect == DELETE_ATTACHMENTS:
            return MODE_ATTACHMENTS
        if self.destroys:
            return MODE_DELETE
        if self.effect == HIDE_FOR_USER and (
            self.kind == MESSAGES or (self.kind == RANGE and self.scope.start is not None) or self.senders
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
