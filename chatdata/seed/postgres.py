"""Loading the demo data into PostgreSQL through COPY, in one transaction.

Messages stream straight into a `COPY chatdata_message ... FROM STDIN` while they are generated; the
other tables' rows are spooled to temporary files in COPY text format and copied after it. Ids come
from the generator, so the sequences are moved past them (`setval`) at the end.

For a large load (BULK_FROM messages or more) into the empty tables, maintaining the secondary
indexes row by row and checking every foreign key at commit costs more than building them once: the
secondary indexes (including the GIN full-text index) and the unique and foreign-key constraints of
the message-side tables are dropped first and recreated afterwards from the definitions the catalog
gave (`pg_get_indexdef` / `pg_get_constraintdef`, so exactly what the migrations made), then the
tables are analyzed. DDL is transactional in PostgreSQL: a failed load leaves the schema as it was.
The message-side tables are also truncated first in the same transaction, which lets COPY FREEZE
them (see _truncate_empty).
"""

import tempfile
import time
from datetime import timedelta

from django.core.management.color import no_style
from django.db import connection, transaction
from psycopg.copy import QueuedLibpqWriter

from chatdata.models import Attachment, Membership, Message, MessageHide, PendingDelivery, Reaction
from chatdata.seed.generator import COLUMNS, EPOCH, HOUR_MS, DemoData
from chatdata.seed.files import stored_attachments
from chatdata.seed.reset import CHAT_MODELS, DEFER_CHECKS, RUN_PENDING_CHECKS, truncatable

BULK_FROM = 200_000
# The tables that grow with the number of messages; users and conversations stay small.
BULK_MODELS = (Membership, Message, Reaction, Attachment, MessageHide, PendingDelivery)
BATCH_ROWS = 5_000
SPOOL_CHUNK = 1 << 20

_hours = {}


def _ts(ms):
    hour, rest = divmod(ms, HOUR_MS)
    prefix = _hours.get(hour)
    if prefix is None:
        prefix = _hours[hour] = (EPOCH + timedelta(hours=hour)).strftime("%Y-%m-%d %H:")
    minutes, rest = divmod(rest, 60_000)
    seconds, milli = divmod(rest, 1000)
    return f"{prefix}{minutes:02d}:{seconds:02d}.{milli:03d}+00"


def _text(value):
    if "\\" in value or "\n" in value or "\r" in value or "\t" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return value


def _message_line(row):
    pk, external_id, conversation_id, sender_id, sent_at, kind, body, payload = row
    return f"{pk}\t{external_id}\t{conversation_id}\t{sender_id}\t{_ts(sent_at)}\t{kind}\t{_text(body)}\t{_text(payload)}\n"


def _cell_formatter(model, column):
    field = next(f for f in model._meta.concrete_fields if f.attname == column)
    kind = field.get_internal_type()
    if kind == "DateTimeField":
        cell = _ts
    elif kind == "BooleanField":
        cell = {True: "t", False: "f"}.__getitem__
    elif kind in ("CharField", "TextField", "FileField", "JSONField"):
        cell = _text
    else:
        cell = str
    return (lambda value: "\\N" if value is None else cell(value)) if field.null else cell


def _line_formatter(model):
    cells = [_cell_formatter(model, column) for column in COLUMNS[model]]
    return lambda row: "\t".join([cell(value) for cell, value in zip(cells, row)]) + "\n"


class _Batch:
    """Collects COPY text lines and hands them on in blocks (one write per BATCH_ROWS rows)."""

    def __init__(self, write, line):
        self.write, self.line, self.lines, self.rows = write, line, [], 0

    def add(self, row):
        self.lines.append(self.line(row))
        if len(self.lines) >= BATCH_ROWS:
            self.flush()

    def flush(self):
        if self.lines:
            self.rows += len(self.lines)
            self.write("".join(self.lines).encode())
            self.lines = []


def _copy_sql(model, frozen):
    qn = connection.ops.quote_name
    freeze = " WITH (FREEZE)" if model in frozen else ""
    return f"COPY {qn(model._meta.db_table)} ({', '.join(qn(c) for c in COLUMNS[model])}) FROM STDIN{freeze}"


def secondary_structures(cursor, models):
    """Secondary indexes, unique and foreign-key constraints of these tables, as (drop, create) SQL."""
    tables = [model._meta.db_table for model in models]
    cursor.execute(
        """
        SELECT con.contype, con.conrelid::regclass::text, quote_ident(con.conname), pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        WHERE con.conrelid = ANY(%s::regclass[]) AND con.contype IN ('u', 'f')
          AND NOT (con.contype = 'u' AND EXISTS (
              SELECT 1 FROM pg_constraint ref WHERE ref.contype = 'f' AND ref.conindid = con.conindid))
        ORDER BY con.contype DESC, con.conname
        """,
        [tables],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT quote_ident(ic.relname), pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid)
        ORDER BY ic.relname
        """,
        [tables],
    )
    indexes = cursor.fetchall()
    # Foreign keys go first and come back last; unique constraints and plain indexes in between.
    drops = [f"ALTER TABLE {table} DROP CONSTRAINT {name}" for _, table, name, _ in constraints]
    drops += [f"DROP INDEX {name}" for name, _ in indexes]
    creates = [definition for _, definition in indexes]
    creates += [f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}" for _, table, name, definition in reversed(constraints)]
    return drops, creates


def load(plan, *, rebuild_indexes=None):
    """Generate and COPY the plan's rows; return (rows per model, attachment files, phase timings)."""
    rebuild = plan.messages >= BULK_FROM if rebuild_indexes is None else rebuild_indexes
    timings = {}
    started = time.perf_counter()
    with transaction.atomic(), stored_attachments() as files:
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            # Index builds (above all the GIN one) are much faster with room to sort in memory.
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            frozen = _truncate_empty(cursor)
            creates = []
            if rebuild:
                drops, creates = secondary_structures(cursor, BULK_MODELS)
                for statement in drops:
                    cursor.execute(statement)
            counts = _copy_rows(cursor, plan, files, frozen)
            timings["generate + copy"] = time.perf_counter() - started
            mark = time.perf_counter()
            for statement in creates:
                cursor.execute(statement)
            if creates:
                timings["indexes + constraints"] = time.perf_counter() - mark
            mark = time.perf_counter()
            for statement in connection.ops.sequence_reset_sql(no_style(), CHAT_MODELS):
                cursor.execute(statement)
            for model in COLUMNS:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
            timings["analyze"] = time.perf_counter() - mark
        mark = time.perf_counter()
    timings["commit"] = time.perf_counter() - mark
    return counts, files, timings


def _truncate_empty(cursor):
    """TRUNCATE the (empty) message-side tables inside this transaction, so COPY may FREEZE them.

    COPY ... FREEZE writes rows already frozen and marked all-visible, which it may only do into a
    table created or truncated in the same (sub)transaction. Without it, the first queries after a
    load would find no visibility map, so no index-only scans, and would write hint bits to every
    page they read until a VACUUM ran. Returns the tables truncated.
    """
    allowed = truncatable(BULK_MODELS)
    models = [model for model in BULK_MODELS if model in allowed]
    for model in models:
        cursor.execute(f"SELECT EXISTS (SELECT FROM {connection.ops.quote_name(model._meta.db_table)})")
        if cursor.fetchone()[0]:
            raise RuntimeError(f"{model._meta.db_table} is not empty: seed_demo loads into empty chat tables only.")
    if models:
        tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
        for statement in (*RUN_PENDING_CHECKS, f"TRUNCATE {tables}", *DEFER_CHECKS):
            cursor.execute(statement)
    return set(models)


def _copy_rows(cursor, plan, files, frozen):
    spools = {model: tempfile.TemporaryFile() for model in COLUMNS if model is not Message}
    try:
        batches = {model: _Batch(spool.write, _line_formatter(model)) for model, spool in spools.items()}
        # The queued writer sends from a thread: the server parses while Python generates.
        with cursor.copy(_copy_sql(Message, frozen), writer=QueuedLibpqWriter(cursor)) as copy:
            batches[Message] = _Batch(copy.write, _message_line)
            emit = {model: batch.add for model, batch in batches.items()}
            emit[Attachment] = lambda row: batches[Attachment].add(files.store(row))
            DemoData(plan).generate(emit)
            for batch in batches.values():
                batch.flush()
        for model, spool in spools.items():
            spool.seek(0)
            with cursor.copy(_copy_sql(model, frozen)) as copy:
                while chunk := spool.read(SPOOL_CHUNK):
                    copy.write(chunk)
        files.fix_renamed_rows()
        return {model: batch.rows for model, batch in batches.items()}
    finally:
        for spool in spools.values():
            spool.close()
