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

Id lists are bound as one array on PostgreSQL (`= ANY(%s)`, one parameter however long) and
expanded on SQLite (`IN (?, ...)`; a batch stays far below its parameter limit). On PostgreSQL the
batch statements use a server-side-binding cursor on Django's connection (same transaction): the
array travels as one binary parameter, where Django's client-side binding would spell out
thousands of ids as SQL text for every statement (a fifth of a batch's time, measured).
"""

import json

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Q

from chatdata.erasure import tombstones
from chatdata.models import PendingDelivery
from chatdata.purge.preview import newly_hidden

CHILD_TABLES = (
    ("reactions", "chatdata_reaction"),
    ("hides", "chatdata_messagehide"),
    ("pending_deliveries", "chatdata_pendingdelivery"),
)


# A batch whose ids span at most this many times their number is "dense" (see in_ids).
DENSE = 4


def in_ids(column, ids):
    """`column` matching any of `ids`, as (sql, params) for the current database.

    On PostgreSQL a batch taken by keyset from a big conversation is a nearly contiguous run of
    ids. `= ANY(array)` descends the index once per id; for such a run one range scan with a
    hashed filter (`+ 0` keeps the array out of the index condition) reads a quarter of the
    buffers (EXPLAIN BUFFERS on a 2,000-id batch: 4.7k against 17k). Scattered ids (a user's
    messages all over the table) keep the descents: their range would span far more rows."""
    if connection.vendor == "postgresql":
        # An array literal built once: psycopg's list dumper is pure Python (3 ms per 2,000 ids).
        array = "{" + ",".join(map(str, ids)) + "}"
        low, high = min(ids), max(ids)
        if high - low < DENSE * len(ids):
            return f"{column} BETWEEN %s AND %s AND {column} + 0 = ANY(%s::bigint[])", [low, high, array]
        return f"{column} = ANY(%s::bigint[])", [array]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def commit_asynchronously():
    """Let the current (batch) transaction commit without waiting for its WAL flush. Safe here:
    the checkpoint commits with the rows, so a batch lost in a database crash is simply redone,
    and files wait for the flush (chatdata.purge.outbox.wal_flush_barrier). Its WAL is
    compressed where the role may ask for it (settings.PURGE_WAL_COMPRESSION)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if method := _wal_compression(cursor):
                cursor.execute(f"SET LOCAL synchronous_commit = off; SET LOCAL wal_compression = {method}")
            else:
                cursor.execute("SET LOCAL synchronous_commit = off")


def _wal_compression(cursor):
    """settings.PURGE_WAL_COMPRESSION if this connection may set it and the server knows it, else
    None; asked once per database connection."""
    wanted = settings.PURGE_WAL_COMPRESSION
    if wanted == "off":
        return None
    known = getattr(connection, "_chatsweep_wal_compression", {})
    if wanted not in known:
        # GRANT SET ON PARAMETER (and has_parameter_privilege) came with PostgreSQL 15.
        granted = "has_parameter_privilege(name, 'SET')" if connection.pg_version >= 150000 else "false"
        cursor.execute(
            f"SELECT %s = ANY(enumvals) AND (current_setting('is_superuser') = 'on' OR {granted}) "
            "FROM pg_settings WHERE name = 'wal_compression'",
            [wanted],
        )
        row = cursor.fetchone()
        known[wanted] = wanted if row and row[0] else None
        connection._chatsweep_wal_compression = known
    return known[wanted]


def batch_cursor():
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        return psycopg.Cursor(connection.connection)
    return connection.cursor()


def json_param():
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


def delete_messages(ids, *, request_pk, now):
    """Delete messages `ids` with all their children. Returns (counts, outbox entries, deleted):
    the entries are (outbox id, file path) of the attachment files to remove after commit;
    `deleted` maps each conversation to (messages deleted, latest sent_at among them, the
    conversation's last_message_at)."""
    with batch_cursor() as cursor:
        tombstones.bury_messages(cursor, ids, now=now)  # deleted for everyone: never imported again
        match, params = in_ids("message_id", ids)
        outbox = _attachments_to_outbox(cursor, match, params, request_pk=request_pk, now=now)
        counts = {"attachments": len(outbox)}
        if connection.vendor != "postgresql":
            _delete_children(cursor, match, params, counts)
            deleted = _delete_message_rows_sqlite(cursor, ids)
        elif _without_fk_triggers(cursor):
            # Children, messages, then children again: a child the chat service committed while
            # the first pass ran (its foreign-key check held the message until then) is deleted
            # by the second; one it commits later fails its own check against the deleted message.
            _delete_children(cursor, match, params, counts)
            deleted = _delete_message_rows(cursor, ids)
            _delete_children(cursor, match, params, counts)
            cursor.execute("SELECT set_config('session_replication_role', 'origin', true)")
            late = _attachments_to_outbox(cursor, match, params, request_pk=request_pk, now=now)
            counts["attachments"] += len(late)
            outbox += late
        elif counted := _cascade_counters(cursor):
            cursor.execute(counted)
            before = cursor.fetchone()
            deleted = _delete_message_rows(cursor, ids)
            cursor.execute(counted)
            for (key, _), old, new in zip(CHILD_TABLES, before, cursor.fetchone()):
                counts[key] = new - old
        else:
            _delete_children(cursor, match, params, counts)
            deleted = _delete_message_rows(cursor, ids)
        counts["messages"] = sum(n for n, _, _ in deleted.values())
    return counts, [tuple(row) for row in outbox], deleted


def _attachments_to_outbox(cursor, match, params, *, request_pk, now):
    """Delete the attachments matching `match`, their file paths going to the outbox in the same
    statement (PostgreSQL) or transaction; returns the outbox rows (id, path)."""
    if connection.vendor == "postgresql":
        cursor.execute(
            "WITH gone AS (DELETE FROM chatdata_attachment WHERE " + match + " RETURNING file) "
            "INSERT INTO chatdata_fileoutbox (path, request_id, created_at, attempts, last_error) "
            "SELECT file, %s, %s, 0, '' FROM gone RETURNING id, path",
            params + [request_pk, now],
        )
        return cursor.fetchall()
    cursor.execute(
        "INSERT INTO chatdata_fileoutbox (path, request_id, created_at, attempts, last_error) "
        "SELECT file, %s, %s, 0, '' FROM chatdata_attachment WHERE " + match + " RETURNING id, path",
        [request_pk, now] + params,
    )
    outbox = cursor.fetchall()
    cursor.execute("DELETE FROM chatdata_attachment WHERE " + match, params)
    return outbox


def _delete_children(cursor, match, params, counts):
    for key, table in CHILD_TABLES:
        cursor.execute(f"DELETE FROM {table} WHERE " + match, params)
        counts[key] = counts.get(key, 0) + cursor.rowcount


def _delete_message_rows(cursor, ids):
    match, params = in_ids("id", ids)
    cursor.execute(
        "WITH gone AS (DELETE FROM chatdata_message WHERE " + match + " RETURNING conversation_id, sent_at) "
        "SELECT g.conversation_id, g.n, g.latest, c.last_message_at FROM ("
        "SELECT conversation_id, count(*) AS n, max(sent_at) AS latest FROM gone GROUP BY conversation_id"
        ") g LEFT JOIN chatdata_conversation c ON c.id = g.conversation_id",
        params,
    )
    return {conversation: (n, latest, last) for conversation, n, latest, last in cursor.fetchall()}


def _delete_message_rows_sqlite(cursor, ids):
    from chatdata.models import Message

    deleted = {
        row["conversation_id"]: (row["n"], row["latest"], row["conversation__last_message_at"])
        for row in Message.objects.filter(id__in=ids)
        .values("conversation_id", "conversation__last_message_at")
        .annotate(n=Count("id"), latest=Max("sent_at"))
        .order_by()
    }
    match, params = in_ids("id", ids)
    cursor.execute("DELETE FROM chatdata_message WHERE " + match, params)
    return deleted


# What delete_messages deletes explicitly, and the foreign keys its explicit deletes stand in for
# ('table.column:c', c for ON DELETE CASCADE). Any other foreign key into these tables, a new
# chatsweep model's included, keeps the triggers: its cascade would be skipped with nothing in its place.
_EXPLICIT_CHILDREN = ("chatdata_attachment",) + tuple(table for _, table in CHILD_TABLES)
_SKIP_TABLES = ["chatdata_message", *_EXPLICIT_CHILDREN]
_SKIP_FOREIGN_KEYS = sorted(f"{table}.message_id:c" for table in _EXPLICIT_CHILDREN)


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
    granted = "has_parameter_privilege('session_replication_role', 'SET')" if connection.pg_version >= 150000 else "false"
    cursor.execute(
        "SELECT set_config('session_replication_role', 'replica', true) "
        "WHERE current_setting('transaction_isolation') = 'read committed' "
        f"AND (current_setting('is_superuser') = 'on' OR {granted}) "
        "AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal) "
        "AND (SELECT coalesce(array_agg(c.conrelid::regclass::text || '.' || a.attname || ':' || c.confdeltype::text "
        "ORDER BY 1), '{}') FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "WHERE c.contype = 'f' AND c.confrelid = ANY(%s::regclass[])) = %s::text[]",
        [_SKIP_TABLES, _SKIP_TABLES, _SKIP_FOREIGN_KEYS],
    )
    return cursor.fetchone() is not None


def _cascade_counters(cursor):
    """The query reading how many rows of each child table this transaction has deleted so far,
    or None where those counters are not kept (not PostgreSQL, or track_counts off); asked once
    per database connection."""
    if connection.vendor != "postgresql":
        return None
    if not hasattr(connection, "_chatsweep_cascade_counters"):
        cursor.execute("SELECT current_setting('track_counts') = 'on'")
        connection._chatsweep_cascade_counters = cursor.fetchone()[0] and "SELECT " + ", ".join(
            f"pg_stat_get_xact_tuples_deleted('{table}'::regclass)" for _, table in CHILD_TABLES
        )
    return connection._chatsweep_cascade_counters


def hide_messages(ids, *, member, now):
    """MessageHide rows for `member` (existing ones kept) and their pending deliveries removed."""
    with batch_cursor() as cursor:
        match, params = in_ids("id", ids)
        cursor.execute(
            "INSERT INTO chatdata_messagehide (message_id, user_id, created_at) "
            "SELECT id, %s, %s FROM chatdata_message WHERE " + match + " ON CONFLICT DO NOTHING",
            [member, now] + params,
        )
        hides = cursor.rowcount
        match, params = in_ids("message_id", ids)
        cursor.execute("DELETE FROM chatdata_pendingdelivery WHERE user_id = %s AND " + match, [member] + params)
        pending = cursor.rowcount
    return {"messages": len(ids), "hides": hides, "pending_deliveries": pending}


def refresh_last_message_at(conversation_pks):
    """Recompute Conversation.last_message_at from what is left (an index probe each)."""
    if not conversation_pks:
        return
    match, params = in_ids("id", sorted(conversation_pks))
    with batch_cursor() as cursor:
        cursor.execute(
            "UPDATE chatdata_conversation SET last_message_at = ("
            "SELECT MAX(m.sent_at) FROM chatdata_message m WHERE m.conversation_id = chatdata_conversation.id"
            ") WHERE " + match,
            params,
        )


def refresh_latest_in_unit(spec, conversation_pk, after_id):
    """Set last_message_at after a batch of a range or whole-conversation unit took the
    conversation's latest message, without walking the index entries the run has killed: near
    the end of a big purge a plain MAX(sent_at) steps over a million dead entries (seconds,
    inside a batch transaction). What is left of the conversation lies outside the range, under
    a legal hold (active or since released: what it kept is still there), or above `after_id`
    (the rest of the scope, and whatever arrived after the preview); each region is searched on
    its own, starting where live rows are."""
    from chatdata.models import Conversation, LegalHold, Message
    from chatdata.purge.scopes import RANGE

    messages = Message.objects.filter(conversation_id=conversation_pk)
    regions = []
    if spec.kind == RANGE:
        if spec.scope.end is not None:
            regions.append(messages.filter(sent_at__gte=spec.scope.end))
        if spec.scope.start is not None:
            regions.append(messages.filter(sent_at__lt=spec.scope.start))
    by_sender = []
    for hold in LegalHold.objects.filter(Q(conversation_id=conversation_pk) | Q(kind=LegalHold.Kind.USER)):
        held = messages.filter(sender_id=hold.user_id) if hold.kind == LegalHold.Kind.USER else messages
        if hold.start is not None:
            held = held.filter(sent_at__gte=hold.start)
        if hold.end is not None:
            held = held.filter(sent_at__lt=hold.end)
        if hold.kind == LegalHold.Kind.CONVERSATION:
            regions.append(held)
        else:
            by_sender.append(held)
    latest = [qs.aggregate(latest=Max("sent_at"))["latest"] for qs in regions]
    # A user's held messages are found through that user's index, not the conversation's.
    latest += [_fenced_latest(qs) for qs in by_sender]
    if connection.vendor != "postgresql":
        latest.append(messages.filter(id__gt=after_id).aggregate(latest=Max("sent_at"))["latest"])
        value = max((v for v in latest if v is not None), default=None)
        Conversation.objects.filter(pk=conversation_pk).update(last_message_at=value)
        return
    value = max((v for v in latest if v is not None), default=None)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE chatdata_conversation SET last_message_at = GREATEST(%s::timestamptz, ("
            "SELECT MAX(sent_at) FROM (SELECT sent_at FROM chatdata_message "
            "WHERE id > %s AND conversation_id = %s OFFSET 0) AS newer)) WHERE id = %s",
            [value, after_id, conversation_pk, conversation_pk],
        )


def _fenced_latest(qs):
    """MAX(sent_at) of a queryset, computed over its rows as a plain scan: `OFFSET 0` keeps the
    planner from turning it into a backward walk of the (conversation, sent_at) index, where
    this run's dead entries are."""
    if connection.vendor != "postgresql":
        return qs.aggregate(latest=Max("sent_at"))["latest"]
    sql, params = qs.order_by().values("sent_at").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(sent_at) FROM ({sql} OFFSET 0) AS fenced", params)
        return cursor.fetchone()[0]


def clear_for_member(*, conversation_pk, member, bound, hide_conversation):
    """Move the member's cleared_before forward to `bound` (never back), optionally hide the
    conversation from their list, and drop their pending deliveries of what they no longer see.
    Returns (counts, changed) or (None, False) when the member is not in the conversation."""
    from chatdata.models import Membership

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
            cursor.execute(
                f"DELETE FROM {PendingDelivery._meta.db_table} WHERE user_id = %s AND message_id IN ("
                "SELECT id FROM chatdata_message WHERE conversation_id = %s AND sent_at < %s)",
                [member, conversation_pk, bound],
            )
            counts["pending_deliveries"] = cursor.rowcount
    return counts, bool(changed_fields or counts["pending_deliveries"])


def remove_conversation(conversation_pk):
    """Delete a conversation that has no messages left, with its memberships; returns the
    number of memberships removed."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM chatdata_membership WHERE conversation_id = %s", [conversation_pk])
        memberships = cursor.rowcount
        cursor.execute("DELETE FROM chatdata_conversation WHERE id = %s", [conversation_pk])
    return memberships


def write_events(*, conversation_pks, kind, payload, now, member=None):
    """One SyncEvent per member of each conversation (or for `member` only), set-based;
    returns how many were written."""
    if not conversation_pks:
        return 0
    match, params = in_ids("m.conversation_id", sorted(conversation_pks))
    sql = (
        "INSERT INTO chatdata_syncevent (user_id, conversation_pk, conversation_external_id, kind, payload, created_at) "
        f"SELECT m.user_id, c.id, c.external_id, %s, {json_param()}, %s "
        "FROM chatdata_membership m JOIN chatdata_conversation c ON c.id = m.conversation_id WHERE " + match
    )
    args = [kind, json.dumps(payload, sort_keys=True), now] + params
    if member is not None:
        sql += " AND m.user_id = %s"
        args.append(member)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY m.conversation_id, m.user_id", args)
        return cursor.rowcount
