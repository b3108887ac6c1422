"""Legal holds and the audit log (DESIGN.md §5).

LegalHold: while a hold is active (`released_at` is null) the messages it covers are preserved:
every destructive purge (delete for everyone, delete a conversation for everyone) leaves them in
place and its preview counts them as `excluded_by_hold`; a `user` scope (an erasure) that meets
a hold on that user is refused with the hold named. What a hold covers:
- a **user** hold covers every message that user *sent*, in any conversation, whose `sent_at` falls
  in the hold's window; it also blocks any erasure of that user whose time range overlaps the window;
- a **conversation** hold covers every message of that conversation in the window (whoever sent
  it), and the conversation itself: it is never removed while the hold is active.
The window is half-open like every range (`start <= sent_at < end`); a missing bound is open.
One-way effects (hide for one member, clear a member's history, hide a conversation for a member)
remove nothing from the server's store, so holds do not restrict them.

AuditEntry: append-only, enforced in the database (triggers refuse UPDATE, DELETE and TRUNCATE
in every replication mode, migrations 0005 and 0006), and hash-chained: each entry stores the
hash of the previous one and its own hash over a canonical JSON of its fields (chatdata.audit), so
editing or removing a row with the triggers switched off is still detected by `manage.py
verify_audit`; cutting the tail, re-hashing the newest entry or emptying the table is detected
against the witness of the chain's head kept outside the database (chatdata.witness).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from chatdata.models.chat import ChatUser, Conversation


class LegalHold(models.Model):
    class Kind(models.TextChoices):
        USER = "user", "User"
        CONVERSATION = "conversation", "Conversation"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    user = models.ForeignKey(ChatUser, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="legal_holds")
    # An active hold keeps its conversation alive; a released one must not stop a later deletion.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.DB_SET_NULL, null=True, blank=True, related_name="legal_holds"
    )
    # The held subject's external id, kept for the record after the conversation is gone.
    subject_external_id = models.CharField(max_length=191)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    reason = models.TextField()
    # DO_NOTHING keeps the constraint (staff who placed a hold cannot be deleted) without mixing
    # Python-level and database-level on_delete in one model (models.E050).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+"
    )
    release_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="user", user__isnull=False) | Q(kind="conversation", user__isnull=True)),
                name="legalhold_subject_valid",
            ),
            models.CheckConstraint(
                condition=Q(start__isnull=True) | Q(end__isnull=True) | Q(end__gt=models.F("start")),
                name="legalhold_window_valid",
            ),
        ]
        indexes = [models.Index(fields=["released_at", "id"], name="legalhold_active_idx")]

    def __str__(self):
        return f"legal hold #{self.pk} on {self.kind} {self.subject_external_id}"

    @property
    def is_active(self):
        return self.released_at is None

    def window_text(self):
        """The hold's window in words and local dates ("" for a hold on everything)."""
        if self.start and self.end:
            return f"messages sent from {human_moment(self.start)} until {human_moment(self.end)}"
        if self.start:
            return f"messages sent from {human_moment(self.start)} on"
        if self.end:
            return f"messages sent before {human_moment(self.end)}"
        return ""

    def describe(self):
        """One line naming the hold, for refusals and listings: local dates a person reads, never
        raw ISO timestamps (issue 14, item 7)."""
        window = f", {self.window_text()}" if (self.start or self.end) else ""
        placed = f", placed {human_moment(self.created_at)}" if self.created_at else ""
        return f"legal hold #{self.pk} on {self.kind} {self.subject_external_id}{window}{placed} ({self.reason})"


def human_moment(moment):
    """A moment as people read it, in the site's time zone: "6 Mar 2026, 14:05 UTC"."""
    local = timezone.localtime(moment)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".rstrip()


class AuditEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    # Staff who acted, or null for the system (a worker finishing a run). Staff with audit entries
    # cannot be deleted (the constraint refuses), only deactivated: the record must keep its actor.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+", db_index=False
    )
    actor_name = models.CharField(max_length=150)
    role = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=50)
    target = models.CharField(max_length=255, blank=True)
    scope = models.JSONField(null=True, blank=True)
    counts = models.JSONField(null=True, blank=True)
    purge_request_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    ticket = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # The API token the call came through (its name), or "" for the web and the CLI. Hashed into
    # the chain only when set, so entries written before this column existed still verify.
    api_token = models.CharField(max_length=100, blank=True, default="", db_default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["created_at", "id"], name="audit_time_idx"),
            models.Index(fields=["action", "id"], name="audit_action_idx"),
            models.Index(fields=["actor", "id"], name="audit_actor_idx"),
            models.Index(fields=["purge_request_id", "id"], name="audit_request_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.target}"
