"""Small builders for chat data in tests. Each returns the saved object; defaults are unique."""

import itertools
from datetime import UTC, datetime, timedelta

from chatdata.models import (
    Attachment,
    ChatUser,
    Conversation,
    Membership,
    Message,
    MessageHide,
    PendingDelivery,
    Reaction,
)

_seq = itertools.count(1)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_user(external_id=None, name=None):
    n = next(_seq)
    return ChatUser.objects.create(
        external_id=external_id or f"u{n}", display_name=name or f"User {n}", created_at=T0
    )


def make_conversation(kind="group", members=(), external_id=None, title=None):
    n = next(_seq)
    conversation = Conversation.objects.create(
        external_id=external_id or f"c{n}", kind=kind, title=title if title is not None else f"Conversation {n}", created_at=T0
    )
    for user in members:
        Membership.objects.create(conversation=conversation, user=user, joined_at=T0)
    return conversation


def make_message(conversation, sender, sent_at=None, body="hello", external_id=None, kind="text"):
    n = next(_seq)
    message = Message.objects.create(
        external_id=external_id or f"m{n}",
        conversation=conversation,
        sender=sender,
        sent_at=sent_at or T0 + timedelta(minutes=n),
        kind=kind,
        body=body,
    )
    if conversation.last_message_at is None or message.sent_at > conversation.last_message_at:
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=message.sent_at)
        conversation.last_message_at = message.sent_at
    return message


def make_history(conversation, sender, count, start=T0, step=timedelta(hours=1)):
    return [make_message(conversation, sender, sent_at=start + i * step, body=f"message {i}") for i in range(count)]


def add_reaction(message, user, emoji="👍"):
    return Reaction.objects.create(message=message, user=user, emoji=emoji)


def add_hide(message, user):
    return MessageHide.objects.create(message=message, user=user)


def add_pending(message, user):
    return PendingDelivery.objects.create(message=message, user=user)


def add_attachment(message, name="photo.png", content=b"\x89PNG fake", content_type="image/png"):
    from django.core.files.base import ContentFile

    attachment = Attachment(message=message, size=len(content), content_type=content_type)
    attachment.file.save(name, ContentFile(content), save=False)
    attachment.save()
    return attachment


CHAT_TABLES = (Conversation, Membership, Message, MessageHide, Attachment, Reaction, PendingDelivery)


def snapshot_chat():
    """Every chat row, by model name, as a set of comparable tuples (JSON values as text)."""
    import json

    def cell(value):
        return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value

    return {
        model.__name__: {tuple(cell(v) for v in row) for row in model.objects.values_list()} for model in CHAT_TABLES
    }
