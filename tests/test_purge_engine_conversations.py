"""The deletion engine, every scope × effect on PostgreSQL (tests/purge_engine.py): whole conversations
and lists of them: a history deleted or cleared, a conversation removed for one member or for
everyone, each conversation of a list on its own."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage

from chatdata.models import Conversation, Membership, Message, SyncEvent
from chatdata.purge.scopes import ConversationScope, ConversationsScope, PurgeSpec
from tests.purge_engine import changed_rows, counts, events, run, snapshot, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.django_db


def test_it_deletes_a_whole_conversation_history_but_keeps_the_conversation(world, moderator, django_capture_on_commit_callbacks):
    request = run(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)

    assert request.result["messages"] == 10
    world.group.refresh_from_db()
    assert world.group.last_message_at is None
    assert Membership.objects.filter(conversation=world.group).count() == 3
    assert Message.objects.count() == 4 + 3 + 3
    assert not default_storage.exists(world.file)


def test_it_clears_a_members_whole_history(world, support, django_capture_on_commit_callbacks):
    request = run(PurgeSpec(ConversationScope(world.group.pk), "hide_for_user", member=world.bob.pk), support, django_capture_on_commit_callbacks)

    cleared = Membership.objects.get(conversation=world.group, user=world.bob).cleared_before
    assert world.g[-1].sent_at < cleared <= world.g[-1].sent_at + timedelta(milliseconds=1)
    assert request.result["messages"] == 10
    assert request.result["pending_deliveries"] == 1
    assert SyncEvent.objects.get().payload["cleared_before"] == cleared.isoformat()


def test_it_removes_a_conversation_for_one_member(world, support, django_capture_on_commit_callbacks):
    run(PurgeSpec(ConversationScope(world.peer.pk), "delete_conversation", member=world.alice.pk), support, django_capture_on_commit_callbacks)
    membership = Membership.objects.get(conversation=world.peer, user=world.alice)
    assert membership.hidden is True
    assert membership.cleared_before is None
    assert events() == [("alice", "peer", "conversation_hidden")]


def test_it_removes_a_conversation_for_one_member_clearing_history(world, support, django_capture_on_commit_callbacks):
    request = run(
        PurgeSpec(ConversationScope(world.peer.pk), "delete_conversation", member=world.alice.pk, clear_history=True),
        support,
        django_capture_on_commit_callbacks,
    )
    membership = Membership.objects.get(conversation=world.peer, user=world.alice)
    assert membership.hidden and membership.cleared_before > world.p[-1].sent_at
    assert request.result["messages"] == 4
    assert Message.objects.filter(conversation=world.peer).count() == 4


def test_it_deletes_a_conversation_for_everyone(world, moderator, django_capture_on_commit_callbacks):
    before = snapshot()
    group_pk = world.group.pk
    request = run(PurgeSpec(ConversationScope(group_pk), "delete_conversation"), moderator, django_capture_on_commit_callbacks)

    assert request.state == "done", request.error
    assert counts(request, "messages", "conversations", "members_affected") == {
        "messages": 10, "conversations": 1, "members_affected": 3,
    }
    assert not Conversation.objects.filter(pk=group_pk).exists()
    assert not Membership.objects.filter(conversation_id=group_pk).exists()
    assert events() == [(u, "grp", "conversation_deleted") for u in ("alice", "bob", "carol")]
    diff = changed_rows(before, snapshot())
    assert all(not added for removed, added in diff.values())
    assert {row[0] for row in diff["Conversation"][0]} == {group_pk}


def test_it_handles_each_conversation_of_a_list_on_its_own(world, moderator, django_capture_on_commit_callbacks):
    spec = PurgeSpec(ConversationsScope([world.peer.pk, world.room.pk]), "delete_for_everyone")
    request = run(spec, moderator, django_capture_on_commit_callbacks)

    items = list(request.items.values_list("conversation_external_id", "status", "counts__messages"))
    assert items == [("peer", "ok", 4), ("room", "ok", 3)]
    assert request.result["messages"] == 7
    assert Message.objects.filter(conversation__in=[world.peer, world.room]).count() == 0


def test_it_refuses_rooms_item_by_item_for_one_way_effects(world, support, django_capture_on_commit_callbacks):
    spec = PurgeSpec(ConversationsScope([world.group.pk, world.room.pk]), "hide_for_user", member=world.carol.pk)
    request = run(spec, support, django_capture_on_commit_callbacks)

    group_item, room_item = request.items.order_by("position")
    assert group_item.status == "ok"
    assert room_item.status == "refused" and "room" in room_item.reason
    assert Membership.objects.get(conversation=world.room, user=world.carol).cleared_before is None
    assert Membership.objects.get(conversation=world.group, user=world.carol).cleared_before is not None


def test_it_deletes_several_conversations_for_everyone(world, moderator, django_capture_on_commit_callbacks):
    spec = PurgeSpec(ConversationsScope([world.peer.pk, world.room.pk]), "delete_conversation")
    request = run(spec, moderator, django_capture_on_commit_callbacks)

    assert request.result["conversations"] == request.preview["conversations"] == 2
    assert set(Conversation.objects.values_list("external_id", flat=True)) == {"grp", "other"}
    assert [item.status for item in request.items.all()] == ["ok", "ok"]
