"""The purge actions: every change to a PurgeRequest goes through one of these, from the web, the
API and `manage.py purge` alike.

    request = do_preview_purge(spec, actor=mona, reason="spam wave", ticket="T-12")   # previewed
    request = do_execute_purge(request, actor=mona, confirmation="1234")   # done | queued | awaiting_approval | failed
    request = do_approve_purge(request, actor=max, confirmation="1234")    # then runs at once, inline or queued
    do_reject_purge(request, actor=max, reason="too broad")
    do_cancel_purge(request, actor=mona)              # stops at the next batch boundary
    do_resume_purge(request, actor=mona)              # failed, or running with a dead worker

Each takes the acting staff member as keyword-only `actor` (and optional `ip` for the audit log),
writes its audit entry in the same transaction as the state change, and raises:
- PurgeInvalid (chatdata.purge.scopes) for input that cannot run, for a scope in which nothing
  would change ("Nothing matches: no request was made."), and for a typed `confirmation` that does
  not confirm the request (chatdata.purge.confirmation: the same rule for the requester executing
  and the second person approving); nothing is written;
- PurgeRefused with `.code` 'not_permitted', 'hold', 'approval_needed' or 'bad_state' for a
  request the rules forbid. Every refusal is itself audited, once (`purge.refused`, through
  chatdata.audit.audit_refusal), so attempts show in the log.

The `*_refusal(request, actor)` helpers say, without changing anything, whether an action is open
to someone now (None) or why not (a sentence): the pages show buttons by them, and the actions
refuse by them. A legal hold met is not among them: the action finds it when it would start the
run, and refuses then, naming the hold.

Only the requester executes their request (so approval is always by a second person); the
size decides the rest: above PURGE_APPROVAL_THRESHOLD messages, and for every erasure, it waits
for approval; up to PURGE_INLINE_LIMIT it runs inside the call, otherwise an RQ job runs it.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatdata.audit import audit_refusal, write_audit
from chatdata.models import PurgeItem, PurgeRequest
from chatdata.parsing import InvalidText, check_text
from chatdata.permissions import approval_refusal, manage_refusal, request_refusal
from chatdata.purge.confirmation import check_confirmation
from chatdata.purge.execute import run_or_fail
from chatdata.purge.holds import hold_refusal_message, holds_meeting
from chatdata.purge.jobs import enqueue_purge
from chatdata.purge.predicates import active_holds, holds_for
from chatdata.purge.preview import (
    COUNT_KEYS,
    changes_nothing,
    compute_preview,
    high_water_mark,
    nothing_matches_message,
    read_snapshot,
    units_of,
)
from chatdata.purge.scopes import PurgeInvalid
from chatdata.purge.validation import check_spec

State = PurgeRequest.State


class PurgeRefused(Exception):
    NOT_PERMITTED = "not_permitted"
    HOLD = "hold"
    APPROVAL_NEEDED = "approval_needed"
    BAD_STATE = "bad_state"

    def __init__(self, message, code):
        super().__init__(message)
        self.message = message
        self.code = code


def counts_of(preview_or_result):
    return {key: (preview_or_result or {}).get(key, 0) for key in COUNT_KEYS}


def _audit(action, request, *, actor, ip=None, counts=None, reason=None):
    write_audit(
        action,
        actor=actor,
        target=request.target,
        scope=request.spec,
        counts=counts if counts is not None else counts_of(request.preview),
        purge_request=request,
        reason=request.reason if reason is None else reason,
        ticket=request.ticket,
        ip=ip,
    )


def _refuse(message, code, *, actor, spec_dict=None, target="", request=None, ip=None):
    """Audit a refused attempt (after the caller's transaction: call it outside), then raise."""
    audit_refusal(
        "purge.refused",
        message,
        actor=actor,
        target=request.target if request else target,
        scope=request.spec if request else spec_dict,
        purge_request=request,
        ip=ip,
    )
    raise PurgeRefused(message, code)


def _text(value, field):
    """Free text from outside, stripped; PurgeInvalid for what PostgreSQL cannot store."""
    try:
        return check_text((value or "").strip(), field)
    except InvalidText as exc:
        raise PurgeInvalid(exc.message, field) from None


def _is_stale(moment, now=None):
    now = now or timezone.now()
    return moment is None or moment < now - timedelta(seconds=settings.PURGE_STALE_SECONDS)


# --- who may do what, now (for the pages' buttons; the actions ask the same) ----------------------
# The checks give (sentence, PurgeRefused code) or None; the public helpers give the sentence.


def _execute_check(request, actor):
    if request.state == State.AWAITING_APPROVAL:
        return "This request is waiting for approval by another staff member.", PurgeRefused.APPROVAL_NEEDED
    if request.state != State.PREVIEWED:
        return f"Only a previewed request can be executed; this one is {request.state}.", PurgeRefused.BAD_STATE
    if actor is None or actor.pk != request.requested_by_id:
        return "Only the staff member who previewed a request can execute it.", PurgeRefused.NOT_PERMITTED
    if message := request_refusal(actor, request.purge_spec, erasure=request.erasure):
        return message, PurgeRefused.NOT_PERMITTED
    return None


def _approve_check(request, actor):
    if request.state != State.AWAITING_APPROVAL:
        return f"Only a request awaiting approval can be approved; this one is {request.state}.", PurgeRefused.BAD_STATE
    if message := approval_refusal(actor, request):
        return message, PurgeRefused.NOT_PERMITTED
    return None


def _reject_check(request, actor):
    if request.state != State.AWAITING_APPROVAL:
        return f"Only a request awaiting approval can be rejected; this one is {request.state}.", PurgeRefused.BAD_STATE
    if message := approval_refusal(actor, request):
        return message, PurgeRefused.NOT_PERMITTED
    return None


def _cancel_check(request, actor, now=None):
    if message := manage_refusal(actor, request):
        return message, PurgeRefused.NOT_PERMITTED
    if request.state in (State.DONE, State.CANCELLED, State.REJECTED):
        return f"This request is already {request.state}.", PurgeRefused.BAD_STATE
    if request.state == State.RUNNING and request.cancel_requested and not _is_stale(request.heartbeat_at, now):
        return "Cancelling was already asked for: the request stops at its next batch boundary.", PurgeRefused.BAD_STATE
    return None


def _resume_check(request, actor, now=None):
    if message := manage_refusal(actor, request):
        return message, PurgeRefused.NOT_PERMITTED
    if request.state == State.FAILED:
        return None
    if request.state == State.RUNNING and _is_stale(request.heartbeat_at, now):
        return None
    if request.state == State.QUEUED and _is_stale(request.queued_at, now):
        return None
    if request.state in (State.RUNNING, State.QUEUED):
        return (
            f"This request is {request.state} and its worker is alive; it can be resumed once it has "
            f"failed or sent no heartbeat for {settings.PURGE_STALE_SECONDS} s.",
            PurgeRefused.BAD_STATE,
        )
    return f"Only a failed or interrupted request can be resumed; this one is {request.state}.", PurgeRefused.BAD_STATE


def _sentence(check):
    return check[0] if check else None


def execute_refusal(request, actor):
    return _sentence(_execute_check(request, actor))


def approve_refusal(request, actor):
    return _sentence(_approve_check(request, actor))


def reject_refusal(request, actor):
    return _sentence(_reject_check(request, actor))


def cancel_refusal(request, actor, now=None):
    return _sentence(_cancel_check(request, actor, now))


def resume_refusal(request, actor, now=None):
    """Failed, or running / queued with no sign of life for PURGE_STALE_SECONDS; by the
    requester or whoever may approve the request."""
    return _sentence(_resume_check(request, actor, now))


def do_preview_purge(spec, *, actor, reason, ticket="", ip=None, erasure=None):
    """Validate, count and freeze a spec into a `previewed` PurgeRequest. `erasure`: the
    ErasureRequest it carries out (its rules apply, and its approver approves it)."""
    reason = _text(reason, "reason")
    ticket = _text(ticket, "ticket")
    if not reason:
        raise PurgeInvalid("Give a reason: it goes into the audit log.", "reason")
    if len(ticket) > 100:
        raise PurgeInvalid("The ticket reference is longer than 100 characters.", "ticket")
    refusal = request_refusal(actor, spec, erasure=erasure)
    if refusal:
        _refuse(refusal, PurgeRefused.NOT_PERMITTED, actor=actor, spec_dict=spec.to_dict(), ip=ip)
    with read_snapshot():
        resolved = check_spec(spec)
        hwm, holds = high_water_mark(), active_holds()
        met = _meeting(spec, hwm=hwm, holds=holds, erasure=erasure)
        if not met:
            preview, item_previews = compute_preview(spec, resolved=resolved, hwm=hwm, holds=holds)
    if met:
        _refuse(
            hold_refusal_message(spec, met), PurgeRefused.HOLD, actor=actor, spec_dict=spec.to_dict(), target=resolved.target, ip=ip
        )
    if changes_nothing(spec, preview):
        raise PurgeInvalid(nothing_matches_message(preview))
    with transaction.atomic():
        request = PurgeRequest.objects.create(
            state=State.PREVIEWED,
            spec=spec.to_dict(),
            scope_kind=spec.kind,
            effect=spec.effect,
            target=resolved.target,
            requested_by=actor,
            reason=reason,
            ticket=ticket,
            preview=preview,
            high_water_mark=hwm,
            preview_holds=[hold.pk for hold in holds],
            needs_approval=preview["needs_approval"] or erasure is not None,
            runs_inline=preview["runs_inline"],
            total_messages=preview["messages"],
            erasure=erasure,
        )
        PurgeItem.objects.bulk_create(
            PurgeItem(
                request=request,
                position=position,
                conversation_pk=pk,
                conversation_external_id=resolved.conversations[pk].external_id,
                status=PurgeItem.Status.REFUSED if pk in resolved.refused else PurgeItem.Status.PENDING,
                reason=resolved.refused.get(pk, ""),
                preview=item_previews.get(pk, {}),
            )
            for position, pk in enumerate(units_of(spec))
            if pk is not None
        )
        _audit("purge.preview", request, actor=actor, ip=ip)
    return request


def _lock(request):
    return PurgeRequest.objects.select_for_update().get(pk=request.pk)


def _meeting(spec, *, hwm, holds, erasure):
    """The holds that stop a spec: none for an erasure sent on without what its holds keep
    (ErasureRequest.outside_holds; they keep their messages out of it like out of any scope)."""
    if erasure is not None and erasure.outside_holds:
        return []
    return holds_meeting(spec, hwm=hwm, holds=holds)


def _hold_check(request):
    """A hold placed after the preview still stops an erasure."""
    spec = request.purge_spec
    met = _meeting(spec, hwm=request.high_water_mark, holds=holds_for(request), erasure=request.erasure)
    return (hold_refusal_message(spec, met), PurgeRefused.HOLD) if met else None


def _start(request):
    """Approved or not needing approval: run inline or enqueue. Caller holds the row lock."""
    now = timezone.now()
    request.attempt += 1
    request.cancel_requested = False
    request.error = ""
    request.finished_at = None
    if request.runs_inline:
        request.state = State.RUNNING
        request.started_at = request.started_at or now
        request.heartbeat_at = now
    else:
        request.state = State.QUEUED
        request.queued_at = now
        request.job_id = enqueue_purge(request)
    request.save()


def _run_inline_if_due(request):
    if request.state == State.RUNNING:
        run_or_fail(request.pk, request.attempt)
    request.refresh_from_db()
    return request


def do_execute_purge(request, *, actor, confirmation=None, ip=None):
    """Run a previewed request: wait for approval, run now, or queue, as its size says.
    `confirmation`: what the person typed (chatdata.purge.confirmation), checked once the rules
    let them act, so a refusal is a refusal whatever was typed."""
    with transaction.atomic():
        request = _lock(request)
        if not (refusal := _execute_check(request, actor) or _hold_check(request)):
            check_confirmation(request, confirmation)
            request.executed_by = actor
            if request.needs_approval:
                request.state = State.AWAITING_APPROVAL
                request.save(update_fields=["state", "executed_by"])
                _audit("purge.submit", request, actor=actor, ip=ip)
                return request
            _start(request)
            _audit("purge.start", request, actor=actor, ip=ip)
    if refusal:
        _refuse(*refusal, actor=actor, request=request, ip=ip)
    return _run_inline_if_due(request)


def do_approve_purge(request, *, actor, confirmation=None, ip=None):
    """Approve a request waiting for approval (never one's own); it then starts at once. The
    approver types the same confirmation as the requester did (`confirmation`, as for execute)."""
    with transaction.atomic():
        request = _lock(request)
        if not (refusal := _approve_check(request, actor) or _hold_check(request)):
            check_confirmation(request, confirmation)
            request.state = State.APPROVED
            request.approved_by = actor
            request.approved_at = timezone.now()
            request.save(update_fields=["state", "approved_by", "approved_at"])
            _audit("purge.approve", request, actor=actor, ip=ip)
            _start(request)
            _audit("purge.start", request, actor=actor, ip=ip)
    if refusal:
        _refuse(*refusal, actor=actor, request=request, ip=ip)
    return _run_inline_if_due(request)


def do_reject_purge(request, *, actor, reason, ip=None):
    reason = _text(reason, "reason")
    if not reason:
        raise PurgeInvalid("Say why the request is rejected: the requester and the audit log see it.", "reason")
    with transaction.atomic():
        request = _lock(request)
        if not (refusal := _reject_check(request, actor)):
            request.state = State.REJECTED
            request.rejected_by = actor
            request.rejected_at = request.finished_at = timezone.now()
            request.rejection_reason = reason
            request.save(update_fields=["state", "rejected_by", "rejected_at", "finished_at", "rejection_reason"])
            _audit("purge.reject", request, actor=actor, ip=ip, reason=reason)
    if refusal:
        _refuse(*refusal, actor=actor, request=request, ip=ip)
    return request


def do_cancel_purge(request, *, actor, ip=None):
    """Cancel at once if nothing runs; a running request stops at its next batch boundary."""
    with transaction.atomic():
        request = _lock(request)
        if not (refusal := _cancel_check(request, actor)):
            if request.state == State.RUNNING and not _is_stale(request.heartbeat_at):
                request.cancel_requested = True
                request.save(update_fields=["cancel_requested"])
                _audit("purge.cancel_requested", request, actor=actor, ip=ip, counts=counts_of(request.result))
                return request
            # Not running (or its worker is dead): stop it here; the new attempt fences off any zombie.
            request.state = State.CANCELLED
            request.attempt += 1
            request.finished_at = timezone.now()
            request.save(update_fields=["state", "attempt", "finished_at"])
            _audit("purge.cancel", request, actor=actor, ip=ip, counts=counts_of(request.result))
    if refusal:
        _refuse(*refusal, actor=actor, request=request, ip=ip)
    return request


def do_resume_purge(request, *, actor, ip=None):
    """Continue a failed request, or a running one whose worker stopped sending heartbeats,
    from its last checkpoint."""
    with transaction.atomic():
        request = _lock(request)
        if not (refusal := _resume_check(request, actor) or _hold_check(request)):
            _audit("purge.resume", request, actor=actor, ip=ip, counts=counts_of(request.result))
            _start(request)
    if refusal:
        _refuse(*refusal, actor=actor, request=request, ip=ip)
    return _run_inline_if_due(request)
