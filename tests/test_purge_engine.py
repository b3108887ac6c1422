"""Every scope × effect on PostgreSQL: exact previews, executed counts, side effects, nothing else."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage

from chatdata.models import (
    Conversation,
    FileOutbox,
    Membership,
    Message,
    MessageHide,
    PendingDelivery,
    PurgeItem,
    PurgeRequest,
    SyncEvent,
)
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.preview import affected_per_day
from chatdata.purge.scopes import (
    ConversationScope,
    ConversationsScope,
    MessagesScope,
    PurgeSpec,
    RangeScope,
    UserScope,
)
from tests.builders import HOUR, T0, ChatWorld, add_hide, add_reaction, make_message, snapshot_chat

pytestmark = pytest.mark.django_db
snapshot = snapshot_chat


def changed_rows(before, after):
    return {name: (before[name] - after[name], after[name] - before[name]) for name in before if before[name] != after[name]}


@pytest.fixture
def world(db):
    """Alice, Bob and Carol in a group, a peer chat and a room; Dan elsewhere as a control."""
    world = ChatWorld().add_users("alice", "bob", "carol", "dan")
    world.add_group("group", ["alice", "bob", "carol"], external_id="grp")
    world.add_peer("peer", ["alice", "bob"])
    world.add_room("room", ["alice", "bob", "carol"])
    world.add_group("other", ["carol", "dan"])
    world.add_history("group", "alice", 6, name="g")  # T0 .. T0+5h
    world.g += world.add_history("group", "bob", 4, start=T0 + 6 * HOUR)  # +6h..+9h
    world.add_history("peer", "bob", 4, name="p")
    world.add_history("room", "carol", 3, name="r")
    world.add_history("other", "dan", 3, name="o")
    world.add_reaction(world.g[1], "bob")
    world.add_reaction(world.g[1], "carol", "🎉")
    world.add_hide(world.g[1], "carol")
    world.add_pending(world.g[1], "carol")
    world.add_pending(world.g[2], "bob")
    world.file = world.add_attachment(world.g[2]).file.name
    world.kept_file = world.add_attachment(world.o[0]).file.name
    return world


def run(spec, actor, capture, **kwargs):
    with capture(execute=True):
        request = do_preview_purge(spec, actor=actor, reason="test", **kwargs)
        request = do_execute_purge(request, actor=actor)
    return request


def events(kind=None):
    qs = SyncEvent.objects.order_by("conversation_pk", "user_id")
    if kind:
        qs = qs.filter(kind=kind)
    return [(e.user.external_id, e.conversation_external_id, e.kind) for e in qs]


def counts(request, *keys):
    return {key: request.result[key] for key in keys}



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


def test_it_keeps_last_message_at_right_after_deleting_the_latest(world, moderator, django_capture_on_commit_callbacks):
    run(PurgeSpec(RangeScope(world.group.pk, start=T0 + 8 * HOUR), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)
    world.group.refresh_from_db()
    assert world.group.last_message_at == world.g[7].sent_at


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


def test_it_erases_what_one_user_sent_after_approval(world, compliance, django_capture_on_commit_callbacks):
    from chatdata.purge.actions import do_approve_purge
    from tests.conftest import make_staff

    spec = PurgeSpec(UserScope(world.bob.pk), "delete_for_everyone")
    with django_capture_on_commit_callbacks(execute=True):
        request = do_preview_purge(spec, actor=compliance, reason="GDPR art. 17", ticket="DSR-1")
        request = do_execute_purge(request, actor=compliance)
        assert request.state == "awaiting_approval"
        request = do_approve_purge(request, actor=make_staff("cora", "compliance"))

    assert request.state == "done", request.error
    assert request.result["messages"] == 4 + 4  # four in the group, four in the peer chat
    assert not Message.objects.filter(sender=world.bob).exists()
    assert Message.objects.filter(sender=world.alice).count() == 6
    assert {e[1] for e in events()} == {"grp", "peer"}
    assert SyncEvent.objects.first().payload["sender"] == "bob"


def test_it_narrows_a_user_scope_by_time_and_conversation(world, compliance, admin_user, django_capture_on_commit_callbacks):
    from chatdata.purge.actions import do_approve_purge

    spec = PurgeSpec(UserScope(world.bob.pk, start=T0 + HOUR, conversations=[world.peer.pk]), "delete_for_everyone")
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(spec, actor=compliance, reason="x"), actor=compliance)
        request = do_approve_purge(request, actor=admin_user)
    assert request.result["messages"] == 3
    assert list(Message.objects.filter(sender=world.bob, conversation=world.peer).values_list("pk", flat=True)) == [world.p[0].pk]


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
