import argparse
import shutil
import sys
import tempfile

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.db import DatabaseError

from chatdata.importer import FileChanged, do_import_chat, validate_chat

HELP = """\
Import users, conversations and messages from NDJSON (one JSON object a line, by the chat
service's ids) all or nothing: every line is checked first, and a file with any error changes
nothing and exits with status 1, naming each bad line (the first 20).

  {"type":"user","id":"u1","name":"Alice"}
  {"type":"conversation","id":"c1","kind":"group","title":"Team","members":["u1","u2"]}
  {"type":"message","id":"m1","conversation":"c1","sender":"u1","sent_at":"2026-01-05T10:00:00Z",
   "kind":"text","body":"hi","reactions":[{"user":"u2","emoji":"👍"}]}

Optional fields: user created_at; conversation title, created_at; message body, payload (an
object), reactions. Times are ISO 8601 and must carry a timezone. Unknown types and unknown fields
are errors, so a misspelt field is never dropped silently. Blank lines are skipped. Lines may come
in any order; a user or conversation may also be one already in the database.

Rules:
  - kind: peer (exactly 2 members), group, room or system; message kind: text, image, file,
    audio, video or system.
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
  - Users who were erased (erased_at set) cannot be re-imported: their user line, messages and
    reactions are errors.
  - created_at is used only when a row is created; it defaults to the first message in the file
    (sent by the user, or in the conversation), else the import time. Memberships join at their
    conversation's created_at; last_message_at only moves forward.
"""


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

    def handle(self, *args, file, dry_run, **options):
        with self._open(file) as stream:
            try:
                report = validate_chat(stream) if dry_run else do_import_chat(stream)
            except FileChanged as exc:
                raise CommandError(f"{exc}; nothing was imported.") from None
            except DatabaseError as exc:
                # E.g. a conversation deleted by a purge between the check and the commit.
                raise CommandError(f"the database refused the import ({exc}); nothing was imported.") from None
        name = "standard input" if file == "-" else file
        if not report.ok:
            for line, text in report.errors[:20]:
                self.stderr.write(f"{name}:{line}: {text}" if line else f"{name}: {text}")
            more = len(report.errors) - 20
            if more > 0:
                self.stderr.write(f"... and {more} more error{'s' if more > 1 else ''}")
            count = len(report.errors)
            raise CommandError(f"{name} has {count} error{'s' if count > 1 else ''}; nothing was imported.")
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
        if report.repeated_lines:
            self.stdout.write(f"  {report.repeated_lines} line(s) repeated an earlier identical line and were ignored.")

    def _open(self, file):
        if file != "-":
            try:
                return open(file, "rb")
            except OSError as exc:
                raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        # Both passes read the input: keep a copy of standard input (in memory up to 64 MB).
        spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)
        shutil.copyfileobj(sys.stdin.buffer, spool)
        spool.seek(0)
        return spool
