"""Issue 14, "Add" (tests/purge_select.py): the `delete_attachments` effect, only the files go and
the messages stay."""

import pytest
from django.core.files.storage import default_storage

from chatdata.models import Attachment, FileOutbox, Message, PurgeRequest, SyncEvent
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.execute import run_purge
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.refusals import PurgeRefused
from chatdata.purge.scopes import ConversationsScope, ConversationScope, MatchingScope, PurgeInvalid, PurgeSpec, RangeScope
from tests.builders import T0, add_attachment, snapshot_chat
from tests.purge_select import HOUR, run, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.django_db


def test_only_attachments_go_the_messages_stay(world, moderator, django_capture_on_commit_callbacks):
    before = snapshot_chat()
    spec = PurgeSpec(ConversationScope(world.group.pk), "delete_attachments")
    request = run(spec, moderator, django_capture_on_commit_callbacks)
    assert request.state == "done", request.error
    counted = {k: request.preview[k] for k in ("messages", "attachments", "reactions", "conversations", "members_affected")}
    assert counted == {"messages": 2, "attachments": 2, "reactions": 0, "conversations": 1, "members_affected": 3}
    assert {k: request.result[k] for k in counted} == counted
    after = snapshot_chat()
    assert after["Message"] == before["Message"]  # every message stays, untouched
    gone = {world.files["spam"].pk, world.files["alice"].pk}
    assert {r[0] for r in before["Attachment"] - after["Attachment"]} == gone
    assert {name: after[name] == before[name] for name in after if name not in ("Attachment",)} == dict.fromkeys(
        (n for n in after if n != "Attachment"), True)
    assert not default_storage.exists(world.files["spam"].file.name)
    assert default_storage.exists(world.files["photo"].file.name)
    assert not FileOutbox.objects.exists()
    events = SyncEvent.objects.all()
    assert {e.kind for e in events} == {"attachments_deleted"} and events.count() == 3
    assert events[0].payload["effect"] == "delete_attachments"


def test_only_attachments_of_a_narrowed_range_count_exactly(world, moderator, django_capture_on_commit_callbacks):
    scope = RangeScope(world.other.pk, start=T0, end=T0 + 24 * HOUR, senders=[world.alice.pk])
    request = run(PurgeSpec(scope, "delete_attachments"), moderator, django_capture_on_commit_callbacks)
    assert (request.preview["messages"], request.preview["attachments"]) == (1, 2)  # one message, two files
    assert (request.result["messages"], request.result["attachments"]) == (1, 2)
    assert Message.objects.filter(pk=world.talk[2].pk).exists()
    assert set(Attachment.objects.values_list("pk", flat=True)) == {
        world.files["spam"].pk, world.files["alice"].pk, world.files["quiet"].pk}


def test_only_attachments_honours_legal_holds(world, moderator, compliance, django_capture_on_commit_callbacks):
    do_add_legal_hold(actor=compliance, user=world.alice, reason="case 15")
    request = run(PurgeSpec(ConversationsScope([world.group.pk, world.other.pk]), "delete_attachments"), moderator,
                  django_capture_on_commit_callbacks)
    assert request.preview["attachments"] == request.result["attachments"] == 1  # Sam's file only
    assert request.preview["excluded_by_hold"] == 2
    statuses = {i.conversation_external_id: i.status for i in request.items.all()}
    assert statuses == {"g-one": "held", "g-two": "held"}
    assert Attachment.objects.filter(message__sender=world.alice).count() == 3


def test_only_attachments_of_what_a_search_found(world, moderator, django_capture_on_commit_callbacks):
    request = run(PurgeSpec(MatchingScope(text="watches"), "delete_attachments"), moderator, django_capture_on_commit_callbacks)
    assert (request.result["messages"], request.result["attachments"]) == (2, 2)
    assert Message.objects.count() == len(world.spam) + len(world.talk)
    assert {e.payload["message_ids"][0] for e in SyncEvent.objects.filter(conversation_pk=world.group.pk)} <= {
        world.spam[0].external_id, world.talk[0].external_id}


def test_only_attachments_where_there_are_none_makes_no_request(world, moderator):
    with pytest.raises(PurgeInvalid, match="Nothing matches"):
        do_preview_purge(PurgeSpec(RangeScope(world.group.pk, start=T0 + 5 * HOUR, end=T0 + 6 * HOUR), "delete_attachments"),
                         actor=moderator, reason="storage")
    assert not PurgeRequest.objects.exists()


def test_an_attachment_added_before_the_confirmation_is_asked_again(world, moderator):
    """A message gaining an attachment makes the preview stale: confirming recounts and asks again."""
    spec = PurgeSpec(RangeScope(world.group.pk, end=T0 + 3 * HOUR), "delete_attachments")
    request = do_preview_purge(spec, actor=moderator, reason="storage")
    add_attachment(world.spam[1], "new.png")
    with pytest.raises(PurgeRefused, match="messages 1 → 2"):
        do_execute_purge(request, actor=moderator)
    request.refresh_from_db()
    assert (request.state, request.preview["messages"], request.preview["attachments"]) == ("previewed", 2, 2)
    assert Attachment.objects.filter(message__in=world.spam[:2]).count() == 2


def test_an_attachment_added_after_the_confirmation_is_drift_not_silence(world, moderator):
    """The run takes the messages its preview counted; their attachments, counted again as they go."""
    spec = PurgeSpec(RangeScope(world.group.pk, end=T0 + 3 * HOUR), "delete_attachments")
    request = do_preview_purge(spec, actor=moderator, reason="storage")
    PurgeRequest.objects.filter(pk=request.pk).update(runs_inline=False)
    request = do_execute_purge(request, actor=moderator)
    assert request.state == "queued", request.state
    add_attachment(world.spam[0], "second.png")
    add_attachment(world.spam[1], "new.png")  # a message the preview did not count
    run_purge(request.pk, request.attempt)
    request.refresh_from_db()
    assert request.preview["messages"] == request.result["messages"] == 1
    assert (request.preview["attachments"], request.result["attachments"]) == (1, 2)
    assert Attachment.objects.filter(message=world.spam[1]).count() == 1
