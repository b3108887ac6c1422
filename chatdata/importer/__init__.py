"""Import chat data from NDJSON: users, conversations and messages by the chat service's ids.

An import is all or nothing, and it must stay so for files far larger than memory would like. So
it reads the file twice. Pass one (plan.py) parses and checks every line, compares it with the
rest of the file and with the database, and records what would be written, touching nothing.
Only a plan without a single error reaches pass two (writer.py), which writes in chunks inside
the same transaction and re-reads the messages from the file instead of keeping them. A dry run
is pass one alone, so it refuses exactly what the import would: every check that the database
would otherwise make halfway through the write is made on the line (guards.py).

Both passes run under one transaction and, on PostgreSQL, a transaction-level advisory lock, so
two imports never interleave and the database cannot change under a plan because of another
import. The rules (what is refused, what an existing id may change) are the command's help text,
in chatdata/management/commands/import_chat.py. Every import that could change data is audited
(entries.py), refusals and failures included.
"""

import logging
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction

from chatdata.erasure.screen import ErasedTally
from chatdata.importer.entries import Origin, run_by, write_failed, write_imported, write_refused
from chatdata.importer.plan import Tally, build_plan
from chatdata.importer.writer import FileChanged, write_plan
from chatdata.permissions import import_refusal

__all__ = [
    "FileChanged", "ImportRefused", "ImportReport", "Tally", "do_import_chat", "failure_reason", "record_refusal", "validate_chat",
]

# Any fixed number: imports serialise on it, nothing else uses it.
ADVISORY_LOCK_KEY = 0x43_48_41_54_49_4D  # "CHATIM"

log = logging.getLogger(__name__)


class ImportRefused(Exception):
    """The acting staff member may not import."""


@dataclass(frozen=True)
class ImportReport:
    errors: list  # [(line or None, text)], by line
    tallies: dict  # table -> Tally: what was written, or for a dry run what would be
    records: int  # non-blank lines
    repeated_lines: int  # lines that repeat an identical earlier definition, ignored
    dry_run: bool
    erased: ErasedTally  # what tombstones refused, or with skip_erased left out

    @property
    def refused_erased(self):
        """True when lines were refused because they would bring back erased data."""
        return self.erased.refused > 0

    @property
    def ok(self):
        return not self.errors


def _report(plan, tallies, *, dry_run):
    return ImportReport(plan.sorted_errors(), tallies, plan.records, len(plan.repeated_lines), dry_run, plan.screen.tally)


def failure_reason(exc):
    """What an import that broke off (FileChanged, DatabaseError) says, to the operator and the log."""
    if isinstance(exc, FileChanged):
        return f"{exc}; nothing was imported."
    # E.g. a conversation deleted by a purge between the check and the commit.
    return f"the database refused the import ({exc}); nothing was imported."


def validate_chat(stream, *, actor=None, skip_erased=False):
    """Check a seekable binary NDJSON stream and say what importing it as `actor` would do (an
    actor who may not import is refused as the import would refuse them); writes nothing."""
    refusal = import_refusal(actor) if actor is not None else None
    if refusal:
        raise ImportRefused(refusal)
    plan = build_plan(stream, skip_erased=skip_erased)
    return _report(plan, plan.tallies, dry_run=True)


def record_refusal(reason, *, actor=None, source="", operator=None):
    """Audit an import refused before its file was read (an unknown actor, an unreadable file)."""
    write_refused(Origin(actor, source, operator or run_by()), reason=reason)


def do_import_chat(stream, *, actor, source="", operator=None, skip_erased=False):
    """Import a seekable binary NDJSON stream, all or nothing; an invalid file changes nothing.

    `actor` is the staff member importing (an admin), or None for the operator running the
    command without one; `source` names the file and `operator` who ran it on which machine
    (default: this process's user and host), for the audit entry every attempt writes.
    A line that would bring back erased data (a tombstone) is an error, or with `skip_erased`
    left out and counted (chatdata.erasure.screen).
    Raises ImportRefused for an actor who may not import, and FileChanged (after rolling back) if
    the file changes between the two passes.
    """
    origin = Origin(actor, source, operator or run_by())
    refusal = import_refusal(actor) if actor is not None else None
    if refusal:
        write_refused(origin, reason=refusal)
        raise ImportRefused(refusal)
    plan = None
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
            plan = build_plan(stream, skip_erased=skip_erased)
            if not plan.ok:
                write_refused(origin, plan=plan)
                return _report(plan, plan.tallies, dry_run=False)
            tallies = write_plan(plan, stream)
            write_imported(origin, plan, tallies)
    except (FileChanged, DatabaseError) as exc:
        try:
            write_failed(origin, failure_reason(exc), plan=plan)
        except DatabaseError:  # the database is gone too: nothing can record it, say why it failed
            log.exception("could not audit a failed import")
        raise
    return _report(plan, tallies, dry_run=False)
