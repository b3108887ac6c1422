import argparse
import json
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from chatdata.models import PurgeRequest
from chatdata.parsing import InvalidNumber, InvalidText, check_options, parse_id, parse_seconds
from chatdata.purge.actions import (
    PurgeRefused,
    do_approve_purge,
    do_cancel_purge,
    do_close_purge,
    do_execute_purge,
    do_preview_again,
    do_preview_purge,
    do_reject_purge,
    do_resume_purge,
)
from chatdata.purge import remainder
from chatdata.purge.inputs import PurgeInvalid
from chatdata.purge.outbox import process_file_outbox
from chatdata.purge.preview import COUNT_KEYS
from chatdata.purge.serialize import purge_json
from chatdata.purge.validation import spec_from_external

HELP = """\
Preview, run, approve, cancel or resume a scoped deletion, as an operator would.
A dry run (preview) unless given --execute. Ids are the chat service's external ids.

Scope (one of):
  --messages ID,ID [--conversation ID]     these messages (all in that conversation, if given)
  --conversation ID [--start ISO] [--end ISO]
                                           a conversation's whole history, or the range
                                           start <= sent_at < end (either bound optional)
  --conversations ID,ID                    several conversations, each handled on its own
  --user ID [--start ISO] [--end ISO] [--conversations ID,ID]
                                           what one user sent (an erasure; needs approval)
  --matching [--text WORDS] [--senders ID,ID] [--conversation ID] [--start ISO] [--end ISO]
                                           every message a search finds, as the dashboard's
                                           search matches it (words, sender, conversation,
                                           dates); needs words, a sender or a conversation
  --senders ID,ID                          also narrows a range or --conversations (a single
                                           --conversation without bounds: that conversation) to
                                           what those users sent; ids or display names
Effect: --effect delete-for-everyone | hide-for-user | delete-conversation | delete-attachments,
        --member ID for the one-member effects, --clear-history with delete-conversation.
        delete-attachments deletes only the attachments and their files; the messages stay.
Always: --actor USERNAME --reason TEXT [--ticket REF]. Times are ISO 8601 with a timezone.

  --execute [REQUEST_ID]   run: the scope given now, or a request previewed before
  --confirm TEXT           with --execute or --approve: what the web asks a person to type for
                           a large or irreversible request (the conversation's title, the
                           user's id, or the number of messages; the preview says which)
  --wait                   wait until a queued request ends (progress on stderr)
  --approve REQUEST_ID     approve a request awaiting approval (then it runs)
  --reject REQUEST_ID      reject it (--reason required)
  --cancel / --resume / --status REQUEST_ID
                           a cancelled request resumes for the rest (waiting for a new approval
                           when the rest is above PURGE_APPROVAL_THRESHOLD)
  --close REQUEST_ID       give up for good the rest of a cancelled request (--reason optional)
  --preview-again REQUEST_ID
                           a new preview of a previewed (e.g. expired) request's scope; the old
                           one is discarded
  --process-outbox         remove attachment files left in the outbox by interrupted runs
  --json                   print one JSON object: request, state, preview, result, items

Executing an expired preview (PURGE_PREVIEW_TTL) is refused: --preview-again it. Executing one
whose scope changed since (what would go now differs from its counts) is refused with the new
counts, which become its preview: --execute it again to confirm them.

Exit status: 0 done, previewed or accepted; 2 invalid input, or a scope in which nothing would
change ("Nothing matches: no request was made."); 3 refused (legal hold, approval needed, not
permitted, preview expired, scope changed); 1 failure (failed, cancelled while waited for, or
timed out).
"""

EFFECTS = {
    "delete-for-everyone": "delete_for_everyone", "hide-for-user": "hide_for_user",
    "delete-conversation": "delete_conversation", "delete-attachments": "delete_attachments",
}
# Flags that narrow a scope, and which scopes take them (_only).
NARROWING = ("conversation", "conversations", "start", "end", "senders", "text")
INVALID, REFUSED, FAILURE = 2, 3, 1
WAIT_POLL = 0.5


class _Formatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def _ids(text):
    return [part.strip() for part in text.split(",") if part.strip()]


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        scope = parser.add_argument_group("scope")
        scope.add_argument("--messages", type=_ids, metavar="ID,ID")
        scope.add_argument("--conversation", metavar="ID")
        scope.add_argument("--conversations", type=_ids, metavar="ID,ID")
        scope.add_argument("--user", metavar="ID")
        scope.add_argument("--start", metavar="ISO")
        scope.add_argument("--end", metavar="ISO")
        scope.add_argument("--matching", action="store_true")
        scope.add_argument("--text", metavar="WORDS")
        scope.add_argument("--senders", type=_ids, metavar="ID,ID")
        parser.add_argument("--effect", choices=sorted(EFFECTS))
        parser.add_argument("--member", metavar="ID")
        parser.add_argument("--clear-history", action="store_true")
        parser.add_argument("--actor", metavar="USERNAME")
        parser.add_argument("--reason", default="")
        parser.add_argument("--ticket", default="")
        actions = parser.add_mutually_exclusive_group()
        actions.add_argument("--execute", nargs="?", const=True, default=None, metavar="REQUEST_ID")
        # Request ids and the timeout are read in handle() (chatdata.parsing), so a bad one is
        # reported like any other invalid input: exit status 2, and with --json as JSON.
        actions.add_argument("--approve", metavar="REQUEST_ID")
        actions.add_argument("--reject", metavar="REQUEST_ID")
        actions.add_argument("--cancel", metavar="REQUEST_ID")
        actions.add_argument("--resume", metavar="REQUEST_ID")
        actions.add_argument("--close", metavar="REQUEST_ID")
        actions.add_argument("--preview-again", metavar="REQUEST_ID")
        actions.add_argument("--status", metavar="REQUEST_ID")
        actions.add_argument("--process-outbox", action="store_true")
        parser.add_argument("--confirm", default="", metavar="TEXT")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--wait-timeout", metavar="SECONDS", help="give up waiting after this long")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, **options):
        self.options = options
        self.as_json = options["as_json"]
        request = None
        self._refused_request = None
        try:
            check_options(options)
            request, exit_code = self._dispatch(options)
        except (PurgeInvalid, InvalidText) as exc:
            self._fail(INVALID, "invalid", exc.message, field=exc.field)
        except PurgeRefused as exc:
            message, pk = exc.message, getattr(self._refused_request, "pk", None)
            if exc.code == PurgeRefused.SCOPE_CHANGED and pk is not None:
                if not self.as_json:
                    self._report(self._refused_request)  # the new counts
                message += f" (--execute {pk} again confirms the new counts.)"
            elif exc.code == PurgeRefused.EXPIRED and pk is not None:
                message += f" (--preview-again {pk})"
            self._fail(REFUSED, exc.code, message)
        if request is not None:
            self._report(request)
            if exit_code:
                raise CommandError(self._exit_message(request), returncode=exit_code)

    # --- what to do -------------------------------------------------------------------------

    def _dispatch(self, o):
        if o["wait_timeout"] is not None:
            o["wait_timeout"] = self._number(parse_seconds, o["wait_timeout"], "--wait-timeout")
        if o["process_outbox"]:
            settled = process_file_outbox()
            self.stdout.write(json.dumps({"outbox_settled": settled}) if self.as_json else f"{settled} outbox entries settled.")
            return None, 0
        if o["status"] is not None:
            request = self._request(o["status"], "--status")
            return self._wait(request) if o["wait"] else request, 0
        given = {
            flag: o[flag] for flag in ("approve", "reject", "cancel", "resume", "close", "preview_again") if o[flag] is not None
        }
        if o["execute"] not in (None, True):
            given["execute"] = o["execute"]
        requests = {flag: self._request(value, f"--{flag.replace('_', '-')}") for flag, value in given.items()}
        actor = self._actor(o["actor"])
        typed = o["confirm"]
        if "approve" in requests:
            return self._outcome(do_approve_purge(requests["approve"], actor=actor, confirmation=typed))
        if "reject" in requests:
            return do_reject_purge(requests["reject"], actor=actor, reason=o["reason"]), 0
        if "cancel" in requests:
            return do_cancel_purge(requests["cancel"], actor=actor), 0
        if "resume" in requests:
            return self._outcome(do_resume_purge(requests["resume"], actor=actor))
        if "close" in requests:
            return do_close_purge(requests["close"], actor=actor, reason=o["reason"]), 0
        if "preview_again" in requests:
            return do_preview_again(requests["preview_again"], actor=actor), 0
        if "execute" in requests:
            self._refused_request = requests["execute"]
            return self._outcome(do_execute_purge(requests["execute"], actor=actor, confirmation=typed))
        request = do_preview_purge(self._spec(o), actor=actor, reason=o["reason"], ticket=o["ticket"])
        if o["execute"] is None:
            return request, 0
        try:
            return self._outcome(do_execute_purge(request, actor=actor, confirmation=typed))
        except PurgeInvalid as exc:
            raise PurgeInvalid(
                f"Purge request #{request.pk} is previewed, not run: {exc.message} "
                f"(manage.py purge --execute {request.pk} --confirm …)", exc.field,
            ) from None

    def _outcome(self, request):
        """Wait if asked, then map the state to an exit status."""
        if self.options["wait"]:
            request = self._wait(request)
        if request.state == PurgeRequest.State.AWAITING_APPROVAL:
            return request, REFUSED
        if request.state in (PurgeRequest.State.FAILED, PurgeRequest.State.CANCELLED):
            return request, FAILURE
        if self.options["wait"] and request.state in (PurgeRequest.State.QUEUED, PurgeRequest.State.RUNNING):
            return request, FAILURE  # timed out
        return request, 0

    def _wait(self, request):
        deadline = None if self.options["wait_timeout"] is None else time.monotonic() + self.options["wait_timeout"]
        shown = None
        while request.state in (PurgeRequest.State.QUEUED, PurgeRequest.State.RUNNING, PurgeRequest.State.APPROVED):
            if deadline is not None and time.monotonic() > deadline:
                break
            line = f"#{request.pk} {request.state}: {request.processed_messages}/{request.total_messages} messages"
            if line != shown and not self.as_json:
                self.stderr.write(line)
                shown = line
            time.sleep(WAIT_POLL)
            request.refresh_from_db()
        return request

    # --- input ------------------------------------------------------------------------------

    def _actor(self, username):
        if not username:
            raise PurgeInvalid("Name the staff member acting: --actor USERNAME.", "actor")
        actor = get_user_model().objects.filter(username=username, is_active=True).first()
        if actor is None:
            raise PurgeInvalid(f"No active staff account named {username!r}.", "actor")
        return actor

    def _number(self, parse, value, flag):
        try:
            return parse(value, flag)
        except InvalidNumber as exc:
            raise PurgeInvalid(exc.message, flag) from None

    def _request(self, value, flag):
        pk = self._number(parse_id, value, flag)
        request = PurgeRequest.objects.filter(pk=pk).first()
        if request is None:
            raise PurgeInvalid(f"No purge request #{pk}.", "request")
        return request

    def _spec(self, o):
        chosen = [name for name in ("matching", "messages", "user", "conversations", "conversation") if o[name]]
        if not chosen:
            raise PurgeInvalid("Choose a scope: --messages, --conversation, --conversations, --user or --matching.", "scope")
        if not o["effect"]:
            raise PurgeInvalid(f"Choose an effect: --effect {' | '.join(sorted(EFFECTS))}.", "effect")
        bounds = {"start": o["start"], "end": o["end"]}
        senders = {"senders": o["senders"]} if o["senders"] else {}
        if o["text"] is not None and not o["matching"]:
            raise PurgeInvalid("--text goes with --matching.", "text")
        if o["matching"]:
            for name in ("messages", "user", "conversations"):
                if o[name]:
                    raise PurgeInvalid(f"--{name} does not go with --matching.", name)
            scope = {"kind": "matching", "text": o["text"] or "", "senders": o["senders"] or [],
                     "conversation": o["conversation"], **bounds}
        elif o["messages"] is not None:
            self._only(o, "messages", allowed={"conversation"})
            scope = {"kind": "messages", "ids": o["messages"], "conversation": o["conversation"]}
        elif o["user"]:
            self._only(o, "user", allowed={"conversations", "start", "end"})
            scope = {"kind": "user", "user": o["user"], "conversations": o["conversations"] or [], **bounds}
        elif o["conversations"] is not None:
            self._only(o, "conversations", allowed={"senders"})
            scope = {"kind": "conversations", "conversations": o["conversations"], **senders}
        elif o["start"] or o["end"]:
            scope = {"kind": "range", "conversation": o["conversation"], **bounds, **senders}
        elif senders:
            # A whole conversation narrowed to some senders: a batch of one.
            scope = {"kind": "conversations", "conversations": [o["conversation"]], **senders}
        else:
            scope = {"kind": "conversation", "conversation": o["conversation"]}
        return spec_from_external(
            {"scope": scope, "effect": EFFECTS[o["effect"]], "member": o["member"], "clear_history": o["clear_history"]}
        )

    def _only(self, o, kind, allowed):
        for name in NARROWING:
            if name != kind and name not in allowed and o[name]:
                raise PurgeInvalid(f"--{name} does not go with --{kind}.", name)

    # --- output -----------------------------------------------------------------------------

    def _fail(self, code, kind, message, field=None):
        if self.as_json:
            self.stdout.write(json.dumps({"request": None, "state": None, "error": {"code": kind, "message": message, "field": field}}))
        raise CommandError(message, returncode=code)

    def _exit_message(self, request):
        if request.state == PurgeRequest.State.AWAITING_APPROVAL:
            return f"purge request #{request.pk} needs approval by another staff member (manage.py purge --approve {request.pk})."
        if request.state == PurgeRequest.State.FAILED:
            return f"purge request #{request.pk} failed: {request.error} (resume with --resume {request.pk})."
        return f"purge request #{request.pk} ended {request.state}."

    def _report(self, request):
        request.refresh_from_db()
        if self.as_json:
            self.stdout.write(json.dumps(purge_json(request), ensure_ascii=False))
            return
        preview = request.preview or {}
        shown = f"{request.state} (expired)" if request.is_expired else request.state
        self.stdout.write(f"Purge request #{request.pk}: {shown}")
        self.stdout.write(f"  {request.effect} of {request.target}")
        self.stdout.write("  previewed: " + ", ".join(f"{k} {preview.get(k, 0)}" for k in COUNT_KEYS))
        if request.result is not None:
            self.stdout.write("  executed:  " + ", ".join(f"{k} {request.result.get(k, 0)}" for k in COUNT_KEYS))
            if request.result.get("beyond_preview"):
                self.stdout.write(
                    f"  left in place: {request.result['beyond_preview']} messages matched beyond the preview's count "
                    "(stored after the preview, below its high-water mark)"
                )
        self.stdout.write(f"  excluded by legal hold: {preview.get('excluded_by_hold', 0)}; high-water mark: {preview.get('high_water_mark')}")
        for hold in preview.get("holds", []):
            self.stdout.write(f"    {hold['description']}: {hold['messages']} messages kept")
        for label, rows in (("first", preview.get("sample_first", [])), ("last", preview.get("sample_last", []))):
            for row in rows:
                self.stdout.write(f"  {label}: {row['sent_at']} {row['conversation']} {row['sender']}: {row['body']}")
        for item in request.items.order_by("position"):
            self.stdout.write(f"  {item.conversation_external_id}: {item.status} {item.reason}".rstrip())
        if request.state == PurgeRequest.State.CANCELLED and not remainder.leftover_problem(request):
            self.stdout.write(
                f"  Cancelled with {remainder.remaining_messages(request)} messages left: --resume {request.pk} "
                f"runs the rest, --close {request.pk} gives it up for good."
            )
        if request.state == PurgeRequest.State.PREVIEWED and request.is_expired:
            self.stdout.write(f"  The preview expired (PURGE_PREVIEW_TTL): --preview-again {request.pk} makes a new one.")
        elif request.state == PurgeRequest.State.PREVIEWED:
            how = "inline" if request.runs_inline else "as a background job"
            approval = " after approval by another staff member" if request.needs_approval else ""
            self.stdout.write(f"  Dry run. --execute {request.pk} runs it {how}{approval}.")
