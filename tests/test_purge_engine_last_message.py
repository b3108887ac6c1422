"""The deletion engine, every scope × effect on PostgreSQL (tests/purge_engine.py): a conversation's
last_message_at after a purge, whichever message was the latest and whatever stays."""

import pytest

from chatdata.models import Conversation, Message
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.scopes import ConversationScope, PurgeSpec, RangeScope
from tests.builders import HOUR, T0
from tests.purge_engine import run, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.django_db


def test_it_keeps_last_message_at_right_after_deleting_the_latest(world, moderator, django_capture_on_commit_callbacks):
    run(PurgeSpec(RangeScope(world.group.pk, start=T0 + 8 * HOUR), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)
    world.group.refresh_from_db()
    assert world.group.last_message_at == world.g[7].sent_at


def test_it_keeps_last_message_at_when_the_latest_message_is_out_of_scope(world, moderator, django_capture_on_commit_callbacks):
    run(PurgeSpec(RangeScope(world.group.pk, end=T0 + 3 * HOUR), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)
    world.group.refresh_from_db()
    assert world.group.last_message_at == world.g[-1].sent_at


def test_it_finds_the_latest_held_message_after_a_whole_conversation_purge(world, moderator, compliance, django_capture_on_commit_callbacks):
    from chatdata.purge.holds import do_add_legal_hold

    do_add_legal_hold(actor=compliance, user=world.alice, end=T0 + 2 * HOUR, reason="case")
    do_add_legal_hold(actor=compliance, conversation=world.group, start=T0 + 4 * HOUR, end=T0 + 5 * HOUR, reason="case")
    run(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)
    world.group.refresh_from_db()
    assert sorted(Message.objects.filter(conversation=world.group).values_list("pk", flat=True)) == [
        world.g[0].pk, world.g[1].pk, world.g[4].pk,
    ]
    assert world.group.last_message_at == world.g[4].sent_at


def test_it_finds_the_latest_message_when_ids_and_times_disagree(world, moderator, settings, django_capture_on_commit_callbacks):
    from chatdata.purge.execute import run_purge

    settings.PURGE_INLINE_LIMIT = 0
    settings.PURGE_BATCH_SIZE = 4
    Message.objects.filter(pk=world.g[0].pk).update(sent_at=T0 + 20 * HOUR)  # the lowest id is the latest
    Conversation.objects.filter(pk=world.group.pk).update(last_message_at=T0 + 20 * HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(
            do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), actor=moderator, reason="x"),
            actor=moderator,
        )
        run_purge(request.pk, request.attempt, max_steps=1)  # the first batch, g[0..3], takes g[0], the latest
    world.group.refresh_from_db()
    assert world.group.last_message_at == world.g[9].sent_at  # in scope but above the cursor: still there
