"""The writes of a purge, as plain SQL on the chat tables (PostgreSQL fast, SQLite correct).

Each function runs inside the caller's batch transaction and returns the rowcounts, which become
the executed counts. Attachments are deleted explicitly before their messages, so that their paths
go to the file outbox in the same statement that deletes their rows. The other children go one of
three ways (delete_messages):
- on PostgreSQL where the batch may skip the per-row foreign-key triggers (_without_fk_triggers,
  settings.PURGE_SKIP_FK_TRIGGERS), the batch deletes them itself, set-based, before and again
  after the messages; those triggers were most of a batch's time;
- otherwise by the database-level cascades on their foreign keys, which run for every deleted
  message whether or not they find anything (EXPLAIN ANALYZE: the same 3 us a call either way),
  so deleting them first as well was pure extra work; the transaction's own statistics counters
  (pg_stat_get_xact_tuples_deleted) then give exactly how many each cascade deleted, concurrent
  inserts included;
- SQLite, and a server with track_counts off, delete them explicitly before the messages.
Nothing here goes through Django's deletion collector (chatdata/models/chat.py explains why).

The statements themselves are built in chatdata.purge.statements; last_message_at is set right
after a batch by chatdata.purge.latest.
"""

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max
from psycopg import sql

from chatdata.erasure import tombstones
from chatdata.models import Membership, Message
from chatdata.purge.preview import newly_hidden
from chatdata.purge.statements import (
    ATTACHMENT,
    CHILD_TABLES,
    CONVERSATION,
    MEMBERSHIP,
    MESSAGE,
    attachments_to_outbox_returning,
    batch_cursor,
    cascade_counters,
    copy_attachments_to_outbox,
    delete_by_column,
    delete_children_at_once,
    delete_deliveries_before,
    delete_member_deliveries,
    delete_messages_summarised,
    delete_rows,
    ids_match,
    insert_events,
    insert_hides,
    restore_fk_triggers,
    run,
    select_external_ids,
    set_async_commit,
    skip_fk_triggers,
)

MESSAGE_KIND = tombstones.MESSAGE


def commit_asynchronously():
    """Let the current (batch) transaction commit without waiting for its WAL flush. Safe here:
    the checkpoint commits with the rows, so a batch lost in a database crash is simply redone,
    and files wait for the flush (chatdata.purge.outbox.wal_flush_barrier). Its WAL is
    compressed where the role may ask for it (settings.PURGE_WAL_COMPRESSION), checked in the
    same statement."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            run(cursor, *set_async_commit())


def delete_messages(ids, *, request_pk, now):
    """Delete messages `ids` with all their children, and write their tombstones (deleted for
    everyone: never imported again) in the same transaction. Returns (counts, outbox entries,
    deleted): the entries are (outbox id, file path) of the attachment files to remove after
    commit; `deleted` maps each conversation to (messages deleted, latest sent_at among them, the
    conversation's last_message_at)."""
    with batch_cursor() as cursor:
        children = ids_match("message_id", ids)
        messages = ids_match("id", ids)
        outbox = _attachments_to_outbox(cursor, *children, request_pk=request_pk, now=now)
        counts = {"attachments": len(outbox)}
        if connection.vendor != "postgresql":
            deleted = _summary_before_delete(ids)
            keys = tombstones.hash_later(MESSAGE_KIND, [row[0] for row in run(cursor, *select_external_ids(*messages)).fetchall()])
            _delete_children(cursor, *children, counts)
            run(cursor, *delete_rows(MESSAGE, *messages))
        elif _without_fk_triggers(cursor):
            # Children, messages, then children again: a child the chat service committed while
            # the first pass ran (its foreign-key check held the message until then) is deleted
            # by the second; one it commits later fails its own check against the deleted message.
            # The deleted messages' keys are hashed meanwhile.
            _delete_children(cursor, *children, counts)
            deleted, keys = _delete_message_rows(cursor, *messages)
            _delete_children(cursor, *children, counts)
            run(cursor, *restore_fk_triggers())
            late = _attachments_to_outbox(cursor, *children, request_pk=request_pk, now=now)
            counts["attachments"] += len(late)
            outbox += late
        elif (before := run(cursor, *cascade_counters()).fetchone())[0]:
            # The cascades delete the children; the transaction's own counters say how many
            # (concurrent inserts included).
            deleted, keys = _delete_message_rows(cursor, *messages)
            after = run(cursor, *cascade_counters()).fetchone()
            for (key, _), old, new in zip(CHILD_TABLES, before[1:], after[1:]):
                counts[key] = new - old
        else:
            _delete_children(cursor, *children, counts)
            deleted, keys = _delete_message_rows(cursor, *messages)
        tombstones.bury_keys(cursor, MESSAGE_KIND, keys(), now=now)
        counts["messages"] = sum(n for n, _, _ in deleted.values())
    return counts, [tuple(row) for row in outbox], deleted


def delete_attachments(ids, *, request_pk, now):
    """Only the attachments of messages `ids` (delete_attachments): their rows deleted, their
    file paths to the outbox in the same statement; the messages and their other children stay.
    Returns (counts, outbox entries)."""
    with batch_cursor() as cursor:
        outbox = _attachments_to_outbox(cursor, *ids_match("message_id", ids), request_pk=request_pk, now=now)
    return {"messages": len(ids), "attachments": len(outbox)}, [tuple(row) for row in outbox]


def _attachments_to_outbox(cursor, match, params, *, request_pk, now):
    """Delete the attachments matching `match`, their file paths going to the outbox in the same
    statement (PostgreSQL) or transaction; returns the outbox rows (id, path)."""
    if connection.vendor == "postgresql":
        return run(cursor, *attachments_to_outbox_returning(match, params, request_pk=request_pk, now=now)).fetchall()
    outbox = run(cursor, *copy_attachments_to_outbox(match, params, request_pk=request_pk, now=now)).fetchall()
    run(cursor, *delete_rows(ATTACHMENT, match, params))
    return outbox


def _delete_children(cursor, match, params, counts):
    if connection.vendor == "postgresql":
        # One statement for the three tables: one round trip where three each waited for the
        # worker and the server to be scheduled again, which on a busy machine was most of it.
        row = run(cursor, *delete_children_at_once(match, params)).fetchone()
        for (key, _), deleted in zip(CHILD_TABLES, row):
            counts[key] = counts.get(key, 0) + deleted
        return
    for key, table in CHILD_TABLES:
        counts[key] = counts.get(key, 0) + run(cursor, *delete_rows(sql.Identifier(table), match, params)).rowcount


def _delete_message_rows(cursor, match, params):
    """Delete the messages; returns the per-conversation summary and tombstones.hash_later of the
    external ids the DELETE returned (exactly the rows it deleted, no SELECT before it)."""
    rows = run(cursor, *delete_messages_summarised(match, params)).fetchall()
    gone = [external_id for *_, external_ids in rows for external_id in external_ids]
    keys = tombstones.hash_later(MESSAGE_KIND, gone)
    return {conversation: (n, latest, last) for conversation, n, latest, last, _ in rows}, keys


def _summary_before_delete(ids):
    """SQLite: what delete_messages_summarised returns, read before the messages go."""
    return {
        row["conversation_id"]: (row["n"], row["latest"], row["conversation__last_message_at"])
        for row in Message.objects.filter(id__in=ids)
        .values("conversation_id", "conversation__last_message_at")
        .annotate(n=Count("id"), latest=Max("sent_at"))
        .order_by()
    }


def _without_fk_triggers(cursor):
    """Switch the rest of this batch transaction to `session_replication_role = replica` where
    that is safe and allowed; True if it did. The per-row foreign-key triggers are most of a
    batch's time (EXPLAIN ANALYZE on 6,000 messages: 133 of 144 ms went to the 4 cascade
    triggers) and delete_messages then does their work itself, set-based. Safe means: the
    transaction is READ COMMITTED (the second pass must see children committed meanwhile), no
    table it deletes from has a trigger of its own (replica mode would silence it), and the
    foreign keys into them are exactly the cascades its explicit deletes replace, so nothing else
    would have cascaded or refused. Allowed means a superuser, or GRANT SET ON PARAMETER
    session_replication_role (PostgreSQL 15+). Checked in the batch's own transaction, in the
    statement that switches: a schema change between two batches is seen by the next one."""
    if settings.PURGE_SKIP_FK_TRIGGERS == "off":
        return False
    return run(cursor, *skip_fk_triggers()).fetchone() is not None


def hide_messages(ids, *, member, now):
    """MessageHide rows for `member` (existing ones kept) and their pending deliveries removed."""
    with batch_cursor() as cursor:
        hides = run(cursor, *insert_hides(*ids_match("id", ids), member=member, now=now)).rowcount
        pending = run(cursor, *delete_member_deliveries(*ids_match("message_id", ids), member=member)).rowcount
    return {"messages": len(ids), "hides": hides, "pending_deliveries": pending}


def clear_for_member(*, conversation_pk, member, bound, hide_conversation):
    """Move the member's cleared_before forward to `bound` (never back), optionally hide the
    conversation from their list, and drop their pending deliveries of what they no longer see.
    Returns (counts, changed) or (None, False) when the member is not in the conversation."""
    membership = Membership.objects.select_for_update().filter(conversation_id=conversation_pk, user_id=member).first()
    if membership is None:
        return None, False
    counts = {"messages": 0, "pending_deliveries": 0}
    old = membership.cleared_before
    changed_fields = []
    if bound is not None and (old is None or bound > old):
        counts["messages"] = newly_hidden(conversation_pk, old, bound).count()
        membership.cleared_before = bound
        changed_fields.append("cleared_before")
    if hide_conversation and not membership.hidden:
        membership.hidden = True
        changed_fields.append("hidden")
    if changed_fields:
        membership.save(update_fields=changed_fields)
    if bound is not None:
        with connection.cursor() as cursor:
            counts["pending_deliveries"] = run(cursor, *delete_deliveries_before(conversation_pk, member, bound)).rowcount
    return counts, bool(changed_fields or counts["pending_deliveries"])


def remove_conversation(conversation_pk):
    """Delete a conversation that has no messages left, with its memberships; returns the
    number of memberships removed."""
    with connection.cursor() as cursor:
        memberships = run(cursor, *delete_by_column(MEMBERSHIP, "conversation_id", conversation_pk)).rowcount
        run(cursor, *delete_by_column(CONVERSATION, "id", conversation_pk))
    return memberships


def write_events(*, conversation_pks, kind, payload, now, member=None):
    """One SyncEvent per member of each conversation (or for `member` only), set-based;
    returns how many were written."""
    if not conversation_pks:
        return 0
    with connection.cursor() as cursor:
        return run(cursor, *insert_events(sorted(conversation_pks), kind, payload, now, member)).rowcount

