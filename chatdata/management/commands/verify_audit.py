import json

from django.core.management.base import BaseCommand, CommandError

from chatdata.audit import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain from the first entry to the last, then compare it with the "
        "newest witness of its head (chatdata.witness). Exit status 0 when intact (with a warning when "
        "no witness confirms the head), 1 naming the first entry that was altered, removed or inserted, "
        "or the entries the witness saw that are missing or changed. --json prints the report, its "
        "`witness` part included."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, as_json, **options):
        report = verify_chain()
        witness = report.witness
        if as_json:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.ok and witness.status == "confirmed":
            self.stdout.write(f"Audit chain intact: {report.checked} entries verified, and {witness.message}.")
        elif report.ok:
            self.stdout.write(f"Audit chain intact: {report.checked} entries verified.")
            self.stdout.write(f"Warning: {witness.message}.")
        if not as_json and witness.status != "unreadable":  # an unreadable witness's message names them
            for warning in witness.warnings:
                self.stdout.write(f"Warning: {warning}.")
        if not report.ok:
            raise CommandError(f"Audit chain broken after {report.checked} good entries: {report.problem}.", returncode=1)
