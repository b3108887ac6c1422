"""The chat service's data, as chatsweep sees it (DESIGN.md §1).

Foreign keys inside the chat data use database-level cascades (`DB_CASCADE`) or none at all
(`DO_NOTHING`, which still creates the constraint). Django's Python-side cascade collects every
child row in memory before deleting (PERF_NOTES.md: 7x slower, 30x the memory), and a purge of a
million messages must not do that. The price is that no delete signal fires for cascaded rows, so
nothing that must happen on deletion (audit, file removal, sync events) may hang off signals: the
deletion engine does it explicitly. Chat users are never deleted (an erasure empties them), so
every reference to ChatUser is DO_NOTHING: deleting a user who still has rows fails loudly.
"""

from django.db import models
from django.db.models import Q


class ChatUser(models.Model):
    external_id = models.CharField(max_length=191, unique=True)
    display_name = models.CharField(max_length=191)
    created_at = models.DateTimeField()
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_name", "id"]
        indexes = [models.Index(fields=["display_name", "id"], name="chatuser_name_idx")]

    def __str__(self):
        return f"{self.display_name} ({self.external_id})"


class Conversation(models.Model):
    class Kind(models.TextChoices):
        PEER = "peer", "Peer (one-to-one)"
        GROUP = "group", "Group"
        ROOM = "room", "Room"
        SYSTEM = "system", "System"

    external_id = models.CharField(max_length=191, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()
    last_message_at = models.DateTimeField(null=True, blank=True)
    members = models.ManyToManyField(ChatUser, through="Membership", related_name="conversations")

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["peer", "group", "room", "system"]), name="conversation_kind_valid"),
        ]
        indexes = [
            # "sort by last activity", optionally filtered by kind, paged by keyset.
            models.Index(fields=["last_message_at", "id"], name="conv_activity_idx"),
            models.Index(fields=["kind", "last_message_at", "id"], name="conv_kind_activity_idx"),
        ]

    def __str__(self):
        return self.title or self.external_id


class Membership(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.DB_CASCADE, related_name="memberships", db_index=False)
    user = models.ForeignKey(ChatUser, on_delete=models.DO_NOTHING, related_name="memberships", db_index=False)
    joined_at = models.DateTimeField()
    # One-way state: the member sees nothing sent before cleared_before, and no conversation if hidden.
    cleared_before = models.DateTimeField(null=True, blank=True)
    hidden = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="membership_unique")]
        indexes = [models.Index(fields=["user", "conversation"], name="membership_user_idx")]

    def __str__(self):
        return f"{self.user_id} in {self.conversation_id}"


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        IMAGE = "image", "Image"
        FILE = "file", "File"
        AUDIO = "audio", "Audio"
        VIDEO = "video", "Video"
        SYSTEM = "system", "System"

    # Indexes on the foreign keys are the composite ones in Meta (leading column), not Django's own.
    # Monotonic: the high-water mark of a purge is "the largest id at preview time".
    id = models.BigAutoField(primary_key=True)
    external_id = models.CharField(max_length=191, unique=True)
    conversation = models.ForeignKey(Conversation, on_delete=models.DB_CASCADE, related_name="messages", db_index=False)
    sender = models.ForeignKey(ChatUser, on_delete=models.DO_NOTHING, related_name="sent_messages", db_index=False)
    sent_at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [
            # Timeline keyset paging, range scopes and range counts (index-only scans).
            models.Index(fields=["conversation", "sent_at", "id"], name="msg_conv_sent_idx"),
            # User scopes (erasure) and "latest messages of a user".
            models.Index(fields=["sender", "sent_at"], name="msg_sender_sent_idx"),
        ]

    def __str__(self):
        return self.external_id


class MessageHide(models.Model):
    """One member no longer sees one message (one-way deletion of single messages)."""

    message = models.ForeignKey(Message, on_delete=models.DB_CASCADE, related_name="hides", db_index=False)
    user = models.ForeignKey(ChatUser, on_delete=models.DO_NOTHING, related_name="message_hides", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="messagehide_unique")]
        indexes = [models.Index(fields=["user"], name="messagehide_user_idx")]


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.DB_CASCADE, related_name="attachments")
    file = models.FileField(upload_to="attachments/%Y/%m/", max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=127)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(size__gte=0), name="attachment_size_nonnegative")]


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.DB_CASCADE, related_name="reactions", db_index=False)
    user = models.ForeignKey(ChatUser, on_delete=models.DO_NOTHING, related_name="reactions", db_index=False)
    emoji = models.CharField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user", "emoji"], name="reaction_unique")]
        indexes = [models.Index(fields=["user"], name="reaction_user_idx")]


class PendingDelivery(models.Model):
    """The offline-delivery queue: a message waiting for a member's device to come online.

    Deleting a message must remove its pending deliveries in the same transaction, or the
    message comes back on the next device that syncs (RongCloud's offline-compensation pitfall).
    """

    message = models.ForeignKey(Message, on_delete=models.DB_CASCADE, related_name="pending_deliveries", db_index=False)
    user = models.ForeignKey(ChatUser, on_delete=models.DO_NOTHING, related_name="pending_deliveries", db_index=False)
    queued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="pendingdelivery_unique")]
        indexes = [models.Index(fields=["user"], name="pendingdelivery_user_idx")]


class SyncEvent(models.Model):
    """What a user's devices replay to mirror a deletion; the id is the feed cursor.

    The conversation is kept by id and external id, not by foreign key: the event that says
    "this conversation was deleted for everyone" must outlive the conversation itself.
    """

    class Kind(models.TextChoices):
        MESSAGES_DELETED = "messages_deleted", "Messages deleted for everyone"
        MESSAGES_HIDDEN = "messages_hidden", "Messages hidden for this user"
        HISTORY_CLEARED = "history_cleared", "History cleared for this user"
        CONVERSATION_HIDDEN = "conversation_hidden", "Conversation removed for this user"
        CONVERSATION_DELETED = "conversation_deleted", "Conversation deleted for everyone"
        MEMBER_ERASED = "member_erased", "A member was erased: drop their reactions and membership"
        ATTACHMENTS_DELETED = "attachments_deleted", "Attachments deleted for everyone (the messages stay)"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(ChatUser, on_delete=models.DO_NOTHING, related_name="sync_events", db_index=False)
    conversation_pk = models.BigIntegerField()
    conversation_external_id = models.CharField(max_length=191)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["user", "id"], name="syncevent_user_cursor_idx"),
            models.Index(fields=["conversation_pk", "id"], name="syncevent_conv_cursor_idx"),
        ]
