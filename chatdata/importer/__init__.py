"""Import chat data from NDJSON: users, conversations and messages by the chat service's ids.

An import is all or nothing, and it must stay so for files far larger than memory would like. So
it reads the file twice. Pass one (plan.py) parses and checks every line, compares it with the
rest of the file and with the database, and records what would be written, touching nothing.
Only a plan without a single error reaches pass two (writer.py), which writes in chunks inside
the same transaction and re-reads the messages from the file instead of keeping them.

Both passes run under one transaction and, on PostgreSQL, a transaction-level advisory lock, so
two imports never interleave and the database cannot change under a plan because of another
import. The rules (what is refused, what an existing id may change) are the command's help text,
in chatdata/management/commands/import_chat.py.
"""

from dataclasses import dataclass

from django.db import connection, transaction

from chatdata.importer.plan import Tally, build_plan
from chatdata.importer.writer import FileChanged, write_plan

__all__ = ["FileChanged", "ImportReport", "Tally", "do_import_chat", "validate_chat"]

# Any fixed number: imports serialise on it, nothing else uses it.
ADVISORY_LOCK_KEY = 0x43_48_41_54_49_4D  # "CHATIM"


@dataclass(frozen=True)
class ImportReport:
    errors: list  # [(line or None, text)], by line
    tallies: dict  # table -> Tally: what was written, or for a dry run what would be
    records: int  # non-blank lines
    repeated_lines: int  # lines that repeat an identical earlier definition, ignored
    dry_run: bool

    @property
    def ok(self):
        return not self.errors


def _report(plan, tallies, *, dry_run):
    return ImportReport(plan.sorted_errors(), tallies, plan.records, len(plan.repeated_lines), dry_run)


def validate_chat(stream):
    """Check a seekable binary NDJSON stream and say what importing it would do; writes nothing."""
    plan = build_plan(stream)
    return _report(plan, plan.tallies, dry_run=True)


def do_import_chat(stream):
    """Import a seekable binary NDJSON stream, all or nothing; an invalid file changes nothing.

    Raises FileChanged (and rolls back) if the file changes between the two passes.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        plan = build_plan(stream)
        if not plan.ok:
            return _report(plan, plan.tallies, dry_run=False)
        tallies = write_plan(plan, stream)
    return _report(plan, tallies, dry_run=False)
