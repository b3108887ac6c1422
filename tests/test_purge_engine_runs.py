"""The deletion engine, every scope × effect on PostgreSQL (tests/purge_engine.py): how a run goes:
only up to the preview's high-water mark, in batches with a checkpoint each; and what a preview
shows without changing anything."""

from datetime import timedelta

import pytest

from chatdata.models import Message, PurgeItem, PurgeRequest
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.preview import affected_per_day
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import HOUR, T0, make_message
from tests.purge_engine import run, snapshot, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.django_db


def test_it_never_touches_messages_above_the_high_water_mark(world, moderator, django_capture_on_commit_callbacks):
    request = do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), actor=moderator, reason="x")
    late = make_message(world.group, world.alice, sent_at=T0 - HOUR)  # arrives after the preview
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(request, actor=moderator)
    assert list(Message.objects.filter(conversation=world.group)) == [late]
    world.group.refresh_from_db()
    assert world.group.last_message_at == late.sent_at


def test_it_runs_in_batches_with_a_checkpoint_each(world, moderator, settings, django_capture_on_commit_callbacks):
    settings.PURGE_BATCH_SIZE = 3
    request = run(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)
    assert request.batches == 4  # 3 + 3 + 3 + 1
    assert request.processed_messages == 10
    assert request.result["reactions"] == 2
    assert request.started_at <= request.last_batch_at <= request.finished_at


def test_it_counts_affected_messages_per_day(world, moderator):
    make_message(world.group, world.alice, sent_at=T0 + timedelta(days=1))
    spec = PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone")
    assert affected_per_day(spec) == [(T0.date(), 10), ((T0 + timedelta(days=1)).date(), 1)]
    request = do_preview_purge(spec, actor=moderator, reason="x")
    assert sum(n for _, n in affected_per_day(request)) == 11


def test_it_previews_samples_without_changing_anything(world, moderator):
    before = snapshot()
    request = do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), actor=moderator, reason="x")
    assert snapshot() == before
    assert request.state == "previewed"
    assert [s["external_id"] for s in request.preview["sample_first"]] == [m.external_id for m in world.g[:3]]
    assert [s["external_id"] for s in request.preview["sample_last"]] == [m.external_id for m in world.g[-3:]]
    assert request.preview["high_water_mark"] == Message.objects.order_by("-id").first().pk
    assert request.preview["runs_inline"] is True and request.preview["needs_approval"] is False
    assert PurgeItem.objects.count() == 0
    assert PurgeRequest.objects.get().total_messages == 10
