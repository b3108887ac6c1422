import argparse
import shutil
import sys
import tempfile

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.db import DatabaseError

from chatdata.importer import FileChanged, ImportRefused, do_import_chat, failure_reason, record_refusal, validate_chat
from chatdata.importer.entries import printable
from chatdata.importer.guards import string_problem
from chatdata.parsing import InvalidText, check_options

HELP = """\
Import users, conversations and messages from NDJSON (one JSON object a line, by the chat
service's ids) all or nothing: every line is checked first, and a file with any error changes
nothing and exits with status 2, naming each bad line (the first 20). A dry run checks exactly
what the import would.

  {"type":"user","id":"u1","name":"Alice"}
  {"type":"conversation","id":"c1","kind":"group","title":"Team","members":["u1","u2"]}
  {"type":"message","id":"m1","conversation":"c1","sender":"u1","sent_at":"2026-01-05T10:00:00Z",
   "kind":"text","body":"hi","reactions":[{"user":"u2","emoji":"👍"}]}

Optional fields: user created_at; conversation title, created_at; message body, payload (an
object), reactions. Times are ISO 8601 and must carry a timezone. Unknown types and unknown fields
are errors, so a misspelt field is never dropped silently. Blank lines are skipped. Lines may come
in any order; a user or conversation may also be one already in the database.

Rules:
  - kind: peer (2 members, or 1: one person's side, as in a data subject's export), group, room
    or system; message kind: text, image, file, audio, video or system.
  - A message's sender and every reacting user must be members of its conversation (listed in
    its members, or already members in the database). Nothing is added implicitly: a sender who
    is not a member usually means a wrong conversation id, and membership carries each member's
    one-way state, which the import must not invent.
  - The same id twice in the file: identical lines are ignored, differing ones are an error.
  - Ids already in the database: identical content is skipped, so importing the same file again
    changes nothing. A user's new name and a conversation's new title are updated and new
    members are added (a newer export of the same service); members are never removed. A
    conversation's kind never changes, and a stored message is never rewritten: a message with
    other content is an error. New reactions on a stored message are added.
  - Erased stays erased. chatsweep keeps tombstones (keyed hashes of the ids) of every erased
    user and of every message deleted for everyone by a purge. A line that would bring one back
    is refused, naming it: a user line of an erased user, a message deleted for everyone or sent
    by an erased user, a reaction by an erased user, a conversation listing an erased member
    ("line 12: message 'm123' was erased on 2026-12-05 (tombstone); use --skip-erased to skip
    such lines"). With --skip-erased those lines are skipped, erased users' reactions and
    memberships are left out of the lines that carry them, the rest is imported, and the
    summary counts what was left out. (Users erased before tombstones existed, erased_at set,
    are refused the same way; --skip-erased does not skip them.)
  - created_at is used only when a row is created; it defaults to the first message in the file
    (sent by the user, or in the conversation), else the import time. Memberships join at their
    conversation's created_at; last_message_at only moves forward.
  - Refused as they could not be stored: lone surrogates (a "\\ud800" escape without its pair)
    and NUL characters in any string, nesting deeper than 64 levels, numbers of more than 4300
    digits or beyond a float's range, times that leave years 1 to 9999 in UTC, bodies over
    IMPORT_MAX_BODY_BYTES (UTF-8 bytes, default 65536) or whose full-text index entry
    PostgreSQL would refuse, lines over 6 times that plus 1 MiB.

Every import is audited (import.chat, with counts and the file's sha256; import.refused;
import.failed), as --actor, an admin, or else as the operator's account on this machine
(role "cli"). A dry run writes nothing, not even an audit entry.

Exit status: 0 imported (or valid, for a dry run); 2 invalid input (the file, its name, the
actor); 3 refused (the actor may not import); 1 failed (rolled back: the file changed meanwhile,
or the database refused a row).
"""
INVALID, REFUSED, FAILURE = 2, 3, 1


class _Formatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("file", help="the NDJSON file, or - to read standard input")
        parser.add_argument("--dry-run", action="store_true", help="only validate and print what would be imported")
        parser.add_argument("--actor", metavar="USERNAME", help="the admin importing, for the audit log")
        parser.add_argument(
            "--skip-erased",
            action="store_true",
            help="skip lines that would bring back erased data (tombstones) instead of refusing the file, and count them",
        )

    def handle(self, *args, file, dry_run, actor, skip_erased, **options):
        try:
            check_options({"file": file, "actor": actor})
        except InvalidText as exc:
            raise CommandError(printable(exc.message), returncode=INVALID) from None
        name = "standard input" if file == "-" else printable(file)
        # A dry run changes nothing, so it audits nothing, refusals included.
        self.audit = not dry_run
        actor = self._actor(actor, name)
        with self._open(file, name, actor) as stream:
            try:
                report = (
                    validate_chat(stream, actor=actor, skip_erased=skip_erased)
                    if dry_run
                    else do_import_chat(stream, actor=actor, source=name, skip_erased=skip_erased)
                )
            except ImportRefused as exc:
                raise CommandError(f"{exc} Nothing was imported.", returncode=REFUSED) from None
            except (FileChanged, DatabaseError) as exc:
                raise CommandError(printable(failure_reason(exc)), returncode=FAILURE) from None
        if not report.ok:
            for line, text in report.errors[:20]:
                self.stderr.write(printable(f"{name}:{line}: {text}" if line else f"{name}: {text}"))
            more = len(report.errors) - 20
            if more > 0:
                self.stderr.write(f"... and {more} more error{'s' if more > 1 else ''}")
            count = len(report.errors)
            message = f"{name} has {count} error{'s' if count > 1 else ''}; nothing was imported."
            if report.refused_erased:
                message += " Erased data is never imported again (--skip-erased skips it)."
            raise CommandError(message, returncode=INVALID)
        if dry_run:
            self.stdout.write(f"Dry run: {name} is valid ({report.records} records). Nothing was changed; importing it would give:")
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported {name} ({report.records} records):"))
        verbs = ("to create", "to update", "unchanged") if dry_run else ("created", "updated", "unchanged")
        for table, tally in report.tallies.items():
            counts = [(verbs[0], tally.created), (verbs[2], tally.unchanged)]
            if table in ("users", "conversations"):  # the only rows an import may update
                counts.insert(1, (verbs[1], tally.updated))
            self.stdout.write(f"  {table:<14}" + ", ".join(f"{n} {verb}" for verb, n in counts))
        erased = report.erased
        if erased:
            left_out = [(erased.lines, "line"), (erased.reactions, "reaction"), (erased.members, "membership")]
            self.stdout.write(
                "  erased earlier (tombstones), left out: "
                + ", ".join(f"{n} {noun}{'s' if n != 1 else ''}" for n, noun in left_out if n)
            )
        if report.repeated_lines:
            self.stdout.write(f"  {report.repeated_lines} line(s) repeated an earlier identical line and were ignored.")

    def _refuse(self, message, name, actor=None):
        if self.audit:
            record_refusal(message, actor=actor, source=name)
        raise CommandError(message, returncode=INVALID)

    def _actor(self, username, name):
        """The staff account named by --actor, or None without one."""
        if username is None:
            return None
        # A name no database can hold (NUL, a lone surrogate) names nobody: do not even ask.
        found = None if string_problem(username) else get_user_model().objects.filter(username=username, is_active=True).first()
        if found is None:
            self._refuse(f"No active staff account named {username!r}.", name)
        return found

    def _open(self, file, name, actor):
        if file != "-":
            try:
                return open(file, "rb")
            except (OSError, ValueError, UnicodeError) as exc:  # ValueError: a NUL in the name
                why = exc.strerror if isinstance(exc, OSError) else "not a possible file name"
                self._refuse(f"cannot read {name}: {why}; nothing was imported.", name, actor)
        # Both passes read the input: keep a copy of standard input (in memory up to 64 MB).
        spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)
        shutil.copyfileobj(sys.stdin.buffer, spool)
        spool.seek(0)
        return spool
