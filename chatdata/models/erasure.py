"""Erasure requests and tombstones (DESIGN.md §5, §1).

ErasureRequest: a data subject's request (GDPR Art. 15/17, PIPL, ...), from intake to a signed
certificate. Its states are

    open -> awaiting_approval -> running -> verifying -> done
                |                  |           |
                +-> blocked        +-> failed  +-> failed      (resumable)
                +-> rejected       +-> cancelled

`open` is the intake itself: do_open_erasure records the request and, in the same transaction,
checks the legal holds and moves it on to `awaiting_approval`, or to `blocked` with the hold named.
A blocked request is resumed once its hold is released; a failed one is resumed to re-run what
is left. The run is carried out by ordinary PurgeRequests (linked through `PurgeRequest.erasure`)
and by the steps in chatdata.erasure.run; the subject's ChatUser row is then pseudonymised, never
deleted (the audit log and other people's conversations refer to it).

Tombstone: keyed hashes (HMAC-SHA256, settings.ERASURE_PSEUDONYM_KEY) of the external ids of an
erased user or of messages deleted for everyone. An import refuses anything with a tombstone, so
erased data never comes back from an old export, and the table itself holds no external id.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from chatdata.models.chat import ChatUser

ERASURE_STATES = (
    "open", "awaiting_approval", "running", "verifying", "done", "blocked", "rejected", "failed", "cancelled",
)


class ErasureRequest(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        RUNNING = "running", "Running"
        VERIFYING = "verifying", "Verifying"
        DONE = "done", "Done"
        BLOCKED = "blocked", "Blocked by a legal hold"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    assert tuple(State.values) == ERASURE_STATES

    class PeerConversations(models.TextChoices):
        KEEP = "keep", "Keep: the other person keeps their side"
        DELETE = "delete", "Delete: both sides go"

    # States a request never leaves by itself; `failed` waits for a resume, `blocked` for one too.
    FINAL_STATES = frozenset({State.DONE, State.REJECTED, State.CANCELLED})
    # Still to be answered: what the compliance overview counts against the deadline.
    PENDING_STATES = frozenset(
        {State.OPEN, State.AWAITING_APPROVAL, State.RUNNING, State.VERIFYING, State.BLOCKED, State.FAILED}
    )

    id = models.BigAutoField(primary_key=True)
    subject = models.ForeignKey(ChatUser, on_delete=models.DO_NOTHING, related_name="erasure_requests", db_index=False)
    # The keyed-hash pseudonym the subject's row takes when erased (known from the intake on).
    subject_pseudonym = models.CharField(max_length=64)
    ticket = models.CharField(max_length=100)
    received_at = models.DateTimeField()
    due_at = models.DateTimeField()
    notes = models.TextField(blank=True)
    peer_conversations = models.CharField(max_length=6, choices=PeerConversations.choices, default=PeerConversations.KEEP)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)

    # Why it is blocked, and the holds ({id, description}) that block it.
    blocked_reason = models.TextField(blank=True)
    holds = models.JSONField(default=list, blank=True)
    # Erase everything a legal hold on the subject does not keep (issue 14, item 7): chosen on a
    # blocked request (do_erase_outside_holds), approved again like any request; the held
    # messages and the subject's row (which they need) stay, and the certificate says so.
    outside_holds = models.BooleanField(default=False)

    # The run: `phase` is where the erasure job stands (chatdata.erasure.run), `attempt` fences
    # off a job from an earlier attempt, `progress` keeps what was recorded before the run
    # (conversations, peer conversations) and the counts of the steps outside the purges.
    phase = models.CharField(max_length=20, blank=True)
    attempt = models.IntegerField(default=0)
    progress = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    # Results: deleted per table, the residue check per table, what was kept and why.
    counts = models.JSONField(null=True, blank=True)
    residue = models.JSONField(null=True, blank=True)
    kept = models.JSONField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    audit_hash_at_completion = models.CharField(max_length=64, blank=True)
    certificate = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "due_at"], name="erasure_state_due_idx"),
            models.Index(fields=["subject", "id"], name="erasure_subject_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=ERASURE_STATES), name="erasure_state_valid"),
            models.CheckConstraint(condition=models.Q(peer_conversations__in=["keep", "delete"]), name="erasure_peer_valid"),
        ]

    def __str__(self):
        return f"erasure #{self.pk} ({self.state}) ticket {self.ticket}"

    # chatdata.permissions decides who may approve, cancel and resume by the scope kind and the
    # requester, the same rules as for a `user` purge.
    scope_kind = "user"

    @property
    def is_final(self):
        return self.state in self.FINAL_STATES

    def days_left(self, now=None):
        """Whole days until due_at, rounded down: 0 on its last day, negative once overdue."""
        return (self.due_at - (now or timezone.now())) // timedelta(days=1)


class ErasureFile(models.Model):
    """A stored file of the subject's attachments, recorded before the run: the residue check
    looks each one up in storage afterwards."""

    request = models.ForeignKey(ErasureRequest, on_delete=models.CASCADE, related_name="files", db_index=False)
    path = models.CharField(max_length=255)
    # The message it belonged to, so the check can tell a file a legal hold keeps.
    message_pk = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["request", "id"], name="erasurefile_request_idx")]


class Tombstone(models.Model):
    """The keyed hashes of what one transaction erased or deleted for everyone.

    A row per batch (per 2,000 keys of it), not per id: `keys` holds 63-bit keyed hashes (a JSON array,
    GIN-indexed on PostgreSQL where `indexed`, migrations 0008 and 0014). A row per message cost a
    heap tuple and a B-tree entry each: measured on 6,000 messages, 80 ms of a batch transaction
    against about 20 ms with one row. A purge batch writes its row unindexed (the journal: about
    2 ms), and the run indexes it afterwards (chatdata.erasure.tombstones explains why). A lookup
    asks the GIN index per key and scans the journal's few rows."""

    class Kind(models.TextChoices):
        USER = "user", "User"
        MESSAGE = "message", "Message"

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=7, choices=Kind.choices)
    erased_at = models.DateTimeField()
    # chatdata.erasure.tombstones.key_hash of each external id.
    keys = models.JSONField(default=list)
    # False while the row is in the journal: written by a purge batch, its keys not yet in the GIN
    # index (a partial index, `WHERE indexed`); lookups read journal rows by scanning them, and
    # chatdata.erasure.tombstones.fold_journal indexes them after the run (migration 0014).
    indexed = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=["user", "message"]), name="tombstone_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["id"], condition=models.Q(indexed=False), name="tombstone_journal_idx"),
        ]

    def __str__(self):
        return f"{self.kind} tombstone #{self.pk} ({len(self.keys)} keys)"
