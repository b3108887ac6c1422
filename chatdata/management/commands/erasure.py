import argparse
import json
import os
import sys
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.utils import timezone

from chatdata.erasure.actions import (
    do_approve_erasure,
    do_erase_outside_holds,
    do_cancel_erasure,
    do_open_erasure,
    do_reject_erasure,
    do_resume_erasure,
)
from chatdata.erasure.certificate import do_issue_certificate, render, verify
from chatdata.erasure.export import do_export_erasure
from chatdata.erasure.overview import DUE_SOON, erasure_requests
from chatdata.erasure.serialize import erasure_json, erasure_summary
from chatdata.management.commands.purge import FAILURE, INVALID, REFUSED, WAIT_POLL
from chatdata.models import ErasureRequest
from chatdata.parsing import InvalidText, check_options
from chatdata.purge.actions import PurgeRefused
from chatdata.purge.inputs import PurgeInvalid

HELP = """\
Data-erasure requests (GDPR Art. 15/17 and the like), from intake to a signed certificate; the
same actions as the web. Chat user ids are the chat service's external ids.

  erasure open --user ID --ticket REF [--received ISO] [--peer-conversations keep|delete]
               --actor USERNAME [--note TEXT] [--outside-holds]
  erasure list [--state S] [--overdue]
  erasure show REQ
  erasure approve REQ --actor USERNAME --confirm ID [--wait]
                                                    a second compliance officer or an admin, typing the
                                                    subject's id as on the web; it then runs
  erasure reject REQ --actor USERNAME --reason TEXT
  erasure cancel REQ --actor USERNAME [--wait]
  erasure resume REQ --actor USERNAME [--wait]      blocked (hold released) or failed: go on
  erasure outside-holds REQ --actor USERNAME        blocked by a hold on the subject: erase everything
                                                    the hold does not keep instead (approved again)
  erasure export REQ --out FILE.zip --actor USERNAME   the subject's data (before the erasure)
  erasure certificate REQ [--out FILE.json] [--actor USERNAME]
  erasure verify-certificate FILE.json

--wait waits until a run ends (progress on stderr; --wait-timeout SECONDS gives up); --json prints
one JSON object with `request` and `state` (show: also subject, due_at, counts, residue, kept).
A request is due ERASURE_DEADLINE_DAYS after --received (default: now). A legal hold on the subject
blocks it (unless opened with --outside-holds, or sent on with outside-holds: then the held
messages and the subject's row stay, and the rest is erased); a conversation hold keeps its
messages, listed in the certificate.

Exit status: 0 done or shown; 2 invalid input (or an unreadable certificate); 3 refused (not
permitted, blocked by a legal hold, or not possible in the request's state); 1 failure (the run
failed or was cancelled while waited for, a wait timed out, or a certificate is not genuine).
"""

STATES = [choice for choice, _ in ErasureRequest.State.choices]
RUNNING = (ErasureRequest.State.RUNNING, ErasureRequest.State.VERIFYING)


class _Formatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)

        def command(name, help_text, *, request=True, actor=None, wait=False):
            p = sub.add_parser(name, help=help_text)
            if request:
                p.add_argument("request", metavar="REQ", help="the erasure request's number")
            if actor is not None:
                p.add_argument("--actor", metavar="USERNAME", required=actor, help="the staff member acting")
            if wait:
                p.add_argument("--wait", action="store_true", help="wait until the run ends")
                p.add_argument("--wait-timeout", type=float, metavar="SECONDS", help="give up waiting after this long")
            p.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object")
            return p

        opened = command("open", "record a data subject's request", request=False, actor=True)
        opened.add_argument("--user", required=True, metavar="ID", help="the data subject (a chat user's id)")
        opened.add_argument("--ticket", required=True, metavar="REF")
        opened.add_argument("--received", metavar="ISO", help="when the request was received (default: now)")
        opened.add_argument("--peer-conversations", choices=["keep", "delete"], default="keep")
        opened.add_argument("--note", default="", metavar="TEXT")
        opened.add_argument("--outside-holds", action="store_true",
                            help="if a legal hold covers the subject, erase everything it does not keep")
        listing = command("list", "list requests, due first", request=False)
        listing.add_argument("--state", choices=STATES)
        listing.add_argument("--overdue", action="store_true", help="only pending requests past their due date")
        command("show", "show one request")
        command("approve", "approve a request (then it runs)", actor=True, wait=True).add_argument(
            "--confirm", default="", metavar="ID", help="the data subject's id, typed as on the web")
        command("reject", "reject a request", actor=True).add_argument("--reason", required=True)
        command("cancel", "cancel a request", actor=True, wait=True)
        command("resume", "resume a blocked or failed request", actor=True, wait=True)
        command("outside-holds", "erase everything a hold on the subject does not keep (approved again)", actor=True)
        command("export", "export the subject's data as a ZIP", actor=True).add_argument("--out", required=True, metavar="FILE.zip")
        command("certificate", "write the signed certificate", actor=False).add_argument("--out", metavar="FILE.json")
        checked = sub.add_parser("verify-certificate", help="is a certificate genuine and unaltered?")
        checked.add_argument("file", metavar="FILE.json")
        checked.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, command, as_json=False, **options):
        self.as_json = as_json
        self.options = options
        try:
            check_options(options)
            handler = getattr(self, "_" + command.replace("-", "_"))
            handler(**options)
        except (PurgeInvalid, InvalidText) as exc:
            self._fail(INVALID, "invalid", exc.message, field=exc.field)
        except PurgeRefused as exc:
            self._fail(REFUSED, exc.code, exc.message)

    # --- the subcommands --------------------------------------------------------------------------

    def _open(self, *, user, ticket, received, peer_conversations, note, actor, outside_holds, **_):
        erasure = do_open_erasure(
            actor=self._actor(actor), subject=user, ticket=ticket, received_at=received, peer_conversations=peer_conversations, notes=note,
            outside_holds=outside_holds,
        )
        self._outcome(erasure, refused_states=(ErasureRequest.State.BLOCKED,))

    def _list(self, *, state, overdue, **_):
        now = timezone.now()
        rows = [erasure_summary(e, now) for e in erasure_requests(state=state, overdue=overdue, now=now)]
        if self.as_json:
            self.stdout.write(json.dumps({"request": None, "state": state, "requests": rows}, ensure_ascii=False))
            return
        for row in rows:
            due = "OVERDUE" if row["overdue"] else (f"{row['days_left']} days left" if row["days_left"] is not None else "")
            due += " (due soon)" if row["urgency"] == DUE_SOON else ""
            self.stdout.write(
                f"#{row['request']:<5} {row['state']:<18} {row['ticket']:<14} {row['subject']:<24} due {row['due_at'][:10]} {due}".rstrip()
            )
        if not rows:
            self.stdout.write("No erasure requests.")

    def _show(self, *, request, **_):
        self._report(self._request(request))

    def _approve(self, *, request, actor, confirm, **_):
        erasure = do_approve_erasure(self._request(request), actor=self._actor(actor), confirmation=confirm)
        self._outcome(erasure, refused_states=(ErasureRequest.State.BLOCKED,))

    def _reject(self, *, request, actor, reason, **_):
        self._report(do_reject_erasure(self._request(request), actor=self._actor(actor), reason=reason))

    def _cancel(self, *, request, actor, **_):
        self._outcome(do_cancel_erasure(self._request(request), actor=self._actor(actor)), cancelling=True)

    def _resume(self, *, request, actor, **_):
        erasure = do_resume_erasure(self._request(request), actor=self._actor(actor))
        self._outcome(erasure, refused_states=(ErasureRequest.State.BLOCKED,))

    def _outside_holds(self, *, request, actor, **_):
        self._report(do_erase_outside_holds(self._request(request), actor=self._actor(actor)))

    def _export(self, *, request, out, actor, **_):
        erasure, actor = self._request(request), self._actor(actor)
        partial = f"{out}.part"
        try:
            with open(partial, "wb") as handle:
                counts = do_export_erasure(erasure, handle, actor=actor)
            os.replace(partial, out)
        except OSError as exc:
            raise PurgeInvalid(f"Cannot write {out}: {exc.strerror}.", "out") from None
        finally:
            if os.path.exists(partial):
                os.remove(partial)
        if self.as_json:
            self.stdout.write(json.dumps({"request": erasure.pk, "state": erasure.state, "out": out, "counts": counts}))
        else:
            self.stdout.write(f"Wrote {out}: " + ", ".join(f"{n} {what}" for what, n in counts.items()) + ".")

    def _certificate(self, *, request, out, actor, **_):
        erasure = self._request(request)
        document = do_issue_certificate(erasure, actor=self._actor(actor) if actor else None)
        text = render(document)
        if out:
            try:
                with open(out, "w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
            except OSError as exc:
                raise PurgeInvalid(f"Cannot write {out}: {exc.strerror}.", "out") from None
        if self.as_json:
            self.stdout.write(json.dumps({"request": erasure.pk, "state": erasure.state, "out": out, "certificate": document}, ensure_ascii=False))
        elif out:
            self.stdout.write(f"Wrote the certificate of erasure #{erasure.pk} to {out}.")
        else:
            self.stdout.write(text, ending="")

    def _verify_certificate(self, *, file, **_):
        try:
            with open(file, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}", returncode=INVALID) from None
        verdict = verify(data)
        request = None
        try:
            request = json.loads(data).get("request")
        except (ValueError, AttributeError, UnicodeDecodeError):
            pass
        if self.as_json:
            self.stdout.write(json.dumps({"request": request, "state": "genuine" if verdict.genuine else "not genuine", "genuine": verdict.genuine, "reason": verdict.message}))
        if verdict.genuine:
            if not self.as_json:
                self.stdout.write(f"{file}: genuine and unaltered.")
            return
        raise CommandError(f"{file} is not genuine: {verdict.message}", returncode=verdict.code)

    # --- helpers ------------------------------------------------------------------------------------

    def _actor(self, username):
        if not username:
            raise PurgeInvalid("Name the staff member acting: --actor USERNAME.", "actor")
        actor = get_user_model().objects.filter(username=username, is_active=True).first()
        if actor is None:
            raise PurgeInvalid(f"No active staff account named {username!r}.", "actor")
        return actor

    def _request(self, pk):
        try:
            return ErasureRequest.objects.select_related("subject").get(pk=int(str(pk).lstrip("#")))
        except (ErasureRequest.DoesNotExist, ValueError):
            raise PurgeInvalid(f"No erasure request #{pk}.", "request") from None

    def _outcome(self, erasure, *, refused_states=(), cancelling=False):
        """Wait if asked, report, then exit with the status the state means."""
        if self.options.get("wait"):
            erasure = self._wait(erasure)
        erasure.refresh_from_db()
        self._report(erasure)
        state = erasure.state
        if state in refused_states:
            raise CommandError(f"erasure #{erasure.pk} is blocked: {erasure.blocked_reason}", returncode=REFUSED)
        if state == ErasureRequest.State.FAILED or (state == ErasureRequest.State.CANCELLED and not cancelling):
            raise CommandError(f"erasure #{erasure.pk} ended {state}: {erasure.error or 'cancelled'}", returncode=FAILURE)
        if self.options.get("wait") and state in RUNNING:
            raise CommandError(f"erasure #{erasure.pk} is still {state}: gave up waiting.", returncode=FAILURE)

    def _wait(self, erasure):
        timeout = self.options.get("wait_timeout")
        deadline = None if timeout is None else time.monotonic() + timeout
        shown = None
        while erasure.state in RUNNING:
            if deadline is not None and time.monotonic() > deadline:
                break
            purges = ", ".join(f"purge #{p['request']} {p['state']} {p['processed_messages']}/{p['total_messages']}" for p in erasure_json(erasure)["purges"])
            line = f"erasure #{erasure.pk} {erasure.state} ({erasure.phase}){': ' + purges if purges else ''}"
            if line != shown and not self.as_json:
                self.stderr.write(line)
                shown = line
            time.sleep(WAIT_POLL)
            erasure.refresh_from_db()
        return erasure

    def _fail(self, code, kind, message, field=None):
        if self.as_json:
            self.stdout.write(json.dumps({"request": None, "state": None, "error": {"code": kind, "message": message, "field": field}}))
        raise CommandError(message, returncode=code)

    def _report(self, erasure):
        data = erasure_json(erasure)
        if self.as_json:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        write = self.stdout.write
        write(f"Erasure #{data['request']}: {data['state']}" + (f" ({data['phase']})" if data["state"] in RUNNING else ""))
        write(f"  subject {data['subject']} (pseudonym {data['subject_pseudonym']}), ticket {data['ticket']}")
        due = "overdue" if data["overdue"] else (f"{data['days_left']} days left" if data["days_left"] is not None else "")
        write(f"  received {data['received_at']}, due {data['due_at']} {due}".rstrip())
        write(f"  peer conversations: {data['peer_conversations']}; requested by {data['requested_by']}"
              + (f", approved by {data['approved_by']}" if data["approved_by"] else ""))
        for label, key in (("blocked", "blocked_reason"), ("rejected", "rejection_reason"), ("error", "error")):
            if data[key]:
                write(f"  {label}: {data[key]}")
        for purge in data["purges"]:
            write(f"  purge #{purge['request']} ({purge['scope']}, {purge['effect']}): {purge['state']}, "
                  f"{purge['processed_messages']}/{purge['total_messages']} messages")
        for label, key in (("deleted", "counts"), ("residue", "residue")):
            if data[key]:
                write(f"  {label}: " + ", ".join(f"{table} {n}" for table, n in data[key].items()))
        for entry in data["kept"] or []:
            what = ", ".join(f"{k} {v}" for k, v in entry.items() if isinstance(v, int) and k != "hold")
            write(f"  kept: {entry.get('description') or entry.get('reason')}: {what}")
        if data["certificate"]:
            write(f"  certificate: manage.py erasure certificate {data['request']} --out FILE.json")
        sys.stdout.flush()
