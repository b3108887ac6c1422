"""A staff member's selection in progress (issue 14, item 8).

Ticks made in a conversation's timeline (message ids) or in the conversation list (conversation
ids) are kept here, per staff member and conversation, until a request made from them runs or
the person clears them: going Back, loading "Older messages" again or coming back from a preview
finds them ticked. A selection is a draft, not chat data and not a request: changing it is not
audited (the request made from it is).

`conversation_id` is a plain number, not a foreign key: the engine deletes conversations with the
foreign-key triggers skipped where it may (chatdata.purge.effects), and a draft must never be a
reason to keep or cascade anything. A selection whose conversation is gone is simply never shown.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Selection(models.Model):
    class Kind(models.TextChoices):
        MESSAGES = "messages", "Messages of one conversation"
        CONVERSATIONS = "conversations", "Conversations"

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    conversation_id = models.BigIntegerField(null=True, blank=True)  # for MESSAGES; None for CONVERSATIONS
    ids = models.JSONField(default=list)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "conversation_id"], condition=Q(kind="messages"), name="selection_one_per_conversation"
            ),
            models.UniqueConstraint(fields=["staff"], condition=Q(kind="conversations"), name="selection_one_batch"),
            models.CheckConstraint(
                condition=Q(kind="messages", conversation_id__isnull=False) | Q(kind="conversations", conversation_id__isnull=True),
                name="selection_kind_matches_conversation",
            ),
        ]

    def __str__(self):
        return f"{self.staff} {self.kind} {self.conversation_id or ''}: {len(self.ids)}"
