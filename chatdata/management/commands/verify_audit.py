import json

from django.core.management.base import BaseCommand, CommandError

from chatdata.audit import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain from the first entry to the last. Exit status 0 when "
        "intact, 1 naming the first entry that was altered, removed or inserted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, as_json, **options):
        report = verify_chain()
        if as_json:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.ok:
            self.stdout.write(f"Audit chain intact: {report.checked} entries verified.")
        if not report.ok:
            raise CommandError(f"Audit chain broken after {report.checked} good entries: {report.problem}.", returncode=1)
