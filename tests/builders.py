"""Chat data for tests: small builder functions (each returns the saved object; defaults are
unique) and ChatWorld, the one chat world the test modules share (the `chat` fixture of
tests/conftest.py), which a module extends or retells through the same few named steps."""

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
HOUR = timedelta(hours=1)


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


class ChatWorld:
    """A chat world built by name: each user, conversation or history is kept as an attribute under
    the name it is given (`world.alice`, `world.group`, `world.messages`; `world["alice"]` too),
    so a test reads as its story. The steps take those names or the objects themselves.

        world = ChatWorld().add_users("alice", "bob")
        world.add_group("team", ["alice", "bob"], external_id="grp")
        world.add_history("team", "alice", 5, name="messages")
        world.add_reaction(world.messages[0], "bob")

    `two_groups()` is the shared story (the `chat` fixture): Alice and Bob in the group "grp" with
    Alice's messages (the usual scope), and in "oth" with Bob's (the control that must survive).
    """

    def __getitem__(self, name):
        return getattr(self, name)

    def _the(self, thing):
        return getattr(self, thing) if isinstance(thing, str) else thing

    def _keep(self, name, value):
        if name is not None:
            if callable(getattr(type(self), name, None)):
                raise ValueError(f"{name!r} names a step of ChatWorld: keep the thing under another name")
            setattr(self, name, value)
        return value

    # --- people and conversations ---------------------------------------------------------------

    def add_user(self, name, display_name=None, *, external_id=None):
        """A chat user kept as `name`; the external id is `name` unless given."""
        return self._keep(name, make_user(external_id or name, display_name))

    def add_users(self, *names):
        """Users kept under their names (also their external ids); returns the world, for chaining."""
        for name in names:
            self.add_user(name)
        return self

    def add_conversation(self, name, kind, members=(), *, external_id=None, title=None):
        members = [self._the(member) for member in members]
        return self._keep(name, make_conversation(kind, members, external_id=external_id or name, title=title))

    def add_group(self, name, members=(), **fields):
        return self.add_conversation(name, "group", members, **fields)

    def add_peer(self, name, members=(), **fields):
        return self.add_conversation(name, "peer", members, **fields)

    def add_room(self, name, members=(), **fields):
        return self.add_conversation(name, "room", members, **fields)

    def add_system(self, name, members=(), **fields):
        return self.add_conversation(name, "system", members, **fields)

    def clear(self, conversation, user, before):
        """The member cleared their history of the conversation before that moment."""
        Membership.objects.filter(conversation=self._the(conversation), user=self._the(user)).update(cleared_before=before)

    def hide_conversation(self, conversation, user):
        Membership.objects.filter(conversation=self._the(conversation), user=self._the(user)).update(hidden=True)

    # --- messages and what hangs off them ---------------------------------------------------------

    def add_message(self, conversation, sender, *, name=None, **fields):
        return self._keep(name, make_message(self._the(conversation), self._the(sender), **fields))

    def add_history(self, conversation, sender, count, *, name=None, start=T0, step=HOUR):
        """`count` messages from `sender`, one every `step` from `start`; kept as `name` if given."""
        return self._keep(name, make_history(self._the(conversation), self._the(sender), count, start=start, step=step))

    def add_reaction(self, message, user, emoji="👍"):
        return add_reaction(message, self._the(user), emoji)

    def add_hide(self, message, user):
        return add_hide(message, self._the(user))

    def add_pending(self, message, user):
        return add_pending(message, self._the(user))

    def add_attachment(self, message, **fields):
        return add_attachment(message, **fields)

    # --- the shared story ---------------------------------------------------------------------------

    def two_groups(self, mine=10, theirs=3, *, group="grp", other="oth"):
        """Alice and Bob; `group` holds `mine` hourly messages of Alice's (`messages`), `other`
        `theirs` of Bob's (`others`)."""
        self.add_users("alice", "bob")
        self.add_group("group", ["alice", "bob"], external_id=group)
        self.add_group("other", ["alice", "bob"], external_id=other)
        self.add_history("group", "alice", mine, name="messages")
        self.add_history("other", "bob", theirs, name="others")
        return self


CHAT_TABLES = (Conversation, Membership, Message, MessageHide, Attachment, Reaction, PendingDelivery)


def snapshot_chat():
    """Every chat row, by model name, as a set of comparable tuples (JSON values as text)."""
    import json

    def cell(value):
        return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value

    return {
        model.__name__: {tuple(cell(v) for v in row) for row in model.objects.values_list()} for model in CHAT_TABLES
    }
