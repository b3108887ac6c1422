"""One NDJSON line → one typed record, or a LineError that says what is wrong with it.

This module only looks at a single line; whether the ids it mentions exist, and whether they
agree with the rest of the file and the database, is plan.py's business.
Unknown fields are refused rather than ignored: a misspelt optional field ("paylod") would
otherwise be dropped silently, and an import is the one moment such a mistake can be caught.
"""

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from chatdata.importer.guards import LineError, OverLongLine, decode, line_limit, string_problems
from chatdata.models import Conversation, Message

ID_MAX = 191  # ChatUser/Conversation/Message.external_id
NAME_MAX = 191  # ChatUser.display_name
TITLE_MAX = 255  # Conversation.title
EMOJI_MAX = 32  # Reaction.emoji
CONVERSATION_KINDS = tuple(Conversation.Kind.values)
MESSAGE_KINDS = tuple(Message.Kind.values)


@dataclass(frozen=True, slots=True)
class UserRecord:
    line: int
    id: str
    name: str
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    line: int
    id: str
    kind: str
    title: str
    members: tuple[str, ...]
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    line: int
    id: str
    conversation: str
    sender: str
    sent_at: datetime
    kind: str
    body: str
    payload: dict
    reactions: tuple[tuple[str, str], ...]  # (user, emoji), in file order

    def digest(self):
        """A short fingerprint of the content, to spot a message id defined twice differently."""
        content = [self.conversation, self.sender, self.sent_at.isoformat(), self.kind, self.body,
                   self.payload, sorted(self.reactions)]
        return hashlib.blake2b(json.dumps(content, sort_keys=True).encode(), digest_size=12).digest()


def describe(value):
    """The JSON name of a value's type, for messages such as "got a number"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


class _Fields:
    """Reads the fields of one JSON object, collecting every problem instead of stopping at the first."""

    def __init__(self, obj, where="", read=()):
        self.obj = obj
        self.where = where  # prefix of each problem, for nested objects
        self.problems = []
        self.read = set(read)  # fields looked at; any other is unknown

    def problem(self, text):
        self.problems.append(f"{self.where}{text}")

    def text(self, name, *, required=True, max_length=ID_MAX, blank=False):
        self.read.add(name)
        if name not in self.obj:
            if required:
                self.problem(f"missing required field {name!r}")
            return None if required else ""
        value = self.obj[name]
        if not isinstance(value, str):
            self.problem(f"{name!r} must be a string, got {describe(value)}")
        elif not blank and not value.strip():
            self.problem(f"{name!r} must not be empty")
        elif max_length and len(value) > max_length:
            self.problem(f"{name!r} is longer than {max_length} characters")
        else:
            return value
        return None

    def choice(self, name, choices):
        value = self.text(name)
        if value is not None and value not in choices:
            self.problem(f"{name!r} must be one of {', '.join(choices)}, got {value!r}")
            return None
        return value

    def time(self, name, *, required=True):
        value = self.text(name, required=required, max_length=64)
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.problem(f"{name!r} is not an ISO 8601 date and time: {value!r}")
            return None
        if moment.utcoffset() is None:
            self.problem(f"{name!r} has no timezone: {value!r} (write it like 2026-01-05T10:00:00Z or +01:00)")
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:30+01:00 is in year 0 in UTC
            self.problem(f"{name!r} is out of range once moved to UTC: {value!r}")
            return None

    def array(self, name):
        self.read.add(name)
        value = self.obj.get(name, [])
        if not isinstance(value, list):
            self.problem(f"{name!r} must be an array, got {describe(value)}")
            return []
        return value

    def finish(self, allowed):
        unknown = [key for key in self.obj if key not in self.read]
        if unknown:
            names = ", ".join(repr(key) for key in unknown)
            self.problem(f"unknown field{'s' if len(unknown) > 1 else ''} {names} (allowed: {', '.join(allowed)})")
        if self.problems:
            raise LineError("; ".join(self.problems))


def _user(line, fields):
    record = UserRecord(line, fields.text("id"), fields.text("name", max_length=NAME_MAX), fields.time("created_at", required=False))
    fields.finish(["type", "id", "name", "created_at"])
    return record


def _conversation(line, fields):
    ident, kind = fields.text("id"), fields.choice("kind", CONVERSATION_KINDS)
    title = fields.text("title", required=False, max_length=TITLE_MAX, blank=True)
    created_at = fields.time("created_at", required=False)
    if "members" not in fields.obj:
        fields.problem("missing required field 'members' (an array of user ids)")
    members = fields.array("members")
    for index, member in enumerate(members):
        if not isinstance(member, str) or not member.strip() or len(member) > ID_MAX:
            fields.problem(f"members[{index}] must be a user id (a non-empty string), got {describe(member)}")
    twice = sorted(m for m, n in Counter(m for m in members if isinstance(m, str)).items() if n > 1)
    if twice:
        fields.problem(f"members lists {', '.join(map(repr, twice))} more than once")
    # One member: one side of a peer conversation, as a data subject's export lists it.
    if kind == "peer" and len(set(map(str, members))) not in (1, 2):
        fields.problem(f"a peer conversation has 2 members (or 1: one person's side), this one lists {len(members)}")
    fields.finish(["type", "id", "kind", "title", "members", "created_at"])
    # Sorted: the order of a member list means nothing, and two lines listing the same people agree.
    return ConversationRecord(line, ident, kind, title, tuple(sorted(members)), created_at)


def _message(line, fields):
    ident, conversation, sender = fields.text("id"), fields.text("conversation"), fields.text("sender")
    sent_at, kind = fields.time("sent_at"), fields.choice("kind", MESSAGE_KINDS)
    body = fields.text("body", required=False, max_length=None, blank=True)
    size, most = len((body or "").encode()), settings.IMPORT_MAX_BODY_BYTES
    if size > most:
        fields.problem(f"'body' is {size:,} bytes long; an import accepts at most {most:,} (IMPORT_MAX_BODY_BYTES)")
    fields.read.add("payload")
    payload = fields.obj.get("payload", {})
    if not isinstance(payload, dict):
        fields.problem(f"'payload' must be an object, got {describe(payload)}")
    reactions = []
    for index, item in enumerate(fields.array("reactions")):
        if not isinstance(item, dict):
            fields.problem(f"reactions[{index}] must be an object like {{\"user\": \"u2\", \"emoji\": \"👍\"}}, got {describe(item)}")
            continue
        reaction = _Fields(item, where=f"reactions[{index}]: ")
        user, emoji = reaction.text("user"), reaction.text("emoji", max_length=EMOJI_MAX)
        try:
            reaction.finish(["user", "emoji"])
        except LineError as exc:
            fields.problems.append(str(exc))
            continue
        if (user, emoji) in reactions:
            fields.problem(f"reactions[{index}] repeats the {emoji} reaction of {user!r}")
        reactions.append((user, emoji))
    fields.finish(["type", "id", "conversation", "sender", "sent_at", "kind", "body", "payload", "reactions"])
    return MessageRecord(line, ident, conversation, sender, sent_at, kind, body, payload, tuple(reactions))


PARSERS = {"user": _user, "conversation": _conversation, "message": _message}


def parse_line(line, raw):
    """The record on this line (bytes as read by guards.read_lines), None for a blank line, else LineError."""
    if isinstance(raw, OverLongLine):
        raise LineError(f"the line is longer than {line_limit():,} bytes ({raw.size:,}): 6 times IMPORT_MAX_BODY_BYTES, plus 1 MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(f"not UTF-8 text (bad byte at column {exc.start + 1})") from None
    if line == 1:
        text = text.removeprefix("\ufeff")
    if not text.strip():
        return None
    obj = decode(text)
    if not isinstance(obj, dict):
        raise LineError(f"expected a JSON object, got {describe(obj)}")
    if "type" not in obj:
        raise LineError("missing required field 'type' (user, conversation or message)")
    kind = obj["type"]
    parser = PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise LineError(f"unknown type {kind!r}: expected user, conversation or message")
    try:
        problems = string_problems(obj)
        if problems:
            raise LineError("; ".join(problems))
        return parser(line, _Fields(obj, read=["type"]))
    except LineError as exc:
        if isinstance(obj.get("id"), str):
            exc.defines = (kind, obj["id"])
        raise
