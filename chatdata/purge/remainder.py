"""What a cancelled request did, what it left, and what may become of the rest.

A cancel stops a run at a batch boundary (chatdata.purge.execute), or at once when nothing runs
(do_cancel_purge). Either way the request keeps its checkpoint: the unit it was in, the cursor in
it, and that unit's counts so far. So the per-conversation results can say exactly what was done
and what was not: `settle_items`, called in the transaction that ends the request cancelled, marks
the conversation the run was in as CANCELLED ("not done — cancelled", with what it had deleted
before the stop) and every one it never reached as NOT_STARTED; those that finished keep their
result, and the request's difference from its preview is the cancel's, not drift (`picture`).

The rest is then resumed (do_resume_purge: from the checkpoint, the items back to pending) or
closed for good (do_close_purge, state `closed`). Resuming takes up work someone decided to stop,
a new decision: when what is left is above PURGE_APPROVAL_THRESHOLD messages, or the request was
cancelled before the approval it needed came, it waits for an approval of its own, by a second
person as always (`resume_needs_approval`). A preview discarded before anyone confirmed it has
nothing to resume or close; nor has a purge that carries out an erasure, which the erasure
resumes or ends (chatdata.erasure.actions).
"""

from dataclasses import dataclass

from django.conf import settings

from chatdata.models import PurgeItem, PurgeRequest

State = PurgeRequest.State
Status = PurgeItem.Status
FINISHED = (Status.OK, Status.HELD, Status.NOT_FOUND)


def remaining_messages(request):
    return request.remaining_messages


def resume_needs_approval(request):
    """Whether resuming a cancelled request waits for a (new) approval first."""
    if request.needs_approval and request.approved_at is None:
        return True
    return remaining_messages(request) > settings.PURGE_APPROVAL_THRESHOLD


def never_confirmed(request):
    """A preview discarded before it was confirmed (executed_by is set by confirming)."""
    return request.executed_by_id is None


def leftover_problem(request):
    """Why the rest of this cancelled request can be neither resumed nor closed, or None."""
    if request.erasure_id:
        return (
            f"This purge carries out erasure #{request.erasure_id}: the erasure resumes or ends it, "
            "from the erasure's page."
        )
    if never_confirmed(request):
        return "This preview was discarded before anyone confirmed it: there is no rest to resume or close. Preview again instead."
    return None


def _unit_counts(request):
    return ((request.progress or {}).get("unit") or {}).get("counts") or {}


def settle_items(request):
    """At a cancel (the caller's transaction): the conversation the run was in becomes CANCELLED
    with its counts so far, or NOT_STARTED if nothing of it ran; the others still pending,
    NOT_STARTED."""
    done = _unit_counts(request)
    current = request.items.filter(position=request.unit, status=Status.PENDING).first()
    if current is not None and (request.cursor or done.get("messages")):
        n, of = done.get("messages", 0), (current.preview or {}).get("messages", 0)
        current.status = Status.CANCELLED
        current.counts = dict(done)
        current.reason = f"Stopped by the cancel after {n:,} of {of:,} messages; the rest of this conversation stays."
        current.save(update_fields=["status", "counts", "reason"])
    request.items.filter(status=Status.PENDING).update(
        status=Status.NOT_STARTED, reason="The request was cancelled before it reached this conversation: nothing here was deleted.",
    )


def reopen_items(request):
    """At a resume: what the cancel left is pending again (the stopped one keeps its counts so far)."""
    request.items.filter(status__in=(Status.CANCELLED, Status.NOT_STARTED)).update(status=Status.PENDING, reason="")


@dataclass
class Picture:
    """What a request has done and has not, for the cancel confirmation and the results after it."""

    processed: int
    total: int
    remaining: int
    conversations: int = 0  # a `conversations` scope: how many in all
    finished: int = 0  # ... ran to the end (ok, held, not found)
    refused: int = 0
    stopped: str | None = None  # external id of the one in progress (or stopped in), if any
    stopped_done: int = 0  # messages deleted in it so far
    stopped_previewed: int = 0
    untouched: int = 0  # ... not started (or, before a cancel, not reached yet)
    drift: int = 0  # in the conversations that finished: executed messages less previewed


def picture(request):
    total, processed = request.total_messages, request.processed_messages
    shown = Picture(processed=processed, total=total, remaining=remaining_messages(request))
    if request.scope_kind != "conversations":
        return shown
    items = list(request.items.order_by("position").only("position", "status", "conversation_external_id", "preview", "counts"))
    shown.conversations = len(items)
    for item in items:
        previewed = (item.preview or {}).get("messages", 0)
        if item.status in FINISHED:
            shown.finished += 1
            shown.drift += (item.counts or {}).get("messages", 0) - previewed
        elif item.status == Status.REFUSED:
            shown.refused += 1
        elif item.status == Status.CANCELLED or (
            item.status == Status.PENDING and item.position == request.unit and (request.cursor or _unit_counts(request).get("messages"))
        ):
            shown.stopped = item.conversation_external_id
            counts = item.counts if item.status == Status.CANCELLED else _unit_counts(request)
            shown.stopped_done, shown.stopped_previewed = (counts or {}).get("messages", 0), previewed
        else:
            shown.untouched += 1
    return shown
