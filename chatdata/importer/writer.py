"""Pass two of an import: write what a valid plan says, inside the caller's transaction.

Users and conversations come from the plan (already in memory); messages are read from the file
again, CHUNK at a time, so the import never holds the whole file. The file's digest is checked at
the end: a file that changed between the passes aborts the transaction.
"""

import hashlib

from chatdata.importer.guards import read_lines
from chatdata.importer.plan import CHUNK, TABLES, Tally, among
from chatdata.importer.records import LineError, MessageRecord, parse_line
from chatdata.models import ChatUser, Conversation, Membership, Message, Reaction


class FileChanged(Exception):
    pass


def write_plan(plan, stream):
    """Apply a valid plan; returns a Tally per table of what was actually written."""
    tallies = {table: Tally() for table in TABLES}
    users = _write_users(plan, tallies["users"])
    conversations = _write_conversations(plan, tallies["conversations"])
    _write_memberships(plan, users, conversations, tallies["memberships"])
    if plan.tallies["messages"].created or plan.tallies["reactions"].created:
        _write_messages(plan, stream, users, conversations, tallies)
    else:  # nothing new among the messages (a re-import): no need to read them again
        tallies["messages"].unchanged = plan.tallies["messages"].unchanged
        tallies["reactions"].unchanged = plan.tallies["reactions"].unchanged
    _move_last_message_at(plan)
    return tallies


def _write_users(plan, tally):
    new, renamed = [], []
    for record in plan.users.values():
        stored = plan.db_users.get(record.id)
        if stored is None:
            new.append(ChatUser(external_id=record.id, display_name=record.name, created_at=plan.created_at(record)))
        elif stored.name != record.name:
            renamed.append(ChatUser(pk=stored.pk, display_name=record.name))
    ChatUser.objects.bulk_create(new, batch_size=CHUNK)
    ChatUser.objects.bulk_update(renamed, ["display_name"], batch_size=CHUNK)
    tally.created, tally.updated = len(new), len(renamed)
    tally.unchanged = len(plan.users) - len(new) - len(renamed)
    return {ext: stored.pk for ext, stored in plan.db_users.items()} | {user.external_id: user.pk for user in new}


def _write_conversations(plan, tally):
    new, retitled = [], []
    for record in plan.conversations.values():
        stored = plan.db_conversations.get(record.id)
        if stored is None:
            new.append(Conversation(
                external_id=record.id, kind=record.kind, title=record.title,
                created_at=plan.created_at(record), last_message_at=plan.new_last_sent.get(record.id),
            ))
        elif stored.title != record.title:
            retitled.append(Conversation(pk=stored.pk, title=record.title))
    Conversation.objects.bulk_create(new, batch_size=CHUNK)
    Conversation.objects.bulk_update(retitled, ["title"], batch_size=CHUNK)
    tally.created, tally.updated = len(new), len(retitled)
    tally.unchanged = len(plan.conversations) - len(new) - len(retitled)
    stored = {ext: (c.pk, c.created_at) for ext, c in plan.db_conversations.items()}
    return stored | {c.external_id: (c.pk, c.created_at) for c in new}


def _write_memberships(plan, users, conversations, tally):
    # joined_at is the conversation's created_at: deterministic, and an export says nothing better.
    new = []
    for record in plan.conversations.values():
        pk, created_at = conversations[record.id]
        for member in record.members:
            if (record.id, member) in plan.db_members:
                tally.unchanged += 1
            else:
                new.append(Membership(conversation_id=pk, user_id=users[member], joined_at=created_at))
    Membership.objects.bulk_create(new, batch_size=CHUNK)
    tally.created = len(new)


def _write_messages(plan, stream, users, conversations, tallies):
    hasher = hashlib.sha256()
    batch = []
    # A first import of these messages (the plan found none stored) skips the look-ups.
    look_up = plan.tallies["messages"].unchanged > 0
    try:
        for line, raw in read_lines(stream, hasher):
            if line in plan.repeated_lines or plan.screen.skips(line):
                continue
            record = parse_line(line, raw)
            if isinstance(record, MessageRecord):
                batch.append(plan.screen.strip(record))
                if len(batch) >= CHUNK:
                    _write_message_batch(batch, users, conversations, tallies, look_up)
                    batch = []
        _write_message_batch(batch, users, conversations, tallies, look_up)
    except (LineError, KeyError):
        # Pass one checked every line and every id: these are not the lines it checked.
        raise FileChanged("the file changed while it was being imported") from None
    if hasher.hexdigest() != plan.digest:
        raise FileChanged("the file changed while it was being imported")


def _write_message_batch(batch, users, conversations, tallies, look_up):
    if not batch:
        return
    stored = {}
    if look_up:
        stored = dict(Message.objects.filter(among(Message, "external_id", [r.id for r in batch])).values_list("external_id", "pk"))
    new = [
        Message(
            external_id=r.id, conversation_id=conversations[r.conversation][0], sender_id=users[r.sender],
            sent_at=r.sent_at, kind=r.kind, body=r.body, payload=r.payload,
        )
        for r in batch
        if r.id not in stored
    ]
    Message.objects.bulk_create(new)
    tallies["messages"].created += len(new)
    tallies["messages"].unchanged += len(stored)
    pks = stored | {message.external_id: message.pk for message in new}
    # Reactions of stored messages are only ever added to, never removed (a later export may have more).
    have = set()
    if stored:
        have = set(Reaction.objects.filter(among(Reaction, "message", stored.values())).values_list("message_id", "user_id", "emoji"))
    wanted = [(pks[r.id], users[user], emoji) for r in batch for user, emoji in r.reactions]
    reactions = [Reaction(message_id=m, user_id=u, emoji=e) for m, u, e in wanted if (m, u, e) not in have]
    Reaction.objects.bulk_create(reactions)
    tallies["reactions"].created += len(reactions)
    tallies["reactions"].unchanged += len(wanted) - len(reactions)


def _move_last_message_at(plan):
    """Existing conversations that got newer messages: last_message_at only ever moves forward."""
    moved = []
    for ext, latest in plan.new_last_sent.items():
        stored = plan.db_conversations.get(ext)
        if stored is not None and (stored.last_message_at is None or latest > stored.last_message_at):
            moved.append(Conversation(pk=stored.pk, last_message_at=latest))
    Conversation.objects.bulk_update(moved, ["last_message_at"], batch_size=CHUNK)
