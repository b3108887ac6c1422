"""Batch sizing: PURGE_BATCH_SIZE messages a batch, fewer while batches run over PURGE_BATCH_TARGET_MS;
and pacing: a pause of PURGE_BATCH_PAUSE_PERCENT of each batch's time before the next one."""

from datetime import timedelta

import pytest

from chatdata.models import Conversation, Message, PurgeRequest
from chatdata.purge import execute
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.execute import SMALLEST_ADAPTED_BATCH, BatchSizer
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import T0, make_conversation, make_history, make_user


@pytest.fixture
def sizing(settings):
    settings.PURGE_BATCH_SIZE = 6000
    settings.PURGE_BATCH_TARGET_MS = 250
    settings.PURGE_BATCH_PAUSE_PERCENT = 100
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


def test_the_pause_is_a_share_of_the_batch_just_run(sizing):
    sizing.PURGE_BATCH_PAUSE_PERCENT = 150
    sizer = BatchSizer()
    assert sizer.pause == 0
    sizer.record(6000, 0.2)
    assert sizer.pause == pytest.approx(0.3)
    sizer.record(0, 0.05)  # a unit's finishing step: no batch, no pause
    assert sizer.pause == 0
    sizing.PURGE_STALE_SECONDS = 8
    sizer = BatchSizer()
    sizer.record(6000, 30.0)
    assert sizer.pause == 2.0  # never long enough for the run to look interrupted

    assert _paused_after(BatchSizer(paced=False)) == 0  # inline runs never pause
    sizing.PURGE_BATCH_PAUSE_PERCENT = 0
    assert _paused_after(BatchSizer()) == 0


def test_the_pause_is_a_share_of_the_batchs_writes_when_they_are_timed(sizing):
    """The engine times the batch's writes (effects.delete_messages / hide_messages); the keyset
    read, the checkpoint and the rest of the step earn no pause."""
    sizing.PURGE_BATCH_PAUSE_PERCENT = 50
    sizer = BatchSizer()
    sizer.record(6000, 0.2, writing=0.12)
    assert sizer.pause == pytest.approx(0.06)
    assert sizer.size == 6000  # the size still follows the whole transaction's time
    sizer.record(6000, 0.5, writing=0.3)
    assert (sizer.pause, sizer.size) == (pytest.approx(0.15), 3000)
    sizer.record(6000, 0.2, writing=0.9)  # never more than the batch itself
    assert sizer.pause == pytest.approx(0.1)


@pytest.mark.django_db
def test_a_background_run_pauses_for_a_share_of_each_batchs_writes(sizing, moderator, monkeypatch):
    import time
    from types import SimpleNamespace

    from chatdata.purge import effects, units

    sizing.PURGE_BATCH_SIZE = 600
    sizing.PURGE_BATCH_TARGET_MS = 0
    sizing.PURGE_BATCH_PAUSE_PERCENT = 100
    sizing.PURGE_APPROVAL_THRESHOLD = 10_000
    sizing.PURGE_INLINE_LIMIT = 100
    clock = [1000.0]
    fake = SimpleNamespace(monotonic=lambda: clock[0], sleep=time.sleep)
    monkeypatch.setattr(execute, "time", fake)
    monkeypatch.setattr(units, "time", fake)
    real_delete, real_next = effects.delete_messages, units.UnitRun._next_batch

    def slow_writes(ids, **kwargs):
        clock[0] += 0.25  # the writes: 250 ms
        return real_delete(ids, **kwargs)

    def slow_read(self, *args):
        clock[0] += 0.5  # the keyset read: 500 ms, no pause for it
        return real_next(self, *args)

    monkeypatch.setattr(effects, "delete_messages", slow_writes)
    monkeypatch.setattr(units.UnitRun, "_next_batch", slow_read)
    waits = []
    monkeypatch.setattr(execute, "_pause", waits.append)
    group, other = _big_conversation(1700)
    spec = PurgeSpec(ConversationScope(group.pk), "delete_for_everyone")
    request = do_execute_purge(do_preview_purge(spec, actor=moderator, reason="pacing"), actor=moderator)
    execute.run_purge(request.pk, request.attempt)
    request.refresh_from_db()
    assert request.state == "done" and request.batches == 3
    assert waits == [pytest.approx(0.25)] * 3


def _paused_after(sizer):
    sizer.record(6000, 0.2)
    return sizer.pause


@pytest.mark.django_db
@pytest.mark.parametrize(("inline", "pauses"), [(False, 3), (True, 0)])
def test_a_background_run_pauses_after_each_batch_and_an_inline_one_never(
    sizing, moderator, monkeypatch, inline, pauses
):
    sizing.PURGE_BATCH_SIZE = 600
    sizing.PURGE_BATCH_PAUSE_PERCENT = 50
    sizing.PURGE_APPROVAL_THRESHOLD = 10_000
    sizing.PURGE_INLINE_LIMIT = 10_000 if inline else 100
    waits = []
    monkeypatch.setattr(execute, "_pause", waits.append)
    group, other = _big_conversation(1700)
    spec = PurgeSpec(ConversationScope(group.pk), "delete_for_everyone")

    request = do_execute_purge(do_preview_purge(spec, actor=moderator, reason="pacing"), actor=moderator)
    if not inline:
        assert request.state == PurgeRequest.State.QUEUED  # the job is enqueued on commit: run it here
        execute.run_purge(request.pk, request.attempt)
        request.refresh_from_db()

    assert request.state == "done"
    assert request.batches == 3
    assert len(waits) == pauses and all(0 < wait < 60 for wait in waits)
    assert not Message.objects.filter(conversation=group).exists()
    assert Message.objects.filter(conversation=other).count() == 3
