"""Running a purge: short batch transactions, a checkpoint in each, and a run that can die anywhere.

The protocol. A run works through units (one per conversation of a `conversations` scope, else
one) and, inside a unit, through batches of messages taken by keyset on the message table:
`id > cursor AND id <= high_water_mark AND <scope> AND NOT <held> ORDER BY id LIMIT batch`.
Each step is ONE transaction that
1. locks the PurgeRequest row and checks it still belongs to this attempt (`attempt` is a fencing
   token: a resume bumps it, so a worker believed dead that wakes up stops here) and whether a
   cancel was asked for (cancel acts at this boundary, never inside a batch);
2. deletes (or hides) the batch with its children, writing the batch's attachment paths to the
   file outbox (chatdata.purge.effects);
3. fixes `last_message_at` where the batch took a conversation's latest message;
4. saves the new cursor, the counts so far and a heartbeat on the request.
A batch takes up to settings.PURGE_BATCH_SIZE messages, fewer while batches run over
settings.PURGE_BATCH_TARGET_MS (BatchSizer): the time of a transaction, not its row count, is what
the chat service feels. A background run then pauses, outside any transaction, for
settings.PURGE_BATCH_PAUSE_PERCENT of the time the batch spent writing (BatchSizer): flat out, a
purge's batches kept the chat service's inserts over 6 ms five times as often as with equal
pauses (bench/purge). After the last step the run indexes the tombstones its batches wrote
(chatdata.erasure.tombstones.fold_journal), paced the same way.
A unit ends, in the same kind of transaction, with its one-off work: sync events (one per member
and conversation, written exactly once because they commit with the step that advances `unit`),
membership changes, removing the conversation. Files are removed from storage only after the
step commits and is on disk (chatdata.purge.outbox).

Batch transactions commit asynchronously on PostgreSQL (`synchronous_commit = off` for that
transaction only): a commit no longer waits for its WAL flush, which on a busy disk was a large
part of each batch. Nothing is lost by it: a database crash can undo only the last few batches,
each with its own checkpoint, so the resumed run redoes them; files wait for the flush; and the
final step (audit entry, state `done`) commits synchronously like every other action. Where
the database role may, batches also compress their WAL (settings.PURGE_WAL_COMPRESSION: about
half of it, measured), which is what the chat service's own commits wait behind during a purge.

So a crash at any point loses at most the step in flight, which rolled back as a whole; running
the request again (do_resume_purge) continues from the last committed step and reaches the same
end state. Messages above the high-water mark are never touched, whatever arrived meanwhile, and
a run never takes more messages than its preview counted: legal holds in force at the preview keep
their messages out even once released (predicates.holds_for), and each batch is capped at what
the preview still allows (units.UnitRun.allowance), for a message below the mark that committed late.
"""

import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from chatdata.audit import write_audit
from chatdata.erasure import tombstones
from chatdata.models import PurgeRequest, SyncEvent
from chatdata.purge import effects, remainder
from chatdata.purge.outbox import FileRemover, sweep_after_commit
from chatdata.purge.preview import units_of, zero_counts
from chatdata.purge.units import UnitRun

State = PurgeRequest.State
log = logging.getLogger(__name__)


def begin_run(request_id, attempt):
    """Mark a queued request running for this attempt and return its spec (parsed once for the
    whole run: a request's spec never changes once previewed); None if it is no longer ours to run."""
    with transaction.atomic():
        request = PurgeRequest.objects.select_for_update().get(pk=request_id)
        if request.attempt != attempt or request.state not in (State.QUEUED, State.RUNNING):
            return None
        now = timezone.now()
        request.state = State.RUNNING
        request.started_at = request.started_at or now
        request.heartbeat_at = now
        request.result = request.result or zero_counts()
        request.result.setdefault("beyond_preview", 0)
        if "events_floor" not in request.progress:
            request.progress["events_floor"] = SyncEvent.objects.aggregate(top=Max("id"))["top"] or 0
        request.save(update_fields=["state", "started_at", "heartbeat_at", "result", "progress"])
        return request.purge_spec


def run_purge(request_id, attempt, *, max_steps=None, paced=True):
    """Run the request to its end (or until cancelled or superseded); exceptions propagate.

    `max_steps` stops early and leaves the request `running`, exactly as a worker killed between
    two steps would (for tests and tools). `paced=False` runs without the pauses between batches
    (a small request run inline, while someone waits for the page)."""
    spec = begin_run(request_id, attempt)
    if spec is None:
        return
    units = units_of(spec)
    remover = FileRemover()
    sizer = BatchSizer(paced=paced)
    released = time.monotonic()
    try:
        steps, may_end = 0, False
        while (outcome := _step(request_id, attempt, spec, units, remover, sizer, may_end=may_end)) != _OVER:
            if outcome == _READY_TO_END:
                # The files of the committed batches (and any a crashed earlier attempt left in the
                # outbox) go before the request says done or cancelled.
                remover.wait()
                remover.drain()
                sweep_after_commit(request_pk=request_id)
                may_end = True
                continue
            if time.monotonic() - released >= RELEASE_EVERY:
                remover.release()
                released = time.monotonic()
            if sizer.pause:
                _pause(sizer.pause)
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return
        _fold_tombstones(sizer)
    finally:
        try:
            remover.release(wait=True)
            remover.close()
            if not may_end:  # stopped early: still clear what the committed batches left behind
                sweep_after_commit(request_pk=request_id)
        except Exception:  # never mask the run's own outcome; the outbox keeps what is left
            log.exception("purge #%s: file removal after the run failed", request_id)


def _fold_tombstones(sizer):
    """After the run: index the tombstones its batches wrote to the journal (and any an earlier
    run left there), one row per transaction, pausing as the batches did. The request is already
    done or cancelled; a failure here changes nothing of it, and the next run folds what is left."""
    try:
        tombstones.fold_journal(pause_share=sizer.pause_share)
    except Exception:
        log.exception("folding the tombstone journal failed; the next run folds it")


def run_or_fail(request_id, attempt):
    """run_purge for a request run inline (no pauses), but an exception marks the request failed
    (audited) instead of escaping."""
    try:
        run_purge(request_id, attempt, paced=False)
    except Exception as exc:
        mark_failed(request_id, attempt, exc)


def mark_failed(request_id, attempt, exc):
    with transaction.atomic():
        request = PurgeRequest.objects.select_for_update().get(pk=request_id)
        if request.attempt != attempt or request.state not in (State.QUEUED, State.RUNNING):
            return
        request.state = State.FAILED
        request.error = f"{type(exc).__name__}: {exc}"[:4000]
        request.finished_at = timezone.now()
        request.save(update_fields=["state", "error", "finished_at"])
        write_audit(
            "purge.fail",
            actor=None,
            target=request.target,
            scope=request.spec,
            counts=request.result,
            purge_request=request,
            reason=request.error,
            ticket=request.ticket,
        )


def _pause(seconds):
    """The wait between two batches, outside any transaction (a function of its own for tests)."""
    time.sleep(seconds)


_CONTINUE, _READY_TO_END, _OVER = "continue", "ready to end", "over"
# How often the files of asynchronously committed batches are handed over, after a WAL flush.
RELEASE_EVERY = 1.0
# Batches never shrink below this many messages (or PURGE_BATCH_SIZE, if smaller): under it the
# fixed cost of a step outweighs what a shorter transaction gains.
SMALLEST_ADAPTED_BATCH = 500


class BatchSizer:
    """How many messages the next batch takes, and how long to wait before it.

    Size: settings.PURGE_BATCH_SIZE, fewer while batches take longer than
    settings.PURGE_BATCH_TARGET_MS. The same number of messages costs more with many children per
    message, a slower disk or a busy server; the time budget is what keeps each transaction short
    for the chat service, so the size follows the measured messages per second of the last
    batch: down at once, back up at most doubling per batch.

    Pause: settings.PURGE_BATCH_PAUSE_PERCENT of the time the last batch spent in its writes
    (effects.delete_messages or hide_messages: the messages, their children, the tombstones), at
    most a quarter of settings.PURGE_STALE_SECONDS. A purge running flat out keeps a core and the
    WAL busy, and the chat service's own commits queue behind it; pausing in proportion to the
    work keeps a share of the server for them on any machine. The rest of a step (the keyset
    read, the checkpoint, Python, and on a busy machine the waits for a CPU between statements)
    writes little the chat service waits behind, and pausing for it too only lengthened the run
    (bench/README.md has the figures)."""

    def __init__(self, *, paced=True):
        self.largest = settings.PURGE_BATCH_SIZE
        self.smallest = min(self.largest, SMALLEST_ADAPTED_BATCH)
        self.target = settings.PURGE_BATCH_TARGET_MS / 1000
        self.pause_share = settings.PURGE_BATCH_PAUSE_PERCENT / 100 if paced else 0
        self.size = self.largest
        self.pause = 0.0

    def record(self, messages, seconds, *, writing=None):
        """A batch of `messages` took `seconds`, its commit included (0 messages: no batch ran),
        `writing` of them in its writes (the pause's basis; the whole batch when not given)."""
        if messages <= 0 or seconds <= 0:
            self.pause = 0.0
            return
        basis = seconds if writing is None else min(writing, seconds)
        # Never so long that the run looks interrupted (its heartbeat is saved with each batch).
        self.pause = min(basis * self.pause_share, settings.PURGE_STALE_SECONDS / 4)
        if self.target:
            fits = int(messages * self.target / seconds)
            self.size = max(self.smallest, min(self.largest, 2 * self.size, fits))


def _step(request_id, attempt, spec, units, remover, sizer, *, may_end):
    """One transaction of the protocol above. Returns _OVER when the run is over, _READY_TO_END
    when it would end but `may_end` is false (files to wait for first), else _CONTINUE."""
    began = time.monotonic()
    with transaction.atomic():
        # The preview (samples and all) is only read by one-member clears: not loaded per batch.
        request = PurgeRequest.objects.select_for_update().defer("preview").get(pk=request_id)
        remover.drain()
        if request.attempt != attempt or request.state != State.RUNNING:
            return _OVER
        if request.cancel_requested or request.unit >= len(units):
            if not may_end:
                return _READY_TO_END
            _end(request, State.CANCELLED if request.cancel_requested else State.DONE)
            return _OVER
        effects.commit_asynchronously()
        unit_run = UnitRun(request, spec, units[request.unit], remover)
        batched = unit_run.advance(sizer.size)
        now = timezone.now()
        request.heartbeat_at = now
        if batched:
            request.batches += 1
            request.last_batch_at = now
            request.longest_batch_ms = max(request.longest_batch_ms, int((time.monotonic() - began) * 1000))
        request.save(
            update_fields=[
                "unit", "cursor", "progress", "result", "processed_messages",
                "heartbeat_at", "batches", "last_batch_at", "longest_batch_ms",
            ]
        )
    sizer.record(batched, time.monotonic() - began, writing=unit_run.writing_seconds)
    return _CONTINUE


def _end(request, state):
    request.state = state
    request.finished_at = timezone.now()
    floor = request.progress.get("events_floor", 0)
    result = request.result or zero_counts()
    result["members_affected"] = (
        SyncEvent.objects.filter(id__gt=floor, payload__purge_request=request.pk).values("user_id").distinct().count()
    )
    request.result = result
    request.save(update_fields=["state", "finished_at", "result"])
    if state == State.CANCELLED:
        remainder.settle_items(request)
    write_audit(
        "purge.complete" if state == State.DONE else "purge.cancel",
        actor=None,
        target=request.target,
        scope=request.spec,
        counts=result,
        purge_request=request,
        reason=request.reason,
        ticket=request.ticket,
    )
