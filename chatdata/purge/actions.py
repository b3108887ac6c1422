"""The purge actions: every change to a PurgeRequest goes through one of these, from the web, the
API and `manage.py purge` alike.

    request = do_preview_purge(spec, actor=mona, reason="spam wave", ticket="T-12")   # previewed
    request = do_execute_purge(request, actor=mona, confirmation="1234")   # done | queued | awaiting_approval | failed
    request = do_approve_purge(request, actor=max, confirmation="1234")    # then runs at once, inline or queued
    do_reject_purge(request, actor=max, reason="too broad")
    do_cancel_purge(request, actor=mona)              # stops at the next batch boundary
    do_resume_purge(request, actor=mona)              # failed, running with a dead worker, or cancelled
    do_close_purge(request, actor=mona)               # a cancelled request's rest, given up for good
    new = do_preview_again(request, actor=mona)       # a new preview of the same scope

Each takes the acting staff member as keyword-only `actor` (and optional `ip` for the audit log),
writes its audit entry in the same transaction as the state change, and raises:
- PurgeInvalid (chatdata.purge.scopes) for input that cannot run, for a scope in which nothing
  would change ("Nothing matches: no request was made."), and for a typed `confirmation` that does
  not confirm the request (chatdata.purge.confirmation: the same rule for the requester executing
  and the second person approving); nothing is written;
- PurgeRefused (chatdata.purge.refusals) with `.code` 'not_permitted', 'hold', 'approval_needed',
  'bad_state', 'expired' or 'scope_changed' for a request the rules forbid. Every refusal is
  itself audited, once (`purge.refused`, through chatdata.audit.audit_refusal), so attempts show
  in the log.

The `*_refusal(request, actor)` helpers (chatdata.purge.refusals, re-exported here) say, without
changing anything, whether an action is open to someone now (None) or why not (a sentence): the
pages show buttons by them, and the actions refuse by them.

Only the requester executes their request (so approval is always by a second person); the
size decides the rest: above PURGE_APPROVAL_THRESHOLD messages, and for every erasure, it waits
for approval; up to PURGE_INLINE_LIMIT it runs inside the call, otherwise an RQ job runs it.
Executing first recounts the scope, and refuses an expired or changed preview
(chatdata.purge.staleness); what a cancel leaves is resumed or closed (chatdata.purge.remainder).
"""

from django.db import transaction
from django.utils import timezone

from chatdata.models import PurgeItem, PurgeRequest
from chatdata.permissions import request_refusal
from chatdata.purge import remainder, staleness
from chatdata.purge.confirmation import check_confirmation, remember_name
from chatdata.purge.holds import hold_refusal_message
from chatdata.purge.predicates import active_holds
from chatdata.purge.preview import (
    changes_nothing,
    compute_preview,
    high_water_mark,
    nothing_matches_message,
    read_snapshot,
    units_of,
)
from chatdata.purge.refusals import (  # noqa: F401 (re-exported: the pages and the API ask them here)
    PurgeRefused,
    approve_check,
    approve_refusal,
    cancel_check,
    cancel_refusal,
    close_check,
    close_refusal,
    execute_check,
    execute_refusal,
    is_stale,
    preview_again_check,
    preview_again_refusal,
    reject_check,
    reject_refusal,
    resume_check,
    resume_refusal,
)
from chatdata.purge.scopes import PurgeInvalid
from chatdata.purge.transitions import (
    audit_purge,
    clean_text,
    counts_of,
    hold_check,
    holds_stopping,
    loaded_items,
    lock_request,
    recount_if_due,
    refuse,
    refuse_changed,
    run_inline_if_due,
    start_run,
)
from chatdata.purge.validation import check_spec

State = PurgeRequest.State


def do_preview_purge(spec, *, actor, reason, ticket="", ip=None, erasure=None, on_create=None):
    """Validate, count and freeze a spec into a `previewed` PurgeRequest. `erasure`: the
    ErasureRequest it carries out (its rules apply, and its approver approves it). `on_create`:
    called with the new request inside the transaction that writes it (the API records the token
    it came from, so both are written or neither). The request's items and its scope's name come
    back loaded (`request.items.all()` and confirmation_for ask nothing more)."""
    reason = clean_text(reason, "reason")
    ticket = clean_text(ticket, "ticket")
    if not reason:
        raise PurgeInvalid("Give a reason: it goes into the audit log.", "reason")
    if len(ticket) > 100:
        raise PurgeInvalid("The ticket reference is longer than 100 characters.", "ticket")
    refusal = request_refusal(actor, spec, erasure=erasure)
    if refusal:
        refuse(refusal, PurgeRefused.NOT_PERMITTED, actor=actor, spec_dict=spec.to_dict(), ip=ip)
    with read_snapshot():
        resolved = check_spec(spec)
        hwm, holds = high_water_mark(), active_holds()
        met = holds_stopping(spec, hwm=hwm, holds=holds, erasure=erasure)
        if not met:
            preview, item_previews = compute_preview(spec, resolved=resolved, hwm=hwm, holds=holds)
    if met:
        refuse(
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
        items = PurgeItem.objects.bulk_create(
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
        audit_purge("purge.preview", request, actor=actor, ip=ip)
        if on_create is not None:
            on_create(request)
    loaded_items(request, items)
    remember_name(request, spec, resolved)
    return request


def do_execute_purge(request, *, actor, confirmation=None, ip=None):
    """Run a previewed request: wait for approval, run now, or queue, as its size says. An expired
    preview is refused; a changed scope is recounted and refused, to be confirmed again.
    `confirmation`: what the person typed (chatdata.purge.confirmation), checked once the rules
    let them act, so a refusal is a refusal whatever was typed."""
    counted = recount_if_due(request, actor)
    with transaction.atomic():
        request = lock_request(request)
        refusal = execute_check(request, actor) or hold_check(request)
        if not refusal:
            if counted is None:  # it became executable meanwhile: count under the lock
                counted = staleness.recount(request)
            refusal = refuse_changed(request, counted, actor=actor, ip=ip)
        if not refusal:
            # After the recount: a changed scope is shown with its new counts first, and what is
            # typed then confirms the new preview (chatdata.purge.confirmation).
            check_confirmation(request, confirmation)
            request.executed_by = actor
            if request.needs_approval:
                request.state = State.AWAITING_APPROVAL
                request.save(update_fields=["state", "executed_by"])
                audit_purge("purge.submit", request, actor=actor, ip=ip)
                return request
            start_run(request)
            audit_purge("purge.start", request, actor=actor, ip=ip)
    if refusal:
        refuse(*refusal, actor=actor, request=request, ip=ip)
    return run_inline_if_due(request)


def do_preview_again(request, *, actor, ip=None, on_create=None):
    """A new preview of a previewed request's scope, reason and ticket (an expired one's way on);
    the old preview is discarded, superseded. Returns the new request. `on_create`: as for
    do_preview_purge."""
    request.refresh_from_db()
    if refusal := preview_again_check(request, actor):
        refuse(*refusal, actor=actor, request=request, ip=ip)
    new = do_preview_purge(
        request.purge_spec, actor=actor, reason=request.reason, ticket=request.ticket, ip=ip, erasure=request.erasure,
        on_create=on_create,
    )
    with transaction.atomic():
        old = lock_request(request)
        if old.state == State.PREVIEWED:
            old.state = State.CANCELLED
            old.attempt += 1
            old.finished_at = timezone.now()
            old.save(update_fields=["state", "attempt", "finished_at"])
            old.items.filter(status=PurgeItem.Status.PENDING).update(status=PurgeItem.Status.NOT_STARTED)
            audit_purge("purge.cancel", old, actor=actor, ip=ip, reason=f"Superseded by preview #{new.pk}.")
    return new


def do_approve_purge(request, *, actor, confirmation=None, ip=None):
    """Approve a request waiting for approval (never one's own); it then starts at once. The
    approver types the same confirmation as the requester did (`confirmation`, as for execute)."""
    with transaction.atomic():
        request = lock_request(request)
        if not (refusal := approve_check(request, actor) or hold_check(request)):
            check_confirmation(request, confirmation)
            request.state = State.APPROVED
            request.approved_by = actor
            request.approved_at = timezone.now()
            request.save(update_fields=["state", "approved_by", "approved_at"])
            audit_purge("purge.approve", request, actor=actor, ip=ip)
            start_run(request)
            audit_purge("purge.start", request, actor=actor, ip=ip)
    if refusal:
        refuse(*refusal, actor=actor, request=request, ip=ip)
    return run_inline_if_due(request)


def do_reject_purge(request, *, actor, reason, ip=None):
    reason = clean_text(reason, "reason")
    if not reason:
        raise PurgeInvalid("Say why the request is rejected: the requester and the audit log see it.", "reason")
    with transaction.atomic():
        request = lock_request(request)
        if not (refusal := reject_check(request, actor)):
            request.state = State.REJECTED
            request.rejected_by = actor
            request.rejected_at = request.finished_at = timezone.now()
            request.rejection_reason = reason
            request.save(update_fields=["state", "rejected_by", "rejected_at", "finished_at", "rejection_reason"])
            audit_purge("purge.reject", request, actor=actor, ip=ip, reason=reason)
    if refusal:
        refuse(*refusal, actor=actor, request=request, ip=ip)
    return request


def _cancel_now(request):
    """End a request cancelled while nothing runs (caller holds the lock); the new attempt fences
    off any zombie worker, and the per-conversation results say what was and was not done."""
    request.state = State.CANCELLED
    request.attempt += 1
    request.finished_at = timezone.now()
    request.save(update_fields=["state", "attempt", "finished_at"])
    remainder.settle_items(request)


def do_cancel_purge(request, *, actor, ip=None):
    """Cancel at once if nothing runs; a running request stops at its next batch boundary."""
    with transaction.atomic():
        request = lock_request(request)
        if not (refusal := cancel_check(request, actor)):
            if request.state == State.RUNNING and not is_stale(request.heartbeat_at):
                request.cancel_requested = True
                request.save(update_fields=["cancel_requested"])
                audit_purge("purge.cancel_requested", request, actor=actor, ip=ip, counts=counts_of(request.result))
                return request
            _cancel_now(request)
            audit_purge("purge.cancel", request, actor=actor, ip=ip, counts=counts_of(request.result))
    if refusal:
        refuse(*refusal, actor=actor, request=request, ip=ip)
    return request


def do_resume_purge(request, *, actor, ip=None):
    """Continue from the last checkpoint a failed request, a running one whose worker stopped
    sending heartbeats, or a cancelled one (the rest it left; waiting for a new approval first
    when that rest needs one: chatdata.purge.remainder)."""
    with transaction.atomic():
        request = lock_request(request)
        if not (refusal := resume_check(request, actor) or hold_check(request)):
            if request.state == State.CANCELLED:
                remainder.reopen_items(request)
                left = remainder.remaining_messages(request)
                if remainder.resume_needs_approval(request):
                    request.state = State.AWAITING_APPROVAL
                    request.approved_by, request.approved_at = None, None
                    request.finished_at = None
                    request.save(update_fields=["state", "approved_by", "approved_at", "finished_at"])
                    audit_purge("purge.resume", request, actor=actor, ip=ip, counts=counts_of(request.result),
                           reason=f"Resumed after a cancel: {left:,} messages left, which need a new approval before they run.")
                    return request
                audit_purge("purge.resume", request, actor=actor, ip=ip, counts=counts_of(request.result),
                       reason=f"Resumed after a cancel: {left:,} messages left.")
            else:
                audit_purge("purge.resume", request, actor=actor, ip=ip, counts=counts_of(request.result))
            start_run(request)
    if refusal:
        refuse(*refusal, actor=actor, request=request, ip=ip)
    return run_inline_if_due(request)


def do_close_purge(request, *, actor, reason="", ip=None):
    """Give up for good what a cancelled request left: it ends `closed`, never to be resumed."""
    reason = clean_text(reason, "reason")
    with transaction.atomic():
        request = lock_request(request)
        if not (refusal := close_check(request, actor)):
            left = remainder.remaining_messages(request)
            request.state = State.CLOSED
            request.closed_by = actor
            request.closed_at = timezone.now()
            request.save(update_fields=["state", "closed_by", "closed_at"])
            said = f"Closed after a cancel: the {left:,} messages left are not deleted."
            audit_purge("purge.close", request, actor=actor, ip=ip, counts=counts_of(request.result),
                   reason=f"{said} {reason}" if reason else said)
    if refusal:
        refuse(*refusal, actor=actor, request=request, ip=ip)
    return request
