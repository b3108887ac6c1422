"""Pass one of an import: read every line, check it against the rest of the file and against the
database, and work out exactly what pass two will write. Nothing is written here.

Memory stays proportional to users, conversations and distinct (conversation, user) pairs, plus
a small fingerprint per message id (to spot an id defined twice): messages themselves are held
only CHUNK at a time, which is also the size of each look-up of existing messages.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from chatdata.erasure.screen import ImportScreen
from chatdata.importer.guards import fulltext_problem, read_lines
from chatdata.importer.records import LineError, MessageRecord, UserRecord, parse_line
from chatdata.models import ChatUser, Conversation, Membership, Message, Reaction

CHUNK = 2_000
MESSAGE_FIELDS = ("conversation", "sender", "sent_at", "kind", "body", "payload")
TABLES = ("users", "conversations", "memberships", "messages", "reactions")


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class StoredUser:
    pk: int
    name: str
    erased_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredConversation:
    pk: int
    kind: str
    title: str
    created_at: datetime
    last_message_at: datetime | None


class Plan:
    def __init__(self):
        self.now = timezone.now()
        self.errors = set()  # (line or None, text); a set because one bad reference can be met twice on a line
        self.records = 0
        self.users = {}  # external id -> UserRecord, first definition
        self.conversations = {}  # external id -> ConversationRecord, first definition
        self.repeated_lines = set()  # lines that repeat an earlier identical definition: pass two skips them
        self.broken = {}  # (type, id) -> first invalid line that tried to define it
        self.tallies = {table: Tally() for table in TABLES}
        self.db_users = {}  # external id -> StoredUser, for every user id the file mentions
        self.db_conversations = {}  # external id -> StoredConversation, likewise
        self.db_members = set()  # (conversation, user) external ids already in the database
        self.members = defaultdict(set)  # conversation -> users: file and database together
        self.first_sent = {}  # conversation -> earliest sent_at in the file
        self.user_first_sent = {}  # user -> earliest sent_at of a message they sent, in the file
        self.new_last_sent = {}  # conversation -> latest sent_at of the messages pass two will create
        self.digest = None  # sha256 of the whole file: pass two refuses a file that changed in between
        self.size = 0  # bytes read

    @property
    def ok(self):
        return not self.errors

    def error(self, line, text):
        self.errors.add((line, text))

    def created_at(self, record):
        """Deterministic: the line's created_at, else its first message in the file, else now."""
        firsts = self.user_first_sent if isinstance(record, UserRecord) else self.first_sent
        return record.created_at or firsts.get(record.id) or self.now

    def undefined(self, kind, ident):
        """Why an id that is neither in the file (validly) nor in the database cannot be used."""
        line = self.broken.get((kind, ident))
        if line:
            return f"is defined only on line {line}, which is invalid"
        return "is not defined in the file nor in the database"

    def sorted_errors(self):
        return sorted(self.errors, key=lambda error: (error[0] or 0, error[1]))


def build_plan(stream, *, skip_erased=False):
    """Validate a seekable binary NDJSON stream; the returned plan carries errors or what to write.
    Lines that would bring back erased data are errors, or with `skip_erased` left out
    (chatdata.erasure.screen)."""
    plan = Plan()
    plan.screen = ImportScreen(plan, skip=skip_erased)
    seen_messages = {}  # external id -> (line, fingerprint)
    uses = defaultdict(list)  # (conversation, user, role) -> lines where the user appears in it
    pending = []
    hasher = hashlib.sha256()
    for line, raw in read_lines(stream, hasher):
        try:
            record = parse_line(line, raw)
        except LineError as exc:
            plan.error(line, str(exc))
            if exc.defines:
                plan.broken.setdefault(exc.defines, line)
            continue
        if record is None:
            continue
        plan.records += 1
        if isinstance(record, MessageRecord) and (problem := fulltext_problem(record.body)):
            plan.error(line, problem)
        elif isinstance(record, MessageRecord):
            for admitted in plan.screen.feed(record):
                pending = _take_message(plan, admitted, seen_messages, uses, pending)
        else:
            _add_definition(plan, record)
    for admitted in plan.screen.flush():
        pending = _take_message(plan, admitted, seen_messages, uses, pending)
    _compare_messages(plan, pending)
    plan.screen.screen_definitions()
    plan.digest = hasher.hexdigest()
    plan.size = stream.tell()
    if plan.records == 0 and plan.ok:
        plan.error(None, "the file holds no records (it is empty or only blank lines)")
    _load_database_state(plan, uses)
    _check_users(plan)
    _check_conversations(plan)
    _check_uses(plan, uses)
    return plan


def _take_message(plan, record, seen, uses, pending):
    if _add_message(plan, record, seen, uses):
        pending.append(record)
    if len(pending) >= CHUNK:
        _compare_messages(plan, pending)
        return []
    return pending


def among(model, column, values):
    """A filter for `column IN values`. On PostgreSQL it is `= ANY(%s)` with one array parameter:
    building, sending and parsing a 2,000-placeholder IN list costs more than the lookup itself."""
    if connection.vendor != "postgresql":
        return Q(**{f"{column}__in": values})
    sql = f'"{model._meta.db_table}"."{model._meta.get_field(column).column}" = ANY(%s)'
    return RawSQL(sql, [list(values)], output_field=BooleanField())


def _differences(first, again):
    return [f.name for f in fields(first) if f.name != "line" and getattr(first, f.name) != getattr(again, f.name)]


def _add_definition(plan, record):
    table, label = (plan.users, "user") if isinstance(record, UserRecord) else (plan.conversations, "conversation")
    first = table.setdefault(record.id, record)
    if first is record:
        return
    differences = _differences(first, record)
    if differences:
        plan.error(record.line, f"{label} {record.id!r} is already defined on line {first.line} with a different {', '.join(differences)}")
    else:
        plan.repeated_lines.add(record.line)


def _add_message(plan, record, seen, uses):
    """Note a message's references and times; False when it repeats an id seen earlier in the file."""
    fingerprint = record.digest()
    first = seen.setdefault(record.id, (record.line, fingerprint))
    if first[0] != record.line:
        if first[1] == fingerprint:
            plan.repeated_lines.add(record.line)
        else:
            plan.error(record.line, f"message {record.id!r} is already defined on line {first[0]} with different content")
        return False
    for user, role in [(record.sender, "sender"), *((user, "reaction") for user, _ in record.reactions)]:
        lines = uses[(record.conversation, user, role)]
        if not lines or lines[-1] != record.line:
            lines.append(record.line)
    _keep(plan.first_sent, record.conversation, record.sent_at, min)
    _keep(plan.user_first_sent, record.sender, record.sent_at, min)
    return True


def _keep(times, key, moment, pick):
    times[key] = pick(times.get(key, moment), moment)


def _compare_messages(plan, pending):
    """Messages already stored must match the file exactly; only reactions may be added to them."""
    if not pending:
        return
    columns = ("external_id", "pk", *(f"{name}__external_id" if name in ("conversation", "sender") else name for name in MESSAGE_FIELDS))
    rows = Message.objects.filter(among(Message, "external_id", [r.id for r in pending])).values_list(*columns)
    stored = {row[0]: row[2:] for row in rows}
    reactions = set()
    if stored:
        pks = [row[1] for row in rows]
        reactions = set(Reaction.objects.filter(among(Reaction, "message", pks)).values_list("message__external_id", "user__external_id", "emoji"))
    messages, reaction_tally = plan.tallies["messages"], plan.tallies["reactions"]
    for record in pending:
        row = stored.get(record.id)
        if row is None:
            messages.created += 1
            reaction_tally.created += len(record.reactions)
            _keep(plan.new_last_sent, record.conversation, record.sent_at, max)
            continue
        differences = [name for name, value in zip(MESSAGE_FIELDS, row) if getattr(record, name) != value]
        if differences:
            plan.error(record.line, f"message {record.id!r} is already in the database with a different "
                       f"{', '.join(differences)}; stored messages are never rewritten by an import")
            continue
        messages.unchanged += 1
        added = sum((record.id, user, emoji) not in reactions for user, emoji in record.reactions)
        reaction_tally.created += added
        reaction_tally.unchanged += len(record.reactions) - added


def _chunks(items):
    items = sorted(items)
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def _load_database_state(plan, uses):
    user_ids = set(plan.users) | {user for _, user, _ in uses}
    user_ids.update(member for record in plan.conversations.values() for member in record.members)
    for chunk in _chunks(user_ids):
        for pk, ext, name, erased_at in ChatUser.objects.filter(among(ChatUser, "external_id", chunk)).values_list("pk", "external_id", "display_name", "erased_at"):
            plan.db_users[ext] = StoredUser(pk, name, erased_at)
    conversation_ids = set(plan.conversations) | {conversation for conversation, _, _ in uses}
    for chunk in _chunks(conversation_ids):
        rows = Conversation.objects.filter(among(Conversation, "external_id", chunk)).values_list("pk", "external_id", "kind", "title", "created_at", "last_message_at")
        for pk, ext, *rest in rows:
            plan.db_conversations[ext] = StoredConversation(pk, *rest)
    for chunk in _chunks(stored.pk for stored in plan.db_conversations.values()):
        for pair in Membership.objects.filter(among(Membership, "conversation", chunk)).values_list("conversation__external_id", "user__external_id"):
            plan.db_members.add(pair)
            plan.members[pair[0]].add(pair[1])


def _check_users(plan):
    tally = plan.tallies["users"]
    for record in plan.users.values():
        stored = plan.db_users.get(record.id)
        first_sent = plan.user_first_sent.get(record.id)
        if record.created_at and first_sent and record.created_at > first_sent:
            plan.error(record.line, f"user {record.id!r}: created_at is later than the first message they sent ({first_sent.isoformat()})")
        if stored is None:
            tally.created += 1
        elif stored.erased_at:
            plan.error(record.line, _erased(record.id, stored))
        elif stored.name != record.name:
            tally.updated += 1
        else:
            tally.unchanged += 1


def _erased(user, stored):
    return f"user {user!r} was erased on {stored.erased_at:%Y-%m-%d}; an import never brings back an erased user's data"


def _check_conversations(plan):
    tally, memberships = plan.tallies["conversations"], plan.tallies["memberships"]
    known_users = plan.users.keys() | plan.db_users.keys()
    for record in plan.conversations.values():
        stored = plan.db_conversations.get(record.id)
        if stored is None:
            tally.created += 1
        elif stored.kind != record.kind:
            plan.error(record.line, f"conversation {record.id!r} is already in the database as a {stored.kind} conversation, not {record.kind}")
        elif stored.title != record.title:
            tally.updated += 1
        else:
            tally.unchanged += 1
        first_sent = plan.first_sent.get(record.id)
        if record.created_at and first_sent and record.created_at > first_sent:
            plan.error(record.line, f"conversation {record.id!r}: created_at is later than its first message ({first_sent.isoformat()})")
        for member in record.members:
            if member not in known_users:
                plan.error(record.line, f"conversation {record.id!r}: member {member!r} {plan.undefined('user', member)}")
        for member in record.members:
            if (record.id, member) in plan.db_members:
                memberships.unchanged += 1
            else:
                memberships.created += 1
                plan.members[record.id].add(member)
        if record.kind == "peer" and (stored is None or stored.kind == "peer") and len(plan.members[record.id]) > 2:
            everyone = ", ".join(map(repr, sorted(plan.members[record.id])))
            plan.error(record.line, f"peer conversation {record.id!r} would have more than 2 members with those already in the database: {everyone}")


def _check_uses(plan, uses):
    """Every sender and reacting user must be a member of the conversation (see the command's help)."""
    for (conversation, user, role), lines in uses.items():
        who = "sender" if role == "sender" else "reacting user"
        stored = plan.db_users.get(user)
        if conversation not in plan.conversations and conversation not in plan.db_conversations:
            problem = f"conversation {conversation!r} {plan.undefined('conversation', conversation)}"
        elif user not in plan.users and stored is None:
            problem = f"{who} {user!r} {plan.undefined('user', user)}"
        elif stored is not None and stored.erased_at:
            problem = _erased(user, stored)
        elif user not in plan.members[conversation]:
            problem = f"{who} {user!r} is not a member of conversation {conversation!r}"
        else:
            continue
        for line in lines:
            plan.error(line, problem)
