"""Purge requests: one scoped deletion, from preview to its end (DESIGN.md §3).

A PurgeRequest is both the record of what was asked and the checkpoint of the run that carries it
out. The worker saves `unit` + `cursor` and the counts so far in the same transaction as each batch,
so a run killed at any point continues from the last committed batch. `attempt` is a fencing
token: resuming a request bumps it, and a worker that still holds an older attempt stops at its
next batch instead of racing the new one.

`FileOutbox` is the durable list of attachment files still to remove from storage. Its rows are
written in the same transaction that deletes the attachment rows and removed only after the file
is gone, so a crash can neither orphan a file (the row survives the crash and is retried by
`chatdata.purge.outbox.process_file_outbox`) nor remove the file of a row that still exists (a
rolled-back batch takes its outbox rows with it).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

STATES = (
    "draft", "previewed", "awaiting_approval", "approved", "rejected", "queued", "running", "done", "failed", "cancelled",
    "closed",
)


class PurgeRequest(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PREVIEWED = "previewed", "Previewed"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # A cancelled request whose rest was given up for good: it can no longer be resumed.
        CLOSED = "closed", "Closed"

    assert tuple(State.values) == STATES

    # States from which nothing moves on by itself (a cancelled request moves on only when resumed,
    # a failed one likewise; a closed one never). A previewed request left unconfirmed past
    # PURGE_PREVIEW_TTL is shown as expired, a state derived from its age (chatdata.purge.staleness).
    FINAL_STATES = frozenset({State.REJECTED, State.DONE, State.FAILED, State.CANCELLED, State.CLOSED})

    id = models.BigAutoField(primary_key=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)
    # The canonical PurgeSpec dict (chatdata.purge.scopes); the single source of truth of the run.
    spec = models.JSONField()
    scope_kind = models.CharField(max_length=20)
    effect = models.CharField(max_length=30)
    # Human label with the chat service's external ids, e.g. "conversation c12".
    target = models.CharField(max_length=255)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purge_requests")
    reason = models.TextField()
    ticket = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # Frozen at preview: execution never touches a message above the high-water mark.
    preview = models.JSONField(null=True, blank=True)
    high_water_mark = models.BigIntegerField(null=True, blank=True)
    # Ids of every legal hold in force at the preview. What they kept out then stays out for this
    # request even once they are released: a run never takes more than its preview (and its
    # approval) covered. Holds placed later are honoured as well (chatdata.purge.predicates.holds_for).
    preview_holds = models.JSONField(default=list, blank=True)
    needs_approval = models.BooleanField(default=False)
    runs_inline = models.BooleanField(default=True)

    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    # Progress, for a progress bar: processed_messages of total_messages, rate from the times.
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_batch_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    total_messages = models.BigIntegerField(default=0)
    processed_messages = models.BigIntegerField(default=0)
    batches = models.IntegerField(default=0)
    longest_batch_ms = models.IntegerField(default=0)

    # Checkpoint: the unit (PurgeItem position, 0 for single-unit scopes) and the last message id
    # handled in it. `progress` keeps what the finishing step needs (conversations touched, ...).
    unit = models.IntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    progress = models.JSONField(default=dict, blank=True)
    # Executed counts, same keys as the preview's; null until the run starts.
    result = models.JSONField(null=True, blank=True)

    cancel_requested = models.BooleanField(default=False)
    attempt = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    job_id = models.CharField(max_length=100, blank=True)
    # The erasure request this purge carries out, if any (chatdata.erasure).
    erasure = models.ForeignKey(
        "chatdata.ErasureRequest", on_delete=models.DO_NOTHING, null=True, blank=True, related_name="purges", db_index=False
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "id"], name="purgerequest_state_idx"),
            models.Index(fields=["erasure", "id"], name="purgerequest_erasure_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=STATES), name="purgerequest_state_valid"
            ),
        ]

    def __str__(self):
        return f"purge #{self.pk} ({self.state}): {self.effect} of {self.target}"

    @property
    def purge_spec(self):
        from chatdata.purge.scopes import spec_from_dict

        return spec_from_dict(self.spec)

    @property
    def is_final(self):
        return self.state in self.FINAL_STATES

    @property
    def preview_expires_at(self):
        """When this preview expires (PURGE_PREVIEW_TTL); None unless it is previewed."""
        from chatdata.purge.staleness import expires_at

        return expires_at(self)

    @property
    def is_expired(self):
        from chatdata.purge.staleness import is_expired

        return is_expired(self)

    @property
    def shown_state(self):
        """The state as shown: 'expired' for a preview past PURGE_PREVIEW_TTL, else the stored one."""
        return "expired" if self.is_expired else self.state

    @property
    def shown_state_display(self):
        return "Expired" if self.is_expired else self.get_state_display()

    @property
    def remaining_messages(self):
        """What the preview counted that the run has not handled (yet)."""
        return max(self.total_messages - self.processed_messages, 0)

    @property
    def percent_done(self):
        if self.state == self.State.DONE:
            return 100
        if not self.total_messages:
            return 0
        return min(99, int(100 * self.processed_messages / self.total_messages))


class PurgeItem(models.Model):
    """The result for one conversation of a `conversations` scope, each handled on its own."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        OK = "ok", "OK"
        NOT_FOUND = "not_found", "Not found"
        HELD = "held", "Held (partly kept under legal hold)"
        REFUSED = "refused", "Refused"
        # Set when the request is cancelled (chatdata.purge.remainder): the conversation the run
        # was in when it stopped (its `counts` say what went before the stop), and those it never
        # reached. A resume sets both back to pending.
        CANCELLED = "cancelled", "Not done — cancelled"
        NOT_STARTED = "not_started", "Not started"

    request = models.ForeignKey(PurgeRequest, on_delete=models.CASCADE, related_name="items", db_index=False)
    position = models.IntegerField()
    # Not a foreign key: the item must outlive a conversation it deleted.
    conversation_pk = models.BigIntegerField()
    conversation_external_id = models.CharField(max_length=191)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True)
    preview = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["request", "position"]
        constraints = [models.UniqueConstraint(fields=["request", "position"], name="purgeitem_position_unique")]

    def __str__(self):
        return f"{self.conversation_external_id}: {self.status}"


class FileOutbox(models.Model):
    """A stored file whose attachment row is gone and which must still be removed from storage."""

    id = models.BigAutoField(primary_key=True)
    path = models.CharField(max_length=255)
    request = models.ForeignKey(
        PurgeRequest, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["request", "id"], name="fileoutbox_request_idx")]

    def __str__(self):
        return self.path
