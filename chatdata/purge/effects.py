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

Each statement is built by one small named function (psycopg's `sql` composition: identifiers
quoted, conditions spliced in as SQL, values always bound), so each of those paths reads as a
short list of named statements; `run()` renders them for the database at hand (SQLite takes the
same text; only the id match and the JSON cast differ by vendor). What a batch may do (skip the
triggers, count by the statistics counters, compress its WAL) is asked in the same statement
that acts on it, every batch: nothing is cached on the connection.

Id lists are bound as one array on PostgreSQL (`= ANY(%s)`, one parameter however long) and
expanded on SQLite (`IN (?, ...)`; a batch stays far below its parameter limit): ids_match. On PostgreSQL the
batch statements use a server-side-binding cursor on Django's connection (same transaction): the
array travels as one binary parameter, where Django's client-side binding would spell out
thousands of ids as SQL text for every statement (a fifth of a batch's time, measured).
"""

import json

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Q
from psycopg import sql

from chatdata.erasure import tombstones
from chatdata.models import Conversation, LegalHold, Membership, Message
from chatdata.purge.preview import newly_hidden
from chatdata.purge.scopes import RANGE

ATTACHMENT = sql.Identifier("chatdata_attachment")
CONVERSATION = sql.Identifier("chatdata_conversation")
FILE_OUTBOX = sql.Identifier("chatdata_fileoutbox")
MEMBERSHIP = sql.Identifier("chatdata_membership")
MESSAGE = sql.Identifier("chatdata_message")
MESSAGE_HIDE = sql.Identifier("chatdata_messagehide")
PENDING_DELIVERY = sql.Identifier("chatdata_pendingdelivery")
SYNC_EVENT = sql.Identifier("chatdata_syncevent")

MESSAGE_KIND = tombstones.MESSAGE

CHILD_TABLES = (
    ("reactions", "chatdata_reaction"),
    ("hides", "chatdata_messagehide"),
    ("pending_deliveries", "chatdata_pendingdelivery"),
)


# --- running statements -----------------------------------------------------------------------------
#
# Every statement below is built by a small named function returning (statement, params), the
# statement a psycopg `sql.Composable`. `run` renders it for the current database and executes
# it on a batch cursor (a psycopg cursor on PostgreSQL) or on Django's cursor (SQLite).


def run(cursor, statement, params=()):
    """Execute a composed statement; returns the cursor (for fetch* and rowcount)."""
    context = connection.connection if connection.vendor == "postgresql" else None
    cursor.execute(statement.as_string(context), list(params))
    return cursor


def batch_cursor():
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        return psycopg.Cursor(connection.connection)
    return connection.cursor()


def json_param():
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


# A batch whose ids span at most this many times their number is "dense" (see ids_match).
DENSE = 4


def ids_match(column, ids):
    """`column` matching any of `ids`, as (condition, params) for the current database.

    On PostgreSQL a batch taken by keyset from a big conversation is a nearly contiguous run of
    ids. `= ANY(array)` descends the index once per id; for such a run one range scan with a
    hashed filter (`+ 0` keeps the array out of the index condition) reads a quarter of the
    buffers (EXPLAIN BUFFERS on a 2,000-id batch: 4.7k against 17k). Scattered ids (a user's
    messages all over the table) keep the descents: their range would span far more rows."""
    column = sql.SQL(".").join(sql.Identifier(part) for part in column.split("."))
    if connection.vendor == "postgresql":
        # An array literal built once: psycopg's list dumper is pure Python (3 ms per 2,000 ids).
        array = "{" + ",".join(map(str, ids)) + "}"
        low, high = min(ids), max(ids)
        if high - low < DENSE * len(ids):
            condition = sql.SQL("{c} BETWEEN %s AND %s AND {c} + 0 = ANY(%s::bigint[])").format(c=column)
            return condition, [low, high, array]
        return sql.SQL("{c} = ANY(%s::bigint[])").format(c=column), [array]
    return sql.SQL("{c} IN ({marks})").format(c=column, marks=sql.SQL(", ").join([sql.Placeholder()] * len(ids))), list(ids)


def in_ids(column, ids):
    """ids_match as SQL text, for modules that write their own statements around it."""
    condition, params = ids_match(column, ids)
    return condition.as_string(connection.connection if connection.vendor == "postgresql" else None), params


# --- the statements ---------------------------------------------------------------------------------


def set_async_commit():
    """synchronous_commit off for this transaction, and wal_compression set to
    settings.PURGE_WAL_COMPRESSION where this role may set it and the server knows the method
    (GRANT SET ON PARAMETER, and has_parameter_privilege, came with PostgreSQL 15)."""
    wanted = settings.PURGE_WAL_COMPRESSION
    if wanted == "off":
        return sql.SQL("SELECT set_config('synchronous_commit', 'off', true)"), []
    granted = sql.SQL("has_parameter_privilege(name, 'SET')" if connection.pg_version >= 150000 else "false")
    statement = sql.SQL(
        "SELECT set_config('synchronous_commit', 'off', true), "
        "CASE WHEN %s = ANY(enumvals) AND (current_setting('is_superuser') = 'on' OR {granted}) "
        "THEN set_config('wal_compression', %s, true) END "
        "FROM pg_settings WHERE name = 'wal_compression'"
    ).format(granted=granted)
    return statement, [wanted, wanted]


def attachments_to_outbox_returning(match, params, *, request_pk, now):
    """PostgreSQL: delete the attachments, their paths going to the outbox in the same statement."""
    statement = sql.SQL(
        "WITH gone AS (DELETE FROM {attachment} WHERE {match} RETURNING file) "
        "INSERT INTO {outbox} (path, request_id, created_at, attempts, last_error) "
        "SELECT file, %s, %s, 0, '' FROM gone RETURNING id, path"
    ).format(attachment=ATTACHMENT, outbox=FILE_OUTBOX, match=match)
    return statement, [*params, request_pk, now]


def copy_attachments_to_outbox(match, params, *, request_pk, now):
    """SQLite: the attachments' paths to the outbox (deleted by delete_rows after)."""
    statement = sql.SQL(
        "INSERT INTO {outbox} (path, request_id, created_at, attempts, last_error) "
        "SELECT file, %s, %s, 0, '' FROM {attachment} WHERE {match} RETURNING id, path"
    ).format(attachment=ATTACHMENT, outbox=FILE_OUTBOX, match=match)
    return statement, [request_pk, now, *params]


def delete_rows(table, match, params):
    return sql.SQL("DELETE FROM {table} WHERE {match}").format(table=table, match=match), list(params)


def delete_children_at_once(match, params):
    """PostgreSQL: delete the children of CHILD_TABLES matching `match` in one statement (a
    data-modifying CTE per table), returning how many rows of each, in CHILD_TABLES' order."""
    names = [sql.Identifier(f"gone_{key}") for key, _ in CHILD_TABLES]
    ctes = sql.SQL(", ").join(
        sql.SQL("{name} AS (DELETE FROM {table} WHERE {match} RETURNING 1)").format(
            name=name, table=sql.Identifier(table), match=match
        )
        for name, (_, table) in zip(names, CHILD_TABLES)
    )
    counts = sql.SQL(", ").join(sql.SQL("(SELECT count(*) FROM {})").format(name) for name in names)
    return sql.SQL("WITH {ctes} SELECT {counts}").format(ctes=ctes, counts=counts), list(params) * len(CHILD_TABLES)


def delete_messages_summarised(match, params):
    """PostgreSQL: delete the messages, returning per conversation (count, latest sent_at, the
    conversation's last_message_at, the external ids deleted: for their tombstones)."""
    statement = sql.SQL(
        "WITH gone AS (DELETE FROM {message} WHERE {match} RETURNING conversation_id, sent_at, external_id) "
        "SELECT g.conversation_id, g.n, g.latest, c.last_message_at, g.external_ids FROM ("
        "SELECT conversation_id, count(*) AS n, max(sent_at) AS latest, array_agg(external_id) AS external_ids "
        "FROM gone GROUP BY conversation_id"
        ") g LEFT JOIN {conversation} c ON c.id = g.conversation_id"
    ).format(message=MESSAGE, conversation=CONVERSATION, match=match)
    return statement, list(params)


def select_external_ids(match, params):
    """SQLite: the external ids of the messages about to be deleted (for their tombstones)."""
    return sql.SQL("SELECT external_id FROM {message} WHERE {match}").format(message=MESSAGE, match=match), list(params)


def cascade_counters():
    """Whether this server keeps the transaction's statistics counters (track_counts), and how
    many rows of each child table this transaction has deleted so far."""
    counters = [
        sql.SQL("pg_stat_get_xact_tuples_deleted({}::regclass)").format(sql.Literal(table)) for _, table in CHILD_TABLES
    ]
    return sql.SQL("SELECT current_setting('track_counts') = 'on', {}").format(sql.SQL(", ").join(counters)), []


# What delete_messages deletes explicitly, and the foreign keys its explicit deletes stand in for
# ('table.column:c', c for ON DELETE CASCADE). Any other foreign key into these tables, a new
# chatsweep model's included, keeps the triggers: its cascade would be skipped with nothing in its place.
_EXPLICIT_CHILDREN = ("chatdata_attachment",) + tuple(table for _, table in CHILD_TABLES)
_SKIP_TABLES = ["chatdata_message", *_EXPLICIT_CHILDREN]
_SKIP_FOREIGN_KEYS = sorted(f"{table}.message_id:c" for table in _EXPLICIT_CHILDREN)


def skip_fk_triggers():
    """`session_replication_role = replica` for the rest of the transaction, where safe and
    allowed (see _without_fk_triggers); returns a row only if it switched."""
    granted = "has_parameter_privilege('session_replication_role', 'SET')" if connection.pg_version >= 150000 else "false"
    statement = sql.SQL(
        "SELECT set_config('session_replication_role', 'replica', true) "
        "WHERE current_setting('transaction_isolation') = 'read committed' "
        "AND (current_setting('is_superuser') = 'on' OR {granted}) "
        "AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal) "
        "AND (SELECT coalesce(array_agg(c.conrelid::regclass::text || '.' || a.attname || ':' || c.confdeltype::text "
        "ORDER BY 1), '{{}}') FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "WHERE c.contype = 'f' AND c.confrelid = ANY(%s::regclass[])) = %s::text[]"
    ).format(granted=sql.SQL(granted))
    return statement, [_SKIP_TABLES, _SKIP_TABLES, _SKIP_FOREIGN_KEYS]


def restore_fk_triggers():
    return sql.SQL("SELECT set_config('session_replication_role', 'origin', true)"), []


# --- the batch ----------------------------------------------------------------------------------------


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


def insert_hides(match, params, *, member, now):
    statement = sql.SQL(
        "INSERT INTO {hide} (message_id, user_id, created_at) "
        "SELECT id, %s, %s FROM {message} WHERE {match} ON CONFLICT DO NOTHING"
    ).format(hide=MESSAGE_HIDE, message=MESSAGE, match=match)
    return statement, [member, now, *params]


def delete_member_deliveries(match, params, *, member):
    statement = sql.SQL("DELETE FROM {pending} WHERE user_id = %s AND {match}").format(pending=PENDING_DELIVERY, match=match)
    return statement, [member, *params]


def refresh_last_message_at(conversation_pks):
    """Recompute Conversation.last_message_at from what is left (an index probe each)."""
    if not conversation_pks:
        return
    with batch_cursor() as cursor:
        run(cursor, *recompute_last_message_at(*ids_match("id", sorted(conversation_pks))))


def recompute_last_message_at(match, params):
    statement = sql.SQL(
        "UPDATE {conversation} SET last_message_at = ("
        "SELECT MAX(m.sent_at) FROM {message} m WHERE m.conversation_id = {conversation}.id"
        ") WHERE {match}"
    ).format(conversation=CONVERSATION, message=MESSAGE, match=match)
    return statement, list(params)


def refresh_latest_in_unit(spec, conversation_pk, after_id):
    """Set last_message_at after a batch of a range or whole-conversation unit took the
    conversation's latest message, without walking the index entries the run has killed: near
    the end of a big purge a plain MAX(sent_at) steps over a million dead entries (seconds,
    inside a batch transaction). What is left of the conversation lies outside the range, under
    a legal hold (active or since released: what it kept is still there), sent by someone the
    scope is not narrowed to, or above `after_id`
    (the rest of the scope, and whatever arrived after the preview); each region is searched on
    its own, starting where live rows are."""
    messages = Message.objects.filter(conversation_id=conversation_pk)
    regions = []
    if spec.senders:
        # Narrowed to some senders: everyone else's messages stay, wherever they are.
        regions.append(messages.exclude(sender_id__in=spec.senders))
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
        run(cursor, *set_latest_or_newer(conversation_pk, value, after_id))


def set_latest_or_newer(conversation_pk, value, after_id):
    """last_message_at = the later of `value` and the newest message above `after_id` (fenced
    by OFFSET 0 from a backward walk of the conversation's index, see _fenced_latest)."""
    statement = sql.SQL(
        "UPDATE {conversation} SET last_message_at = GREATEST(%s::timestamptz, ("
        "SELECT MAX(sent_at) FROM (SELECT sent_at FROM {message} "
        "WHERE id > %s AND conversation_id = %s OFFSET 0) AS newer)) WHERE id = %s"
    ).format(conversation=CONVERSATION, message=MESSAGE)
    return statement, [value, after_id, conversation_pk, conversation_pk]


def _fenced_latest(qs):
    """MAX(sent_at) of a queryset, computed over its rows as a plain scan: `OFFSET 0` keeps the
    planner from turning it into a backward walk of the (conversation, sent_at) index, where
    this run's dead entries are."""
    if connection.vendor != "postgresql":
        return qs.aggregate(latest=Max("sent_at"))["latest"]
    inner, params = qs.order_by().values("sent_at").query.sql_with_params()
    with connection.cursor() as cursor:
        return run(cursor, *fenced_max_sent_at(inner, params)).fetchone()[0]


def fenced_max_sent_at(inner, params):
    return sql.SQL("SELECT MAX(sent_at) FROM ({} OFFSET 0) AS fenced").format(sql.SQL(inner)), list(params)


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


def delete_deliveries_before(conversation_pk, member, bound):
    """The member's pending deliveries of the conversation's messages sent before `bound`."""
    statement = sql.SQL(
        "DELETE FROM {pending} WHERE user_id = %s AND message_id IN ("
        "SELECT id FROM {message} WHERE conversation_id = %s AND sent_at < %s)"
    ).format(pending=PENDING_DELIVERY, message=MESSAGE)
    return statement, [member, conversation_pk, bound]


def remove_conversation(conversation_pk):
    """Delete a conversation that has no messages left, with its memberships; returns the
    number of memberships removed."""
    with connection.cursor() as cursor:
        memberships = run(cursor, *delete_by_column(MEMBERSHIP, "conversation_id", conversation_pk)).rowcount
        run(cursor, *delete_by_column(CONVERSATION, "id", conversation_pk))
    return memberships


def delete_by_column(table, column, value):
    return sql.SQL("DELETE FROM {table} WHERE {column} = %s").format(table=table, column=sql.Identifier(column)), [value]


def write_events(*, conversation_pks, kind, payload, now, member=None):
    """One SyncEvent per member of each conversation (or for `member` only), set-based;
    returns how many were written."""
    if not conversation_pks:
        return 0
    with connection.cursor() as cursor:
        return run(cursor, *insert_events(sorted(conversation_pks), kind, payload, now, member)).rowcount


def insert_events(conversation_pks, kind, payload, now, member):
    match, params = ids_match("m.conversation_id", conversation_pks)
    for_member = sql.SQL(" AND m.user_id = %s") if member is not None else sql.SQL("")
    statement = sql.SQL(
        "INSERT INTO {event} (user_id, conversation_pk, conversation_external_id, kind, payload, created_at) "
        "SELECT m.user_id, c.id, c.external_id, %s, {json}, %s "
        "FROM {membership} m JOIN {conversation} c ON c.id = m.conversation_id WHERE {match}{for_member} "
        "ORDER BY m.conversation_id, m.user_id"
    ).format(
        event=SYNC_EVENT, membership=MEMBERSHIP, conversation=CONVERSATION, match=match, for_member=for_member,
        json=sql.SQL(json_param()),
    )
    args = [kind, json.dumps(payload, sort_keys=True), now, *params]
    if member is not None:
        args.append(member)
    return statement, args
