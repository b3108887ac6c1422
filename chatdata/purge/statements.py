"""The SQL of a purge batch: one small named function per statement, and how they are run.

Each statement is built by one small named function (psycopg's `sql` composition: identifiers
quoted, conditions spliced in as SQL, values always bound), so each path through
chatdata.purge.effects and chatdata.purge.latest reads as a short list of named statements;
`run()` renders them for the database at hand (SQLite takes the same text; only the id match and
the JSON cast differ by vendor). What a batch may do (skip the triggers, count by the statistics
counters, compress its WAL) is asked in the same statement that acts on it, every batch: nothing
is cached on the connection.

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
from psycopg import sql

ATTACHMENT = sql.Identifier("chatdata_attachment")
CONVERSATION = sql.Identifier("chatdata_conversation")
FILE_OUTBOX = sql.Identifier("chatdata_fileoutbox")
MEMBERSHIP = sql.Identifier("chatdata_membership")
MESSAGE = sql.Identifier("chatdata_message")
MESSAGE_HIDE = sql.Identifier("chatdata_messagehide")
PENDING_DELIVERY = sql.Identifier("chatdata_pendingdelivery")
SYNC_EVENT = sql.Identifier("chatdata_syncevent")

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


# What effects.delete_messages deletes explicitly, and the foreign keys its explicit deletes stand in for
# ('table.column:c', c for ON DELETE CASCADE). Any other foreign key into these tables, a new
# chatsweep model's included, keeps the triggers: its cascade would be skipped with nothing in its place.
_EXPLICIT_CHILDREN = ("chatdata_attachment",) + tuple(table for _, table in CHILD_TABLES)
_SKIP_TABLES = ["chatdata_message", *_EXPLICIT_CHILDREN]
_SKIP_FOREIGN_KEYS = sorted(f"{table}.message_id:c" for table in _EXPLICIT_CHILDREN)


def skip_fk_triggers():
    """`session_replication_role = replica` for the rest of the transaction, where safe and
    allowed (see effects._without_fk_triggers); returns a row only if it switched."""
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


def insert_hides(match, params, *, member, now):
    statement = sql.SQL(
        "INSERT INTO {hide} (message_id, user_id, created_at) "
        "SELECT id, %s, %s FROM {message} WHERE {match} ON CONFLICT DO NOTHING"
    ).format(hide=MESSAGE_HIDE, message=MESSAGE, match=match)
    return statement, [member, now, *params]


def delete_member_deliveries(match, params, *, member):
    statement = sql.SQL("DELETE FROM {pending} WHERE user_id = %s AND {match}").format(pending=PENDING_DELIVERY, match=match)
    return statement, [member, *params]


def recompute_last_message_at(match, params):
    statement = sql.SQL(
        "UPDATE {conversation} SET last_message_at = ("
        "SELECT MAX(m.sent_at) FROM {message} m WHERE m.conversation_id = {conversation}.id"
        ") WHERE {match}"
    ).format(conversation=CONVERSATION, message=MESSAGE, match=match)
    return statement, list(params)


def set_latest_or_newer(conversation_pk, value, after_id):
    """last_message_at = the later of `value` and the newest message above `after_id` (fenced
    by OFFSET 0 from a backward walk of the conversation's index, see latest._fenced_latest)."""
    statement = sql.SQL(
        "UPDATE {conversation} SET last_message_at = GREATEST(%s::timestamptz, ("
        "SELECT MAX(sent_at) FROM (SELECT sent_at FROM {message} "
        "WHERE id > %s AND conversation_id = %s OFFSET 0) AS newer)) WHERE id = %s"
    ).format(conversation=CONVERSATION, message=MESSAGE)
    return statement, [value, after_id, conversation_pk, conversation_pk]


def fenced_max_sent_at(inner, params):
    return sql.SQL("SELECT MAX(sent_at) FROM ({} OFFSET 0) AS fenced").format(sql.SQL(inner)), list(params)


def delete_deliveries_before(conversation_pk, member, bound):
    """The member's pending deliveries of the conversation's messages sent before `bound`."""
    statement = sql.SQL(
        "DELETE FROM {pending} WHERE user_id = %s AND message_id IN ("
        "SELECT id FROM {message} WHERE conversation_id = %s AND sent_at < %s)"
    ).format(pending=PENDING_DELIVERY, message=MESSAGE)
    return statement, [member, conversation_pk, bound]


def delete_by_column(table, column, value):
    return sql.SQL("DELETE FROM {table} WHERE {column} = %s").format(table=table, column=sql.Identifier(column)), [value]


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
