"""The run of an approved erasure: the erasure job, and the state changes it shares with the actions.

Approval (or a resume) bumps `attempt`, sets the request `running` at phase `prepare` and
enqueues `erasure_job(id, attempt)`. The job walks the phases, each step its own transaction(s)
that first check the attempt (a job of an older attempt stops there, like a purge's fencing token):

  prepare    record, before anything goes, what the check needs afterwards: the subject's
             conversations and peer conversations, and the paths of their attachment files;
  sent       a `user` purge, delete for everyone, of everything the subject sent (the engine:
             attachments and files, reactions, hides, pending deliveries, sync events, tombstones);
  peers      with peer_conversations=delete, a `conversations` purge, delete_conversation for
             everyone, of the peer conversations that still hold messages;
  elsewhere  what is the subject's outside their own messages (chatdata.erasure.elsewhere);
  subject    the ChatUser row pseudonymised, erased_at set, the user tombstone: one transaction;
  verify     the independent residue check (chatdata.erasure.residue): `done` with a signed
             certificate, or `failed` with the residue listed.

The purges are ordinary PurgeRequests linked to the erasure, created through the engine's own
actions: previewed and submitted by the erasure's requester, approved by its approver (the
erasure's approval is the four-eyes step; no second person is asked again). Each is previewed
when its phase comes, so its counts are exact and the two purges never count a message twice. A
small purge runs inline inside this job; a large one is queued as its own purge job, with its
progress, cancel and resume, and this job returns: when that purge job ends,
chatdata.purge.jobs calls `continue_after_purge`, which enqueues this job again. A job that dies
anywhere leaves the request resumable: every step is idempotent (deletes of what is left, inserts
ON CONFLICT DO NOTHING) and resuming starts again at `prepare` with a new attempt, resuming the
interrupted purges from their checkpoints; purges that finished are not run again (a new one
takes only what is left). On PostgreSQL a session advisory lock per request keeps two jobs of
it (a continuation enqueued while its predecessor winds down) from working at once.

Before each step of a request not yet pseudonymised, a legal hold on the subject moves it to
`blocked` (the hold named); a cancel asked for is honoured at the same place.
"""

import logging
from contextlib import contextmanager
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from chatdata.models import ChatUser, ErasureRequest, LegalHold, PurgeRequest
from chatdata.purge.predicates import active_holds

State = ErasureRequest.State
PurgeState = PurgeRequest.State
log = logging.getLogger(__name__)
QUEUE = "default"
FIRST_PHASE = "prepare"  # chatdata.erasure.steps.PHASES
# Any constant: the advisory lock space of erasure jobs (one lock per request id).
ADVISORY_LOCK_CLASS = 0x4552_0000_0000_0000


def _audit(action, erasure, *, actor=None, ip=None, reason="", counts=None):
    from chatdata.erasure.actions import audit_erasure

    return audit_erasure(action, erasure, actor=actor, ip=ip, reason=reason, counts=counts)


def _save(erasure, *fields):
    erasure.updated_at = timezone.now()
    erasure.save(update_fields=[*fields, "updated_at"])


def _stale(moment):
    return moment is None or moment < timezone.now() - timedelta(seconds=settings.PURGE_STALE_SECONDS)


# --- holds -----------------------------------------------------------------------------------------


def subject_holds(erasure):
    """Active legal holds on the subject: they block the request (any window meets an erasure,
    which has none)."""
    return [h for h in active_holds() if h.kind == LegalHold.Kind.USER and h.user_id == erasure.subject_id]


def hold_message(holds):
    from chatdata.purge.holds import held_text

    return (
        f"The data subject is under {held_text(holds)}. Release the hold, then resume the request; or erase "
        "everything the hold does not keep (approved again)."
    )


def blocking_holds(erasure):
    """The holds that stop the request: none once it was chosen to go on without what they keep
    (ErasureRequest.outside_holds); they then only keep their messages, like any hold."""
    return [] if erasure.outside_holds else subject_holds(erasure)


def block_if_held(erasure, *, actor=None, ip=None):
    """Move the request to `blocked` if a hold on the subject stands in the way (caller holds the
    row lock); True if it did."""
    holds = blocking_holds(erasure)
    if not holds:
        return False
    erasure.state = State.BLOCKED
    erasure.blocked_reason = hold_message(holds)
    erasure.holds = [{"id": h.pk, "description": h.describe()} for h in holds]
    erasure.attempt += 1  # a job still holding the old attempt stops at its next step
    _save(erasure, "state", "blocked_reason", "holds", "attempt")
    _audit("erasure.blocked", erasure, actor=actor, ip=ip, reason=erasure.blocked_reason)
    return True


# --- where a request stands ----------------------------------------------------------------------


def purges_of(erasure, *, current=False):
    """The erasure's purges, oldest first; `current`: only those of its latest run."""
    purges = PurgeRequest.objects.filter(erasure_id=erasure.pk).order_by("id")
    if current:
        purges = purges.filter(id__gt=erasure.progress.get("purge_floor", 0))
    return list(purges)


def past_return(erasure):
    """True once the subject's row is pseudonymised: from then on only the check is left."""
    return ChatUser.objects.filter(pk=erasure.subject_id, erased_at__isnull=False).exists()


def is_stalled(erasure):
    """Running or verifying, yet nothing moves: no live purge of it, and no heartbeat of its own
    job for PURGE_STALE_SECONDS (a killed worker). Such a request may be resumed or cancelled."""
    if erasure.state not in (State.RUNNING, State.VERIFYING) or not _stale(erasure.heartbeat_at):
        return False
    for purge in purges_of(erasure, current=True):
        if purge.state == PurgeState.RUNNING and not _stale(purge.heartbeat_at):
            return False
        if purge.state == PurgeState.QUEUED and not _stale(purge.queued_at):
            return False
    return True


# --- starting and ending -----------------------------------------------------------------------------


def start(erasure, *, again=False):
    """Start (or restart) the run; the caller holds the row lock. The job is enqueued on commit."""
    now = timezone.now()
    erasure.attempt += 1
    erasure.state = State.RUNNING
    erasure.phase = FIRST_PHASE
    erasure.cancel_requested = False
    erasure.started_at = erasure.started_at or now
    erasure.heartbeat_at = now
    erasure.finished_at = None
    erasure.error = erasure.blocked_reason = ""
    erasure.holds = []
    top = PurgeRequest.objects.filter(erasure_id=erasure.pk).aggregate(top=Max("id"))["top"] or 0
    # Purges that finished stay finished; those still to resume keep belonging to this run.
    unfinished = [p.pk for p in purges_of(erasure, current=True) if p.state not in (PurgeState.DONE, PurgeState.CANCELLED)]
    erasure.progress["purge_floor"] = min([top, *(pk - 1 for pk in unfinished)]) if again else top
    _save(erasure, "attempt", "state", "phase", "cancel_requested", "started_at", "heartbeat_at", "finished_at",
          "error", "blocked_reason", "holds", "progress")
    enqueue(erasure)


def enqueue(erasure):
    django_rq.get_queue(QUEUE).enqueue(erasure_job, erasure.pk, erasure.attempt)


def end(erasure, state, *, actor=None, ip=None, reason=""):
    """End the request `cancelled` or `failed` (caller holds the row lock), fencing off its job."""
    now = timezone.now()
    erasure.state = state
    erasure.finished_at = now
    erasure.attempt += 1
    erasure.cancel_requested = False
    fields = ["state", "finished_at", "attempt", "cancel_requested"]
    if state == State.CANCELLED:
        erasure.cancelled_at = now
        fields.append("cancelled_at")
    else:
        erasure.error = reason[:4000]
        fields.append("error")
    _save(erasure, *fields)
    action = "erasure.cancel" if state == State.CANCELLED else "erasure.fail"
    _audit(action, erasure, actor=actor, ip=ip, reason=reason, counts=erasure.residue)


def fail(erasure_id, attempt, reason):
    with transaction.atomic():
        erasure = ErasureRequest.objects.select_for_update().get(pk=erasure_id)
        if erasure.attempt == attempt and erasure.state in (State.RUNNING, State.VERIFYING):
            end(erasure, State.FAILED, reason=reason)


# --- the job -----------------------------------------------------------------------------------------


@contextmanager
def _only_job_of(erasure_id):
    if connection.vendor != "postgresql":
        yield
        return
    key = ADVISORY_LOCK_CLASS + erasure_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def erasure_job(erasure_id, attempt):
    with _only_job_of(erasure_id):
        try:
            advance(erasure_id, attempt)
        except Exception as exc:
            fail(erasure_id, attempt, f"{type(exc).__name__}: {exc}")
            raise


def continue_after_purge(purge_id):
    """Called when a purge job ends: enqueue its erasure's job again, if it waits for this purge."""
    row = PurgeRequest.objects.filter(pk=purge_id).values("erasure_id", "state").first()
    if not row or not row["erasure_id"] or row["state"] not in PurgeRequest.FINAL_STATES:
        return
    erasure = ErasureRequest.objects.filter(pk=row["erasure_id"], state=State.RUNNING).first()
    if erasure is not None:
        enqueue(erasure)


def locked(erasure_id, attempt):
    """The request, row-locked, if this attempt still runs it; else None."""
    erasure = ErasureRequest.objects.select_for_update().get(pk=erasure_id)
    if erasure.attempt != attempt or erasure.state not in (State.RUNNING, State.VERIFYING):
        return None
    return erasure


def advance(erasure_id, attempt):
    """Work through the phases until the request ends, waits for a queued purge, or is superseded."""
    from chatdata.erasure import steps

    while True:
        with transaction.atomic():
            erasure = locked(erasure_id, attempt)
            if erasure is None:
                return
            erasure.heartbeat_at = timezone.now()
            _save(erasure, "heartbeat_at")
            if erasure.state == State.RUNNING and not past_return(erasure):
                if erasure.cancel_requested and not any(not p.is_final for p in purges_of(erasure, current=True)):
                    end(erasure, State.CANCELLED, actor=erasure.cancelled_by, reason="cancelled")
                    return
                if block_if_held(erasure):
                    return
        if steps.STEPS[erasure.phase](erasure, attempt) == steps.STOP:
            return
