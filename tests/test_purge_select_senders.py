"""Issue 14, "Add" (tests/purge_select.py): ranges and batches narrowed to some senders."""

import pytest

from chatdata.models import Conversation, Message, MessageHide, SyncEvent
from chatdata.purge.scopes import ConversationsScope, PurgeSpec, RangeScope
from tests.builders import T0
from tests.purge_select import HOUR, run, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.django_db


def test_a_range_narrowed_to_senders_deletes_only_what_they_sent(world, moderator, django_capture_on_commit_callbacks):
    spec = PurgeSpec(RangeScope(world.group.pk, end=T0 + 5 * HOUR, senders=[world.sam.pk, world.bob.pk]), "delete_for_everyone")
    before = set(Message.objects.values_list("id", flat=True))
    request = run(spec, moderator, django_capture_on_commit_callbacks)
    assert request.preview["messages"] == request.result["messages"] == 2  # Sam's two; Bob's is at +5h
    assert before - set(Message.objects.values_list("id", flat=True)) == {world.spam[0].pk, world.spam[1].pk}
    assert request.target.endswith(", sent by u-sam, u-bob")
    payloads = {tuple(e.payload["senders"]) for e in SyncEvent.objects.all()}
    assert payloads == {("u-sam", "u-bob")}


def test_a_batch_narrowed_to_a_sender_counts_each_conversation(world, moderator, django_capture_on_commit_callbacks):
    spec = PurgeSpec(ConversationsScope([world.group.pk, world.other.pk, world.quiet.pk], senders=[world.sam.pk]),
                     "delete_for_everyone")
    request = run(spec, moderator, django_capture_on_commit_callbacks)
    items = {i.conversation_external_id: (i.preview["messages"], i.counts["messages"], i.status) for i in request.items.all()}
    assert items == {"g-one": (2, 2, "ok"), "g-two": (2, 2, "ok"), "g-quiet": (0, 0, "ok")}
    assert not Message.objects.filter(sender=world.sam).exists()
    assert Message.objects.count() == len(world.talk)


def test_a_narrowed_hide_hides_only_those_senders_messages_for_the_member(world, moderator, django_capture_on_commit_callbacks):
    spec = PurgeSpec(RangeScope(world.group.pk, end=T0 + 10 * HOUR, senders=[world.sam.pk]), "hide_for_user", member=world.alice.pk)
    request = run(spec, moderator, django_capture_on_commit_callbacks)
    assert request.preview["messages"] == request.result["hides"] == 2
    assert set(MessageHide.objects.values_list("message_id", "user_id")) == {(m.pk, world.alice.pk) for m in world.spam[:2]}
    assert world.group.memberships.get(user=world.alice).cleared_before is None


def test_deleting_a_senders_latest_message_keeps_last_message_at_right(world, moderator, django_capture_on_commit_callbacks):
    """Bob's "lunch?" is the group's latest message: what is left is everyone else's."""
    spec = PurgeSpec(ConversationsScope([world.group.pk], senders=[world.bob.pk]), "delete_for_everyone")
    request = run(spec, moderator, django_capture_on_commit_callbacks)
    assert request.result["messages"] == 1
    assert Conversation.objects.get(pk=world.group.pk).last_message_at == world.talk[0].sent_at
