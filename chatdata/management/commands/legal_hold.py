import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from chatdata.models import ChatUser, Conversation, LegalHold
from chatdata.parsing import InvalidText, argparse_type, check_options, parse_id
from chatdata.purge.holds import HoldRefused, do_add_legal_hold, do_release_legal_hold, hold_scope
from chatdata.purge.inputs import PurgeInvalid

HELP = """\
Place, release and list legal holds. A user hold keeps every message that user sent (in the
window, if given); a conversation hold keeps the conversation and its messages. Held messages
are left out of every deletion, and an erasure of a held user is refused.

  legal_hold add --user ID | --conversation ID [--start ISO] [--end ISO] --reason TEXT --actor USERNAME
  legal_hold release HOLD_ID --actor USERNAME [--reason TEXT]
  legal_hold list [--all]

Exit status: 0 done, 2 invalid input, 3 refused (the actor may not manage holds).
"""


class Command(BaseCommand):
    help = HELP

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)
        add = sub.add_parser("add", help="place a hold")
        subject = add.add_mutually_exclusive_group(required=True)
        subject.add_argument("--user", metavar="ID", help="external id of the chat user")
        subject.add_argument("--conversation", metavar="ID", help="external id of the conversation")
        add.add_argument("--start", metavar="ISO")
        add.add_argument("--end", metavar="ISO")
        add.add_argument("--reason", required=True)
        add.add_argument("--actor", required=True, metavar="USERNAME")
        add.add_argument("--json", action="store_true", dest="as_json")
        release = sub.add_parser("release", help="release a hold")
        release.add_argument("hold", type=argparse_type(parse_id, "HOLD_ID"), metavar="HOLD_ID")
        release.add_argument("--actor", required=True, metavar="USERNAME")
        release.add_argument("--reason", default="")
        release.add_argument("--json", action="store_true", dest="as_json")
        listing = sub.add_parser("list", help="list active holds")
        listing.add_argument("--all", action="store_true", help="include released holds")
        listing.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, command, as_json=False, **options):
        try:
            check_options(options)
            if command == "list":
                holds = LegalHold.objects.select_related("created_by", "released_by").order_by("id")
                if not options["all"]:
                    holds = holds.filter(released_at__isnull=True)
                self._print([hold_scope(h) for h in holds], as_json, many=True)
                return
            actor = get_user_model().objects.filter(username=options["actor"], is_active=True).first()
            if actor is None:
                raise PurgeInvalid(f"No active staff account named {options['actor']!r}.", "actor")
            if command == "add":
                hold = do_add_legal_hold(
                    actor=actor,
                    user=self._get(ChatUser, options["user"], "chat user"),
                    conversation=self._get(Conversation, options["conversation"], "conversation"),
                    start=options["start"],
                    end=options["end"],
                    reason=options["reason"],
                )
            else:
                hold = LegalHold.objects.filter(pk=options["hold"]).first()
                if hold is None:
                    raise PurgeInvalid(f"No legal hold #{options['hold']}.", "hold")
                hold = do_release_legal_hold(hold, actor=actor, reason=options["reason"])
            self._print(hold_scope(hold), as_json)
        except (PurgeInvalid, InvalidText) as exc:
            raise CommandError(exc.message, returncode=2) from None
        except HoldRefused as exc:
            raise CommandError(exc.message, returncode=3) from None

    def _get(self, model, external_id, noun):
        if external_id is None:
            return None
        found = model.objects.filter(external_id=external_id).first()
        if found is None:
            raise PurgeInvalid(f"No {noun} with id {external_id}.", noun)
        return found

    def _print(self, data, as_json, many=False):
        if as_json:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        for hold in data if many else [data]:
            window = f" {hold['start'] or '…'} to {hold['end'] or '…'}" if hold["start"] or hold["end"] else ""
            state = f"released {hold['released_at']} by {hold['released_by']}" if hold["released_at"] else "active"
            self.stdout.write(f"#{hold['hold']} {hold['kind']} {hold['subject']}{window}: {hold['reason']} ({state})")
        if many and not data:
            self.stdout.write("No legal holds.")
