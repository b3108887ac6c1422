"""The erasure actions: every change to an ErasureRequest goes through one of these, from the web,
the API and `manage.py erasure` alike.

    erasure = do_open_erasure(actor=cleo, subject="u1", ticket="DSR-7")   # awaiting_approval | blocked
    erasure = do_approve_erasure(erasure, actor=ada)    # running: the erasure job is queued
    do_reject_erasure(erasure, actor=ada, reason="not the account holder")
    do_cancel_erasure(erasure, actor=cleo)              # its purges stop at their next batch
    do_resume_erasure(erasure, actor=cleo)              # blocked (hold released) or failed
    do_erase_outside_holds(erasure, actor=cleo)         # blocked: erase what the hold does not keep (approved again)

Each takes the acting staff member as keyword-only `actor` (and `ip` for the audit log), writes its
audit entry in the same transaction as the change, and raises ErasureInvalid (bad input, nothing
written) or ErasureRefused (`.code` not_permitted, hold, bad_state; every refusal is audited,
once, as `erasure.refused`, through chatdata.audit.audit_refusal). The `*_refusal(actor, erasure)` helpers say, without changing
anything, whether an action is open to someone (None) or why not (a sentence): the pages show
buttons by them, and the actions refuse by them.

Holds: a legal hold on the subject blocks the request (`blocked`, the hold named), checked at
intake, at approval and before each step of the run. A conversation hold only keeps its messages:
the rest is erased and the certificate lists what was kept and why (chatdata.purge.holds).
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatdata.audit import audit_refusal, write_audit
from chatdata.erasure import run, tombstones
from chatdata.models import ChatUser, ErasureRequest
from chatdata.parsing import InvalidText, check_text
from chatdata.permissions import (
    erasure_approval_refusal,
    erasure_manage_refusal,
    erasure_open_refusal,
)
from chatdata.purge.actions import PurgeRefused, do_cancel_purge, do_resume_purge
from chatdata.purge.actions import cancel_refusal as purge_cancel_refusal
from chatdata.purge.actions import resume_refusal as purge_resume_refusal
from chatdata.purge.confirmation import check_confirmation
from chatdata.purge.holds import held_text
from chatdata.purge.inputs import PurgeInvalid, parse_moment

State = ErasureRequest.State
TICKET_MAX = 100
NOTES_MAX = 10_000
REASON_MAX = 2_000
# A received date a little ahead of the server's clock is a clock skew, not a mistake.
CLOCK_SKEW = timedelta(minutes=5)


class ErasureInvalid(PurgeInvalid):
    """Input that cannot be used; `message` says why, `field` names the culprit. Nothing is written."""


class ErasureRefused(PurgeRefused):
    """An action the rules forbid; `code` is one of PurgeRefused's."""


def _entry_fields(erasure):
    return {
        "target": f"erasure #{erasure.pk} of {erasure.subject_pseudonym}",
        "scope": {"erasure": erasure.pk, "subject": erasure.subject_pseudonym, "peer_conversations": erasure.peer_conversations},
        "ticket": erasure.ticket,
    }


def audit_erasure(action, erasure, *, actor, ip=None, reason="", counts=None):
    return write_audit(action, actor=actor, counts=counts, reason=reason, ip=ip, **_entry_fields(erasure))


def refuse_erasure(message, code, *, actor, erasure=None, target="", ip=None):
    """Audit a refused attempt (after the caller's transaction: call it outside), then raise."""
    fields = _entry_fields(erasure) if erasure is not None else {"target": target[:255]}
    audit_refusal("erasure.refused", message, actor=actor, ip=ip, **fields)
    raise ErasureRefused(message, code)



def _lock(erasure):
    return ErasureRequest.objects.select_for_update().get(pk=erasure.pk)


def _save(erasure, *fields):
    erasure.updated_at = timezone.now()
    erasure.save(update_fields=[*fields, "updated_at"])


# --- who may do what, now (for the pages' buttons; the actions ask the same) ----------------------


def approve_refusal(actor, erasure):
    if erasure.state != State.AWAITING_APPROVAL:
        return f"Only a request awaiting approval can be approved; this one is {erasure.get_state_display().lower()}."
    return erasure_approval_refusal(actor, erasure)


def reject_refusal(actor, erasure):
    if erasure.state not in (State.AWAITING_APPROVAL, State.BLOCKED):
        return f"Only a request awaiting approval or blocked can be rejected; this one is {erasure.get_state_display().lower()}."
    return erasure_approval_refusal(actor, erasure)


def _cancel_problem(erasure):
    if erasure.state in ErasureRequest.FINAL_STATES:
        return f"This request is already {erasure.state}."
    if erasure.state == State.VERIFYING or (erasure.state != State.OPEN and run.past_return(erasure)):
        return "The subject is already erased (pseudonymised); what is left cannot be cancelled, only resumed and checked."
    if erasure.state == State.RUNNING and erasure.cancel_requested:
        return "Cancelling was already asked for: the request stops at its next step."
    return None


def cancel_refusal(actor, erasure):
    return _cancel_problem(erasure) or erasure_manage_refusal(actor, erasure)


def _resume_problem(erasure):
    if erasure.state in (State.BLOCKED, State.FAILED) or run.is_stalled(erasure):
        return None
    if erasure.state in (State.RUNNING, State.VERIFYING):
        return (
            f"This request is {erasure.state} and its worker is alive; it can be resumed once it has failed "
            f"or sent no heartbeat for {settings.PURGE_STALE_SECONDS} s."
        )
    return f"Only a blocked, failed or interrupted request can be resumed; this one is {erasure.state}."


def resume_refusal(actor, erasure):
    return _resume_problem(erasure) or erasure_manage_refusal(actor, erasure)


def _manage_check(problem, actor, erasure):
    """(sentence, code) refusing a cancel or resume, or None: the request's state first, then the
    actor's permission."""
    if problem:
        return problem, PurgeRefused.BAD_STATE
    if message := erasure_manage_refusal(actor, erasure):
        return message, PurgeRefused.NOT_PERMITTED
    return None


def _decision_check(problem, actor, erasure):
    """(sentence, code) refusing an approval or rejection, or None."""
    if problem:
        return problem, PurgeRefused.BAD_STATE
    if message := erasure_approval_refusal(actor, erasure):
        return message, PurgeRefused.NOT_PERMITTED
    return None


# --- intake ------------------------------------------------------------------------------------------


def _subject(subject):
    if isinstance(subject, ChatUser):
        return subject
    external_id = _text(str(subject or ""), "user", 191)
    if not external_id:
        raise ErasureInvalid("Name the data subject: the chat user's id.", "user")
    found = ChatUser.objects.filter(external_id=external_id).first()
    if found is not None:
        return found
    erased = tombstones.erased_at(tombstones.USER, [external_id]).get(external_id)
    if erased is not None:
        raise ErasureInvalid(f"Chat user {external_id} was already erased on {erased:%Y-%m-%d} (tombstone).", "user")
    raise ErasureInvalid(f"No chat user with id {external_id}.", "user")


def _text(value, field, limit, *, required=False, what=""):
    try:
        value = check_text((value or "").strip(), field)
    except InvalidText as exc:
        raise ErasureInvalid(exc.message, field) from None
    if required and not value:
        raise ErasureInvalid(what, field)
    if len(value) > limit:
        raise ErasureInvalid(f"The {field} is longer than {limit} characters.", field)
    return value


def _check_open(actor, subject, ticket, received_at, peer_conversations, notes):
    ticket = _text(ticket, "ticket", TICKET_MAX, required=True, what="Give the request's ticket reference (your case number).")
    notes = _text(notes, "notes", NOTES_MAX)
    if peer_conversations not in ErasureRequest.PeerConversations.values:
        raise ErasureInvalid(
            f"peer_conversations must be keep or delete, not {peer_conversations!r}.", "peer_conversations"
        )
    now = timezone.now()
    try:
        received_at = parse_moment(received_at, "received") or now
    except PurgeInvalid as exc:
        raise ErasureInvalid(exc.message, exc.field) from None
    if received_at > now + CLOCK_SKEW:
        raise ErasureInvalid(f"The request cannot be received in the future ({received_at.isoformat()}).", "received")
    subject = _subject(subject)
    if subject.erased_at is not None:
        raise ErasureInvalid(f"Chat user {subject.external_id} was already erased on {subject.erased_at:%Y-%m-%d}.", "user")
    return subject, ticket, received_at, notes


def do_open_erasure(*, actor, subject, ticket, received_at=None, peer_conversations="keep", notes="", outside_holds=False, ip=None):
    """Record a data subject's request; it then awaits approval, or is blocked by a hold on them.

    `subject` is a ChatUser or the chat service's external id; `received_at` a datetime or ISO
    8601 string with a timezone (default now); it is due ERASURE_DEADLINE_DAYS later.
    `outside_holds`: erase everything a hold on the subject does not keep, rather than be
    blocked by it (see do_erase_outside_holds)."""
    if refusal := erasure_open_refusal(actor):
        refuse_erasure(refusal, PurgeRefused.NOT_PERMITTED, actor=actor, target=f"user {subject}", ip=ip)
    subject, ticket, received_at, notes = _check_open(actor, subject, ticket, received_at, peer_conversations, notes)
    with transaction.atomic():
        ChatUser.objects.select_for_update().get(pk=subject.pk)  # one pending request per subject, even in a race
        pending = ErasureRequest.objects.filter(subject=subject, state__in=ErasureRequest.PENDING_STATES).first()
        if pending is None:
            erasure = _create(actor, subject, ticket, received_at, peer_conversations, notes, ip, bool(outside_holds))
    if pending is not None:
        refuse_erasure(
            f"Erasure #{pending.pk} (ticket {pending.ticket}) for this chat user is already {pending.state}.",
            PurgeRefused.BAD_STATE, actor=actor, erasure=pending, ip=ip,
        )
    return erasure


def _create(actor, subject, ticket, received_at, peer_conversations, notes, ip, outside_holds=False):
    """The new request, awaiting approval or blocked by a hold on its subject. Caller holds the
    subject's row lock."""
    erasure = ErasureRequest.objects.create(
        subject=subject,
        subject_pseudonym=tombstones.pseudonym(subject.external_id),
        ticket=ticket,
        received_at=received_at,
        due_at=received_at + timedelta(days=settings.ERASURE_DEADLINE_DAYS),
        notes=notes,
        peer_conversations=peer_conversations,
        requested_by=actor,
        outside_holds=outside_holds,
    )
    audit_erasure("erasure.open", erasure, actor=actor, ip=ip, reason=notes)
    if not run.block_if_held(erasure, actor=actor, ip=ip):
        erasure.state = State.AWAITING_APPROVAL
        _save(erasure, "state")
    return erasure


# --- the second pair of eyes -------------------------------------------------------------------------


def do_approve_erasure(erasure, *, actor, confirmation=None, ip=None):
    """Approve (never one's own request): the run starts on the worker. A hold on the subject
    placed since the intake blocks the request instead; it returns `blocked`. `confirmation`:
    what the approver typed (the subject's external id, chatdata.purge.confirmation), checked
    once the rules let them approve; None for the engine's own callers."""
    with transaction.atomic():
        erasure = _lock(erasure)
        problem = None if erasure.state == State.AWAITING_APPROVAL else approve_refusal(actor, erasure)
        if not (refusal := _decision_check(problem, actor, erasure)):
            try:
                check_confirmation(erasure, confirmation)
            except PurgeInvalid as exc:
                raise ErasureInvalid(exc.message, exc.field) from None
        if not refusal and not run.block_if_held(erasure, actor=actor, ip=ip):
            now = timezone.now()
            erasure.approved_by, erasure.approved_at = actor, now
            _save(erasure, "approved_by", "approved_at")
            audit_erasure("erasure.approve", erasure, actor=actor, ip=ip)
            run.start(erasure)
    if refusal:
        refuse_erasure(*refusal, actor=actor, erasure=erasure, ip=ip)
    return erasure


def do_reject_erasure(erasure, *, actor, reason, ip=None):
    reason = _text(reason, "reason", REASON_MAX, required=True, what="Say why the request is rejected: the requester and the audit log see it.")
    with transaction.atomic():
        erasure = _lock(erasure)
        problem = None if erasure.state in (State.AWAITING_APPROVAL, State.BLOCKED) else reject_refusal(actor, erasure)
        if not (refusal := _decision_check(problem, actor, erasure)):
            now = timezone.now()
            erasure.state = State.REJECTED
            erasure.rejected_by, erasure.rejected_at, erasure.finished_at = actor, now, now
            erasure.rejection_reason = reason
            erasure.attempt += 1  # a blocked request's job, if any, stops
            _save(erasure, "state", "rejected_by", "rejected_at", "finished_at", "rejection_reason", "attempt")
            audit_erasure("erasure.reject", erasure, actor=actor, ip=ip, reason=reason)
    if refusal:
        refuse_erasure(*refusal, actor=actor, erasure=erasure, ip=ip)
    return erasure


# --- without what a hold keeps -------------------------------------------------------------------------


def outside_holds_refusal(actor, erasure):
    """Whether `actor` may send a blocked request on without what its holds keep (None) or why not."""
    if erasure.state != State.BLOCKED or erasure.outside_holds:
        return (
            "Only a request blocked by a legal hold on the subject can go on without what the hold keeps; "
            f"this one is {erasure.get_state_display().lower()}."
        )
    return erasure_manage_refusal(actor, erasure)


def do_erase_outside_holds(erasure, *, actor, ip=None):
    """A request blocked by a legal hold on its subject goes on without what the hold keeps
    (issue 14, item 7): the held messages, and the subject's row they need, stay; everything
    else of the subject is erased. The scope changed, so it is approved again by a second
    person like any request (any earlier approval is set aside); the certificate lists what
    the hold kept. By the requester or whoever may approve it; audited as erasure.outside_holds."""
    with transaction.atomic():
        erasure = _lock(erasure)
        state_problem = None if erasure.state == State.BLOCKED and not erasure.outside_holds else outside_holds_refusal(actor, erasure)
        if not (refusal := _manage_check(state_problem, actor, erasure)):
            held = run.subject_holds(erasure)
            kept = held_text(held) if held else "no hold any more"
            erasure.outside_holds = True
            erasure.state = State.AWAITING_APPROVAL
            erasure.blocked_reason, erasure.holds = "", []
            erasure.approved_by = erasure.approved_at = None
            erasure.attempt += 1  # a job of the blocked run, if any, stops
            _save(erasure, "outside_holds", "state", "blocked_reason", "holds", "approved_by", "approved_at", "attempt")
            audit_erasure("erasure.outside_holds", erasure, actor=actor, ip=ip,
                          reason=f"Erase everything not held: kept by {kept}.")
    if refusal:
        refuse_erasure(*refusal, actor=actor, erasure=erasure, ip=ip)
    return erasure


# --- stop and go on ----------------------------------------------------------------------------------


def do_cancel_erasure(erasure, *, actor, ip=None):
    """Cancel: at once when nothing runs. A running request stops at its job's next step, and a
    running purge of it at its next batch boundary; the request ends `cancelled` then. Nothing
    is cancelled once the subject is pseudonymised."""
    with transaction.atomic():
        erasure = _lock(erasure)
        if not (refusal := _manage_check(_cancel_problem(erasure), actor, erasure)):
            erasure.cancelled_by = actor
            erasure.cancel_requested = True
            _save(erasure, "cancelled_by", "cancel_requested")
    if refusal:
        refuse_erasure(*refusal, actor=actor, erasure=erasure, ip=ip)
    for purge in run.purges_of(erasure):
        if purge_cancel_refusal(purge, actor) is None:  # not final, nor already asked to stop
            do_cancel_purge(purge, actor=actor, ip=ip)
    with transaction.atomic():
        erasure = _lock(erasure)
        if erasure.state == State.RUNNING and not run.is_stalled(erasure):
            audit_erasure("erasure.cancel_requested", erasure, actor=actor, ip=ip)
        elif not erasure.is_final:
            run.end(erasure, State.CANCELLED, actor=actor, ip=ip)
    return erasure


def do_resume_erasure(erasure, *, actor, ip=None):
    """Go on with a blocked request once its hold is released (to approval, or to the run if it
    was approved), or re-run what a failed or interrupted one left, then check again."""
    with transaction.atomic():
        erasure = _lock(erasure)
        refusal = _manage_check(_resume_problem(erasure), actor, erasure)
        if not refusal and (held := run.blocking_holds(erasure)) and not run.past_return(erasure):
            refusal = (run.hold_message(held), PurgeRefused.HOLD)
        if not refusal:
            audit_erasure("erasure.resume", erasure, actor=actor, ip=ip)
            if erasure.approved_at is None:
                erasure.state, erasure.blocked_reason, erasure.holds = State.AWAITING_APPROVAL, "", []
                _save(erasure, "state", "blocked_reason", "holds")
                return erasure
    if refusal:
        refuse_erasure(*refusal, actor=actor, erasure=erasure, ip=ip)
    # The purges first (each from its checkpoint, through the engine), then the erasure job.
    for purge in run.purges_of(erasure, current=True):
        # One a live worker is still on goes on by itself.
        if purge_resume_refusal(purge, actor) is None:
            try:
                do_resume_purge(purge, actor=actor, ip=ip)
            except PurgeRefused as exc:  # already audited, as purge.refused
                raise ErasureRefused(f"Purge #{purge.pk} of this erasure: {exc.message}", exc.code) from None
    with transaction.atomic():
        erasure = _lock(erasure)
        run.start(erasure, again=True)
    return erasure
