"""Every validation error the issue lists: a clear message, and nothing changed anywhere."""

from datetime import datetime, timedelta

import pytest

from chatdata.models import AuditEntry, PurgeItem, PurgeRequest
from chatdata.purge.actions import do_preview_purge
from chatdata.purge.scopes import (
    ConversationScope,
    ConversationsScope,
    MessagesScope,
    PurgeInvalid,
    PurgeSpec,
    RangeScope,
    UserScope,
)
from chatdata.purge.validation import spec_from_external
from tests.builders import T0, ChatWorld
from tests.builders import snapshot_chat as snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(db):
    """The shared world with three messages of Alice's and two of Bob's; Eve, in no conversation;
    a room (lobby) with two of Bob's messages."""
    chat = ChatWorld().two_groups(3, 2)
    chat.add_user("eve")
    chat.add_room("room", ["alice", "bob"], external_id="lobby")
    chat.add_history("room", "bob", 2, name="r")
    return chat


def assert_refused(build, moderator, field, words):
    """`build()` returns a spec (or raises while building it); previewing it must fail cleanly."""
    before = snapshot(), PurgeRequest.objects.count(), PurgeItem.objects.count(), AuditEntry.objects.count()
    with pytest.raises(PurgeInvalid) as caught:
        do_preview_purge(build(), actor=moderator, reason="cleanup")
    assert caught.value.field == field
    assert words in caught.value.message
    assert (snapshot(), PurgeRequest.objects.count(), PurgeItem.objects.count(), AuditEntry.objects.count()) == before
    return caught.value.message


def test_it_refuses_unknown_message_ids(chat, moderator):
    message = assert_refused(
        lambda: PurgeSpec(MessagesScope([chat.messages[0].pk, 999_001, 999_002]), "delete_for_everyone"), moderator, "ids", "do not exist"
    )
    assert "999001" in message and "999002" in message


def test_it_refuses_an_unknown_conversation(chat, moderator):
    assert_refused(lambda: PurgeSpec(ConversationScope(999_001), "delete_for_everyone"), moderator, "conversation", "No conversation")
    assert_refused(lambda: PurgeSpec(RangeScope(999_001, end=T0), "delete_for_everyone"), moderator, "conversation", "999001")
    assert_refused(
        lambda: PurgeSpec(ConversationsScope([chat.group.pk, 999_001]), "delete_for_everyone"), moderator, "conversations", "999001"
    )


def test_it_refuses_an_unknown_user_or_member(chat, compliance, moderator):
    assert_refused(lambda: PurgeSpec(UserScope(999_001), "delete_for_everyone"), compliance, "user", "No chat user")
    assert_refused(
        lambda: PurgeSpec(ConversationScope(chat.group.pk), "hide_for_user", member=999_001), moderator, "member", "No chat user"
    )


def test_it_refuses_ids_from_another_conversation(chat, moderator):
    message = assert_refused(
        lambda: PurgeSpec(MessagesScope([chat.messages[0].pk, chat.others[1].pk], conversation=chat.group.pk), "delete_for_everyone"),
        moderator,
        "ids",
        "not in conversation grp",
    )
    assert str(chat.others[1].pk) in message


def test_it_refuses_an_end_not_after_the_start(chat, moderator):
    assert_refused(lambda: PurgeSpec(RangeScope(chat.group.pk, start=T0, end=T0), "delete_for_everyone"), moderator, "end", "after")
    assert_refused(
        lambda: PurgeSpec(RangeScope(chat.group.pk, start=T0, end=T0 - timedelta(seconds=1)), "delete_for_everyone"),
        moderator,
        "end",
        "after",
    )


def test_it_refuses_naive_datetimes(chat, moderator, compliance):
    naive = datetime(2026, 1, 1, 12, 0)
    assert_refused(lambda: PurgeSpec(RangeScope(chat.group.pk, start=naive), "delete_for_everyone"), moderator, "start", "no timezone")
    assert_refused(lambda: PurgeSpec(UserScope(chat.bob.pk, end="2026-01-01T12:00"), "delete_for_everyone"), compliance, "end", "no timezone")


def test_it_refuses_one_way_effects_on_rooms(chat, moderator):
    assert_refused(lambda: PurgeSpec(ConversationScope(chat.room.pk), "hide_for_user", member=chat.alice.pk), moderator, "member", "room")
    assert_refused(
        lambda: PurgeSpec(ConversationScope(chat.room.pk), "delete_conversation", member=chat.alice.pk), moderator, "member", "room"
    )
    assert_refused(lambda: PurgeSpec(RangeScope(chat.room.pk, end=T0), "hide_for_user", member=chat.alice.pk), moderator, "member", "room")
    assert_refused(lambda: PurgeSpec(MessagesScope([chat.r[0].pk]), "hide_for_user", member=chat.alice.pk), moderator, "member", "room")


def test_it_refuses_a_member_who_is_not_in_the_conversation(chat, moderator):
    assert_refused(
        lambda: PurgeSpec(ConversationScope(chat.group.pk), "hide_for_user", member=chat.eve.pk), moderator, "member", "not in conversation grp"
    )
    assert_refused(
        lambda: PurgeSpec(MessagesScope([chat.messages[0].pk]), "hide_for_user", member=chat.eve.pk), moderator, "member", "not in"
    )


def test_it_refuses_a_conversation_list_when_every_item_is_refused(chat, moderator):
    assert_refused(
        lambda: PurgeSpec(ConversationsScope([chat.room.pk]), "hide_for_user", member=chat.alice.pk), moderator, "member", "room"
    )


def test_it_refuses_an_empty_scope(chat, moderator):
    assert_refused(lambda: PurgeSpec(MessagesScope([]), "delete_for_everyone"), moderator, "ids", "empty")
    assert_refused(lambda: PurgeSpec(ConversationsScope([]), "delete_for_everyone"), moderator, "conversations", "empty")
    assert_refused(lambda: PurgeSpec(RangeScope(chat.group.pk), "delete_for_everyone"), moderator, "start", "empty")


def test_it_refuses_more_ids_than_purge_max_ids(chat, moderator, settings):
    settings.PURGE_MAX_IDS = 2
    ids = [m.pk for m in chat.messages]
    assert_refused(lambda: PurgeSpec(MessagesScope(ids), "delete_for_everyone"), moderator, "ids", "At most 2")
    external = [m.external_id for m in chat.messages]
    assert_refused(
        lambda: spec_from_external({"scope": {"kind": "messages", "ids": external}, "effect": "delete_for_everyone"}),
        moderator,
        "ids",
        "At most 2",
    )


def test_it_refuses_unknown_external_ids_by_name(chat, moderator):
    message = assert_refused(
        lambda: spec_from_external({"scope": {"kind": "conversations", "conversations": ["grp", "nope"]}, "effect": "delete_for_everyone"}),
        moderator,
        "conversations",
        "No conversation",
    )
    assert "nope" in message and "grp" not in message
    assert_refused(
        lambda: spec_from_external({"scope": {"kind": "conversation", "conversation": "grp"}, "effect": "hide_for_user", "member": "zed"}),
        moderator,
        "member",
        "zed",
    )


def test_it_requires_a_reason(chat, moderator):
    before = PurgeRequest.objects.count(), AuditEntry.objects.count()
    with pytest.raises(PurgeInvalid) as caught:
        do_preview_purge(PurgeSpec(ConversationScope(chat.group.pk), "delete_for_everyone"), actor=moderator, reason="  ")
    assert caught.value.field == "reason"
    assert (PurgeRequest.objects.count(), AuditEntry.objects.count()) == before


def test_it_resolves_external_ids_to_the_same_spec(chat):
    spec = spec_from_external(
        {
            "scope": {"kind": "range", "conversation": "grp", "start": "2026-01-01T00:00:00Z", "end": None},
            "effect": "hide_for_user",
            "member": "bob",
        }
    )
    assert spec == PurgeSpec(RangeScope(chat.group.pk, start="2026-01-01T00:00:00Z"), "hide_for_user", member=chat.bob.pk)
