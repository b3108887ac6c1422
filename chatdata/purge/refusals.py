"""Who may do what to a PurgeRequest, now: the rules the do_* actions (chatdata.purge.actions)
refuse by, and the pages, the API and the CLI show buttons and messages by.

Each `_*_check(request, actor)` gives (sentence, PurgeRefused code) or None; the public
`*_refusal` helpers give the sentence alone. None of them changes anything or writes to the
audit log: the actions audit the refusals they raise. A legal hold met is not among them: the
action finds it when it would start the run, and refuses then, naming the hold; nor is a changed
scope, which only a recount finds (chatdata.purge.staleness).
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from chatdata.models import PurgeRequest
from chatdata.permissions import approval_refusal, manage_refusal, request_refusal
from chatdata.purge import remainder, staleness

State = PurgeRequest.State


class PurgeRefused(Exception):
    NOT_PERMITTED = "not_permitted"
    HOLD = "hold"
    APPROVAL_NEEDED = "approval_needed"
    BAD_STATE = "bad_state"
    EXPIRED = "expired"  # the preview is older than PURGE_PREVIEW_TTL: preview again
    SCOPE_CHANGED = "scope_changed"  # the recount differs from the preview: confirm the new counts

    def __init__(self, message, code):
        super().__init__(message)
        self.message = message
        self.code = code


def is_stale(moment, now=None):
    now = now or timezone.now()
    return moment is None or moment < now - timedelta(seconds=settings.PURGE_STALE_SECONDS)


def execute_check(request, actor, now=None):
    if request.state == State.AWAITING_APPROVAL:
        return "This request is waiting for approval by another staff member.", PurgeRefused.APPROVAL_NEEDED
    if request.state != State.PREVIEWED:
        return f"Only a previewed request can be executed; this one is {request.state}.", PurgeRefused.BAD_STATE
    if actor is None or actor.pk != request.requested_by_id:
        return "Only the staff member who previewed a request can execute it.", PurgeRefused.NOT_PERMITTED
    if message := request_refusal(actor, request.purge_spec, erasure=request.erasure):
        return message, PurgeRefused.NOT_PERMITTED
    if staleness.is_expired(request, now):
        return staleness.expiry_message(request), PurgeRefused.EXPIRED
    return None


def preview_again_check(request, actor):
    if request.state != State.PREVIEWED:
        return f"Only a request still previewed can be previewed again; this one is {request.state}.", PurgeRefused.BAD_STATE
    if actor is None or actor.pk != request.requested_by_id:
        return (
            "Only the staff member who previewed a request can preview it again; make a preview of your own instead.",
            PurgeRefused.NOT_PERMITTED,
        )
    return None


def approve_check(request, actor):
    if request.state != State.AWAITING_APPROVAL:
        return f"Only a request awaiting approval can be approved; this one is {request.state}.", PurgeRefused.BAD_STATE
    if message := approval_refusal(actor, request):
        return message, PurgeRefused.NOT_PERMITTED
    return None


def reject_check(request, actor):
    if request.state != State.AWAITING_APPROVAL:
        return f"Only a request awaiting approval can be rejected; this one is {request.state}.", PurgeRefused.BAD_STATE
    if message := approval_refusal(actor, request):
        return message, PurgeRefused.NOT_PERMITTED
    return None


def cancel_check(request, actor, now=None):
    if message := manage_refusal(actor, request):
        return message, PurgeRefused.NOT_PERMITTED
    if request.state in (State.DONE, State.CANCELLED, State.REJECTED, State.CLOSED):
        return f"This request is already {request.state}.", PurgeRefused.BAD_STATE
    if request.state == State.RUNNING and request.cancel_requested and not is_stale(request.heartbeat_at, now):
        return "Cancelling was already asked for: the request stops at its next batch boundary.", PurgeRefused.BAD_STATE
    return None


def resume_check(request, actor, now=None):
    if message := manage_refusal(actor, request):
        return message, PurgeRefused.NOT_PERMITTED
    if request.state == State.FAILED:
        return None
    if request.state == State.CANCELLED:
        problem = remainder.leftover_problem(request)
        return (problem, PurgeRefused.BAD_STATE) if problem else None
    if request.state == State.RUNNING and is_stale(request.heartbeat_at, now):
        return None
    if request.state == State.QUEUED and is_stale(request.queued_at, now):
        return None
    if request.state in (State.RUNNING, State.QUEUED):
        return (
            f"This request is {request.state} and its worker is alive; it can be resumed once it has "
            f"failed or sent no heartbeat for {settings.PURGE_STALE_SECONDS} s.",
            PurgeRefused.BAD_STATE,
        )
    if request.state == State.CLOSED:
        return "This request was closed after its cancel: what it left stays for good. Preview again for a new request.", PurgeRefused.BAD_STATE
    return (
        f"Only a failed, interrupted or cancelled request can be resumed; this one is {request.state}.",
        PurgeRefused.BAD_STATE,
    )


def close_check(request, actor):
    if message := manage_refusal(actor, request):
        return message, PurgeRefused.NOT_PERMITTED
    if request.state == State.CLOSED:
        return "This request is already closed.", PurgeRefused.BAD_STATE
    if request.state != State.CANCELLED:
        return f"Only a cancelled request can be closed; this one is {request.state}.", PurgeRefused.BAD_STATE
    if problem := remainder.leftover_problem(request):
        return problem, PurgeRefused.BAD_STATE
    return None


def _sentence(check):
    return check[0] if check else None


def execute_refusal(request, actor, now=None):
    return _sentence(execute_check(request, actor, now))


def preview_again_refusal(request, actor):
    return _sentence(preview_again_check(request, actor))


def approve_refusal(request, actor):
    return _sentence(approve_check(request, actor))


def reject_refusal(request, actor):
    return _sentence(reject_check(request, actor))


def cancel_refusal(request, actor, now=None):
    return _sentence(cancel_check(request, actor, now))


def resume_refusal(request, actor, now=None):
    """Failed; running / queued with no sign of life for PURGE_STALE_SECONDS; or cancelled (the
    rest: chatdata.purge.remainder). By the requester or whoever may approve the request."""
    return _sentence(resume_check(request, actor, now))


def close_refusal(request, actor):
    """A cancelled request's rest given up for good; by those who may resume it."""
    return _sentence(close_check(request, actor))
