"""The deletion engine, every scope × effect on PostgreSQL (tests/purge_engine.py): selected messages
and ranges, deleted for everyone with their children and files or hidden for one member."""

import pytest
from django.core.files.storage import default_storage

from chatdata.models import FileOutbox, Membership, Message, MessageHide, PendingDelivery, SyncEvent
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.scopes import ConversationScope, MessagesScope, PurgeSpec, RangeScope
from tests.builders import HOUR, T0, add_hide, add_reaction
from tests.purge_engine import changed_rows, counts, events, run, snapshot, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("skip_triggers", "track_counts"), [("auto", "on"), ("off", "on"), ("off", "off")])
def test_it_counts_the_children_deleted_whether_the_cascade_or_the_engine_deletes_them(
    skip_triggers, track_counts, world, moderator, settings, django_capture_on_commit_callbacks
):
    """Skipping the foreign-key triggers (tests/test_purge_fk_triggers.py), the engine deletes and
    counts reactions, hides and pending deliveries itself; otherwise, with track_counts on, the
    cascades delete them and the transaction's counters count them; with it off, the engine
    deletes them itself. A reaction added after the preview is counted too: the counts are of
    what was deleted."""
    from django.db import connection, connections

    settings.PURGE_SKIP_FK_TRIGGERS = skip_triggers
    connections["default"].__dict__.pop("_chatsweep_cascade_counters", None)
    with connection.cursor() as cursor:
        cursor.execute(f"SET track_counts = {track_counts}")
    try:
        spec = PurgeSpec(ConversationScope(conversation=world.group.pk), "delete_for_everyone")
        with django_capture_on_commit_callbacks(execute=True):
            request = do_preview_purge(spec, actor=moderator, reason="test")
            add_reaction(world.g[3], world.carol, "👀")
            request = do_execute_purge(request, actor=moderator)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET track_counts")
        connections["default"].__dict__.pop("_chatsweep_cascade_counters", None)

    assert request.state == "done", request.error
    assert counts(request, "messages", "attachments", "reactions", "hides", "pending_deliveries") == {
        "messages": 10, "attachments": 1, "reactions": 3, "hides": 1, "pending_deliveries": 2,
    }
    assert request.preview["reactions"] == 2
    assert not Message.objects.filter(conversation=world.group).exists()


def test_it_deletes_selected_messages_for_everyone_with_children_and_files(world, moderator, django_capture_on_commit_callbacks):
    before = snapshot()
    spec = PurgeSpec(MessagesScope(ids=[world.g[1].pk, world.g[2].pk], conversation=world.group.pk), "delete_for_everyone")
    request = run(spec, moderator, django_capture_on_commit_callbacks)

    assert request.state == "done", request.error
    expected = {
        "messages": 2, "attachments": 1, "reactions": 2, "hides": 1,
        "pending_deliveries": 2, "conversations": 1, "members_affected": 3,
    }
    assert {key: request.preview[key] for key in expected} == expected
    assert {key: request.result[key] for key in expected} == expected
    gone = {world.g[1].pk, world.g[2].pk}
    assert not Message.objects.filter(pk__in=gone).exists()
    assert not default_storage.exists(world.file)
    assert default_storage.exists(world.kept_file)
    assert FileOutbox.objects.count() == 0
    # Only the two messages and their children changed.
    diff = changed_rows(before, snapshot())
    assert {name for name in diff} == {"Message", "Attachment", "Reaction", "MessageHide", "PendingDelivery"}
    assert all(not added for removed, added in diff.values())
    assert {row[0] for row in diff["Message"][0]} == gone
    # One event per member of the conversation, naming the deleted messages.
    assert events() == [(u, "grp", "messages_deleted") for u in ("alice", "bob", "carol")]
    payload = SyncEvent.objects.first().payload
    assert sorted(payload["message_ids"]) == sorted([world.g[1].external_id, world.g[2].external_id])
    assert payload["purge_request"] == request.pk


def test_it_hides_selected_messages_for_one_member(world, support, django_capture_on_commit_callbacks):
    add_hide(world.g[2], world.bob)  # already hidden: not written twice
    spec = PurgeSpec(MessagesScope(ids=[world.g[1].pk, world.g[2].pk, world.g[3].pk]), "hide_for_user", member=world.bob.pk)
    before = snapshot()
    request = run(spec, support, django_capture_on_commit_callbacks)

    assert request.state == "done", request.error
    assert counts(request, "messages", "hides", "pending_deliveries") == {"messages": 3, "hides": 2, "pending_deliveries": 1}
    assert request.preview["hides"] == 2
    assert set(MessageHide.objects.filter(user=world.bob).values_list("message_id", flat=True)) == {
        world.g[1].pk, world.g[2].pk, world.g[3].pk,
    }
    # Bob's queued delivery of g[2] goes; Carol's of g[1] stays.
    assert list(PendingDelivery.objects.values_list("user__external_id", "message_id")) == [("carol", world.g[1].pk)]
    diff = changed_rows(before, snapshot())
    assert set(diff) == {"MessageHide", "PendingDelivery"}
    assert events() == [("bob", "grp", "messages_hidden")]


def test_it_deletes_a_half_open_range_for_everyone(world, moderator, django_capture_on_commit_callbacks):
    start, end = T0 + 2 * HOUR, T0 + 5 * HOUR  # g[2], g[3], g[4]; g[5] sits exactly on the end
    request = run(PurgeSpec(RangeScope(world.group.pk, start, end), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)

    assert request.result["messages"] == request.preview["messages"] == 3
    left = set(Message.objects.filter(conversation=world.group).values_list("pk", flat=True))
    assert left == {m.pk for m in world.g} - {world.g[2].pk, world.g[3].pk, world.g[4].pk}
    payload = SyncEvent.objects.filter(user=world.alice).get().payload
    assert (payload["scope"], payload["start"], payload["end"]) == ("range", start.isoformat(), end.isoformat())


def test_it_hides_an_open_start_range_by_moving_cleared_before(world, support, django_capture_on_commit_callbacks):
    end = T0 + 3 * HOUR
    request = run(PurgeSpec(RangeScope(world.group.pk, end=end), "hide_for_user", member=world.carol.pk), support, django_capture_on_commit_callbacks)

    membership = Membership.objects.get(conversation=world.group, user=world.carol)
    assert membership.cleared_before == end
    assert MessageHide.objects.filter(user=world.carol).count() == 1  # only the one from the fixture
    assert counts(request, "messages", "pending_deliveries", "members_affected") == {
        "messages": 3, "pending_deliveries": 1, "members_affected": 1,
    }
    assert events() == [("carol", "grp", "history_cleared")]


def test_it_never_moves_cleared_before_back(world, support, django_capture_on_commit_callbacks):
    later = T0 + 7 * HOUR
    Membership.objects.filter(conversation=world.group, user=world.carol).update(cleared_before=later)
    request = run(PurgeSpec(RangeScope(world.group.pk, end=T0 + 3 * HOUR), "hide_for_user", member=world.carol.pk), support, django_capture_on_commit_callbacks)

    assert Membership.objects.get(conversation=world.group, user=world.carol).cleared_before == later
    assert request.preview["messages"] == request.result["messages"] == 0
    assert events() == [("carol", "grp", "history_cleared")]  # her stale pending delivery of g[1] still went


def test_it_hides_a_range_with_a_start_with_hide_rows(world, support, django_capture_on_commit_callbacks):
    request = run(
        PurgeSpec(RangeScope(world.group.pk, start=T0 + 8 * HOUR), "hide_for_user", member=world.alice.pk),
        support,
        django_capture_on_commit_callbacks,
    )
    assert set(MessageHide.objects.filter(user=world.alice).values_list("message_id", flat=True)) == {world.g[8].pk, world.g[9].pk}
    assert Membership.objects.get(conversation=world.group, user=world.alice).cleared_before is None
    assert request.result["hides"] == 2
