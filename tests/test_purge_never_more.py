"""A run never deletes more than its preview counted (DESIGN.md §3 "Never more than approved").

Two ways a run could exceed its preview, each tested for every scope kind:
- a legal hold in force at the preview is released before (or while) the run goes: the messages
  it kept at the preview stay kept for this run;
- a message with an id at or below the high-water mark commits after the preview (sequences hand
  out ids in one order, transactions commit in another): the run takes no more messages than the
  preview counted, and records what it left.
Before the confirmation, such changes make the preview stale: confirming recounts and asks again
(chatdata.purge.staleness, tests/test_purge_staleness_previews.py). So the cap is tested on what changes
between the confirmation and the run: `confirm_then` confirms, lets the change happen, then runs.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse

from chatdata.models import Conversation, Message, MessageHide, PurgeRequest
from chatdata.purge.actions import do_approve_purge, do_execute_purge, do_preview_purge
from chatdata.purge.execute import run_purge
from chatdata.purge.holds import do_add_legal_hold, do_release_legal_hold
from chatdata.purge.preview import affected_per_day
from chatdata.purge.scopes import (
    ConversationScope,
    ConversationsScope,
    MessagesScope,
    PurgeSpec,
    RangeScope,
    UserScope,
)
from tests.builders import HOUR, T0, ChatWorld, make_conversation, make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    """A group of 10 messages (alice sends g[0..5], bob g[6..9], hourly from T0) and a peer chat
    of 4 (bob); a hold on the group from T0+2h to T0+5h keeps g[2], g[3], g[4] (`held`)."""
    world = ChatWorld().add_users("alice", "bob")
    world.add_group("group", ["alice", "bob"], external_id="grp", title="Group")
    world.add_peer("peer", ["alice", "bob"])
    world.add_history("group", "alice", 6, name="g")
    world.g += world.add_history("group", "bob", 4, start=T0 + 6 * HOUR)
    world.add_history("peer", "bob", 4, name="p")
    world.held = world.g[2:5]
    return world


def confirm_then(request, actor, meanwhile, *, approver=None):
    """Confirm `request` (queued: a background run; approved by `approver` where it needs it), let
    `meanwhile()` change the data, then run the job as a worker would."""
    PurgeRequest.objects.filter(pk=request.pk).update(runs_inline=False)
    request = do_execute_purge(request, actor=actor)
    if request.state == "awaiting_approval":
        request = do_approve_purge(request, actor=approver)
    assert request.state == "queued", request.state
    meanwhile()
    run_purge(request.pk, request.attempt)
    request.refresh_from_db()
    return request


def hold_the_group(world, compliance, **window):
    window = window or {"start": T0 + 2 * HOUR, "end": T0 + 5 * HOUR}
    return do_add_legal_hold(actor=compliance, conversation=world.group, reason="case 7", **window)


def left_in_group(world):
    return set(Message.objects.filter(conversation=world.group).values_list("pk", flat=True))


def pks(messages):
    return {m.pk for m in messages}


# Every scope kind that a hold can narrow: (spec, previewed messages, group messages left after).
SCOPES = {
    "messages": (
        lambda w: PurgeSpec(MessagesScope(tuple(m.pk for m in w.g[:6]), w.group.pk), "delete_for_everyone"),
        3, lambda w: pks(w.g[2:5] + w.g[6:]),
    ),
    "range": (
        lambda w: PurgeSpec(RangeScope(w.group.pk, start=T0 + HOUR, end=T0 + 8 * HOUR), "delete_for_everyone"),
        4, lambda w: pks([w.g[0]] + w.g[2:5] + w.g[8:]),
    ),
    "conversation": (
        lambda w: PurgeSpec(ConversationScope(w.group.pk), "delete_for_everyone"),
        7, lambda w: pks(w.g[2:5]),
    ),
    "conversation, deleted": (
        lambda w: PurgeSpec(ConversationScope(w.group.pk), "delete_conversation"),
        7, lambda w: pks(w.g[2:5]),
    ),
    "conversations": (
        lambda w: PurgeSpec(ConversationsScope((w.group.pk, w.peer.pk)), "delete_for_everyone"),
        11, lambda w: pks(w.g[2:5]),
    ),
    "conversations, deleted": (
        lambda w: PurgeSpec(ConversationsScope((w.group.pk, w.peer.pk)), "delete_conversation"),
        11, lambda w: pks(w.g[2:5]),
    ),
}


@pytest.mark.parametrize("kind", SCOPES)
def test_it_keeps_what_a_hold_kept_at_the_preview_when_the_hold_is_released_before_the_run(
    kind, world, moderator, compliance, django_capture_on_commit_callbacks
):
    make_spec, previewed, left = SCOPES[kind]
    hold = hold_the_group(world, compliance)
    request = do_preview_purge(make_spec(world), actor=moderator, reason="spam")
    assert (request.preview["messages"], request.preview["excluded_by_hold"]) == (previewed, 3)
    do_release_legal_hold(hold, actor=compliance, reason="case closed")

    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(request, actor=moderator)

    assert request.state == "done", request.error
    assert request.result["messages"] == previewed
    assert left_in_group(world) == left(world)
    assert Conversation.objects.filter(pk=world.group.pk).exists()
    if kind.startswith("conversations"):
        group_item, peer_item = request.items.order_by("position")
        assert group_item.status == "held" and "legal hold" in group_item.reason
        assert peer_item.status == "ok"


def test_it_keeps_a_conversation_whose_hold_was_released_after_the_preview(world, moderator, compliance, django_capture_on_commit_callbacks):
    """The issue's case: a hold on most of a conversation, preview, release, execute."""
    hold = do_add_legal_hold(actor=compliance, conversation=world.group, end=T0 + 7 * HOUR, reason="case 7")
    request = do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_conversation"), actor=moderator, reason="x")
    assert (request.preview["messages"], request.preview["excluded_by_hold"], request.preview["conversations"]) == (3, 7, 0)
    do_release_legal_hold(hold, actor=compliance, reason="done")
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(request, actor=moderator)
    assert request.state == "done" and request.result["messages"] == 3
    assert Conversation.objects.filter(pk=world.group.pk).exists()
    assert left_in_group(world) == pks(world.g[:7])


def test_it_keeps_held_messages_when_the_hold_is_released_while_the_run_goes(
    world, moderator, compliance, settings, django_capture_on_commit_callbacks
):
    settings.PURGE_INLINE_LIMIT = 0
    settings.PURGE_BATCH_SIZE = 2
    hold = hold_the_group(world, compliance)
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(
            do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), actor=moderator, reason="x"),
            actor=moderator,
        )
        run_purge(request.pk, request.attempt, max_steps=1)
        do_release_legal_hold(hold, actor=compliance, reason="done")
        run_purge(request.pk, request.attempt)
    request.refresh_from_db()
    assert request.state == "done" and request.result["messages"] == 7
    assert left_in_group(world) == pks(world.held)


def test_approval_cannot_widen_a_request_whose_hold_was_released_meanwhile(
    world, moderator, moderator2, compliance, settings, django_capture_on_commit_callbacks
):
    settings.PURGE_APPROVAL_THRESHOLD = 5
    hold = hold_the_group(world, compliance)
    request = do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), actor=moderator, reason="x")
    request = do_execute_purge(request, actor=moderator)
    assert request.state == "awaiting_approval"
    do_release_legal_hold(hold, actor=compliance, reason="done")
    with django_capture_on_commit_callbacks(execute=True):
        request = do_approve_purge(request, actor=moderator2)
    assert request.state == "done" and request.result["messages"] == 7
    assert left_in_group(world) == pks(world.held)


def test_it_still_honours_a_hold_placed_after_the_preview(world, moderator, compliance, django_capture_on_commit_callbacks):
    first = hold_the_group(world, compliance)
    request = do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), actor=moderator, reason="x")
    do_release_legal_hold(first, actor=compliance, reason="done")
    request = confirm_then(request, moderator, lambda: do_add_legal_hold(actor=compliance, user=world.bob, reason="new case"))
    assert request.result["messages"] == 3
    assert left_in_group(world) == pks(world.held + world.g[6:])


def test_it_freezes_every_active_hold_at_the_preview(world, moderator, compliance):
    """Not only the holds that kept something: all of them, as the record of what was in force."""
    kept = hold_the_group(world, compliance)
    elsewhere = do_add_legal_hold(actor=compliance, conversation=world.peer, reason="other case")
    old = do_add_legal_hold(actor=compliance, user=world.bob, reason="old case")
    do_release_legal_hold(old, actor=compliance, reason="done")
    request = do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), actor=moderator, reason="x")
    assert PurgeRequest.objects.get(pk=request.pk).preview_holds == [kept.pk, elsewhere.pk]


def test_the_request_page_pictures_what_the_preview_counted_after_a_release(
    client, world, moderator, compliance
):
    hold = hold_the_group(world, compliance)
    request = do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), actor=moderator, reason="x")
    do_release_legal_hold(hold, actor=compliance, reason="done")
    assert sum(n for _, n in affected_per_day(request)) == 7
    client.force_login(moderator)
    response = client.get(reverse("purge:request", args=[request.pk]))
    assert sum(bar["n"] for bar in response.context["histogram"]["bars"]) == 7


# --- the cap: a message committed after the preview, below the high-water mark -------------------------


def reserve_message_id():
    """An id handed out now and used later: a message whose transaction commits after others."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('chatdata_message', 'id'))")
        return cursor.fetchone()[0]


CAPPED = {
    "range": (lambda w: PurgeSpec(RangeScope(w.group.pk, end=T0 + 100 * HOUR), "delete_for_everyone"), "group"),
    "conversation": (lambda w: PurgeSpec(ConversationScope(w.group.pk), "delete_for_everyone"), "group"),
    "conversation, deleted": (lambda w: PurgeSpec(ConversationScope(w.group.pk), "delete_conversation"), "group"),
    "conversations": (lambda w: PurgeSpec(ConversationsScope((w.peer.pk, w.group.pk)), "delete_for_everyone"), "group"),
    "user": (lambda w: PurgeSpec(UserScope(w.alice.pk), "delete_for_everyone"), "group"),
    "hide rows": (
        lambda w: PurgeSpec(RangeScope(w.group.pk, start=T0, end=T0 + 100 * HOUR), "hide_for_user", member=w.bob.pk),
        "group",
    ),
}


@pytest.mark.parametrize("kind", CAPPED)
@pytest.mark.parametrize("batch", [2, 100])
def test_it_never_takes_more_messages_than_the_preview_counted(
    kind, batch, world, moderator, compliance, admin_user, settings, django_capture_on_commit_callbacks
):
    settings.PURGE_BATCH_SIZE = batch
    make_spec, _ = CAPPED[kind]
    late_id = reserve_message_id()
    make_message(make_conversation("group", [world.bob]), world.bob)  # a higher id commits first: the mark passes it
    actor = compliance if kind == "user" else moderator
    request = do_preview_purge(make_spec(world), actor=actor, reason="x")
    previewed = request.preview["messages"]
    assert request.high_water_mark > late_id

    def commit_late():
        return Message.objects.create(
            id=late_id, external_id="late", conversation=world.group, sender=world.alice,
            sent_at=T0 + 3 * HOUR + timedelta(minutes=1),
        )

    request = confirm_then(request, actor, commit_late, approver=admin_user)
    late = Message.objects.get(pk=late_id) if Message.objects.filter(pk=late_id).exists() else None

    assert request.state == "done", request.error
    assert request.result["messages"] == previewed
    assert request.result["beyond_preview"] == 1
    # Batches go by ascending id: the late message has the highest id in scope, so it is the one left.
    assert late is not None
    if not request.purge_spec.destroys:
        assert not MessageHide.objects.filter(message=late).exists()
        assert MessageHide.objects.filter(user=world.bob).count() == previewed


def test_the_job_page_shows_what_the_cap_left(client, world, moderator, django_capture_on_commit_callbacks):
    late_id = reserve_message_id()
    make_message(world.peer, world.bob)
    request = do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"), actor=moderator, reason="x")
    request = confirm_then(request, moderator, lambda: Message.objects.create(
        id=late_id, external_id="late", conversation=world.group, sender=world.alice, sent_at=T0,
    ))
    client.force_login(moderator)
    page = client.get(reverse("jobs:detail", args=[request.pk])).content.decode()
    assert "1 message matched the scope beyond the 10 the preview counted" in page


@pytest.mark.parametrize("kind", ["messages", "conversation", "conversations"])
def test_the_cap_is_a_backstop_even_for_a_request_without_frozen_holds(
    kind, world, moderator, compliance, settings, django_capture_on_commit_callbacks
):
    """A request previewed before holds were frozen (or any other way the scope could grow): the
    run still stops at the preview's count, in as few batches as without the cap."""
    settings.PURGE_BATCH_SIZE = 100
    make_spec, previewed, _ = SCOPES[kind]
    hold = hold_the_group(world, compliance)
    request = do_preview_purge(make_spec(world), actor=moderator, reason="x")

    def forget_and_release():
        PurgeRequest.objects.filter(pk=request.pk).update(preview_holds=[])
        do_release_legal_hold(hold, actor=compliance, reason="done")

    request = confirm_then(request, moderator, forget_and_release)
    assert request.state == "done", request.error
    assert (request.result["messages"], request.result["beyond_preview"]) == (previewed, 3)
    assert request.batches <= 3
