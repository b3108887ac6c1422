"""Batch sizing: PURGE_BATCH_SIZE messages a batch, fewer while batches run over PURGE_BATCH_TARGET_MS."""

from datetime import timedelta

import pytest

from chatdata.models import Conversation, Message
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.execute import SMALLEST_ADAPTED_BATCH, BatchSizer
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import T0, make_conversation, make_history, make_user


@pytest.fixture
def sizing(settings):
    settings.PURGE_BATCH_SIZE = 6000
    settings.PURGE_BATCH_TARGET_MS = 250
    return settings


def test_a_batch_over_the_target_makes_the_next_one_fit_it(sizing):
    sizer = BatchSizer()
    assert sizer.size == 6000

    sizer.record(6000, 0.5)  # 12,000 messages/s: 250 ms is 3,000 messages
    assert sizer.size == 3000
    sizer.record(3000, 0.3)
    assert sizer.size == 2500


def test_quicker_batches_grow_back_at_most_doubling_and_never_past_the_setting(sizing):
    sizer = BatchSizer()
    sizer.record(6000, 3.0)
    assert sizer.size == SMALLEST_ADAPTED_BATCH  # the floor, however slow

    sizer.record(500, 0.01)  # would fit 12,500
    assert sizer.size == 1000
    for _ in range(5):
        sizer.record(sizer.size, 0.01)
    assert sizer.size == 6000


def test_nothing_learned_from_steps_without_a_batch_or_with_the_target_off(sizing):
    sizer = BatchSizer()
    sizer.record(0, 2.0)  # a unit's finishing step
    assert sizer.size == 6000

    sizing.PURGE_BATCH_TARGET_MS = 0
    sizer = BatchSizer()
    sizer.record(6000, 60.0)
    assert sizer.size == 6000


def test_a_setting_below_the_floor_is_never_shrunk_below_itself(sizing):
    sizing.PURGE_BATCH_SIZE = 3
    sizer = BatchSizer()
    sizer.record(3, 5.0)
    assert sizer.size == 3


def _big_conversation(messages):
    alice, bob = make_user(), make_user()
    group = make_conversation("group", [alice, bob])
    Message.objects.bulk_create(
        Message(external_id=f"big{i}", conversation=group, sender=alice, sent_at=T0 + timedelta(seconds=i), body=f"m {i}")
        for i in range(messages)
    )
    Conversation.objects.filter(pk=group.pk).update(last_message_at=T0 + timedelta(seconds=messages - 1))
    other = make_conversation("group", [alice, bob])
    make_history(other, bob, 3)
    return group, other


@pytest.mark.django_db
@pytest.mark.parametrize(("target_ms", "batches"), [(0, 3), (1, 4)])  # 1,700 = 600+600+500 | 600+500+500+100
def test_a_purge_over_its_time_budget_runs_in_smaller_batches_to_the_same_end(
    sizing, moderator, django_capture_on_commit_callbacks, target_ms, batches
):
    sizing.PURGE_BATCH_SIZE = 600  # the floor (500) is then below it
    sizing.PURGE_BATCH_TARGET_MS = target_ms  # 1 ms: every batch of hundreds of messages runs over
    sizing.PURGE_APPROVAL_THRESHOLD = 10_000
    sizing.PURGE_INLINE_LIMIT = 10_000
    group, other = _big_conversation(1700)
    spec = PurgeSpec(ConversationScope(group.pk), "delete_for_everyone")

    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(spec, actor=moderator, reason="sizing"), actor=moderator)

    request.refresh_from_db()
    assert request.state == "done"
    assert request.batches == batches
    assert request.result["messages"] == request.preview["messages"] == 1700
    assert not Message.objects.filter(conversation=group).exists()
    assert Message.objects.filter(conversation=other).count() == 3
