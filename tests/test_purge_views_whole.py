"""Whole conversations: clearing or removing one for one member, deleting it for everyone (typing
its external id when it has no title), and several conversations from the list with a result for
each. Chat and helpers: tests/purge_views_chat.py."""

from datetime import timedelta

import pytest
from django.urls import reverse

from chatdata.models import LegalHold, Membership, Message, PurgeItem
from tests.builders import snapshot_chat
from tests.purge_views_chat import chat  # noqa: F401 (a fixture)
from tests.purge_views_chat import field_errors, logged_in, nothing_changed, post_scope, preview_from

pytestmark = pytest.mark.django_db


def whole(what, **values):
    return {"action": "conversation", "what": what, "reason": "member asked", **values}


def test_it_clears_the_history_for_one_member_and_leaves_the_others(client, chat, moderator):
    logged_in(client, moderator)
    purge = preview_from(post_scope(client, chat, whole("clear_member", member=str(chat.carol.pk))))
    assert purge.preview["messages"] == 12 and purge.preview["mode"] == "clear"
    assert client.post(reverse("purge:execute", args=[purge.pk])).status_code == 302
    carol = Membership.objects.get(conversation=chat.team, user=chat.carol)
    assert carol.cleared_before == chat.history[-1].sent_at + timedelta(microseconds=1)
    assert list(Membership.objects.filter(conversation=chat.team).exclude(user=chat.carol).values_list("cleared_before", flat=True)) == [None, None]
    assert Message.objects.filter(conversation=chat.team).count() == 12


def test_it_removes_the_conversation_for_one_member_with_their_history(client, chat, moderator):
    logged_in(client, moderator)
    response = post_scope(client, chat, whole("clear_all", member="bob", clear_history="on"))
    assert "goes with removing the conversation for one member" in field_errors(response, "clear")
    purge = preview_from(post_scope(client, chat, whole("remove_member", member="bob", clear_history="on")))
    client.post(reverse("purge:execute", args=[purge.pk]))
    bob = Membership.objects.get(conversation=chat.team, user=chat.bob)
    assert bob.hidden and bob.cleared_before is not None
    assert not Membership.objects.filter(conversation=chat.team, hidden=True).exclude(user=chat.bob).exists()


def test_it_refuses_one_member_effects_on_a_room(client, chat, moderator):
    before = snapshot_chat()
    response = logged_in(client, moderator).post(
        reverse("purge:conversation", args=[chat.lobby.pk]), whole("clear_member", member="alice")
    )
    assert response.status_code == 200 and "r-lobby is a room" in response.content.decode()
    nothing_changed(before)


def test_it_deletes_a_conversation_for_everyone_after_typing_its_external_id_when_untitled(client, chat, moderator):
    logged_in(client, moderator)
    purge = preview_from(client.post(reverse("purge:conversation", args=[chat.untitled.pk]), whole("delete_all")))
    page = client.get(reverse("purge:request", args=[purge.pk])).content.decode()
    assert "Type “g-untitled” or the number of messages, 4, to confirm." in page
    client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "g-untitled"})
    assert not Message.objects.filter(conversation_id=chat.untitled.pk).exists()
    assert not type(chat.untitled).objects.filter(pk=chat.untitled.pk).exists()
    assert Message.objects.filter(conversation=chat.team).count() == 12


# --- several conversations ------------------------------------------------------------------------


def test_it_deletes_several_conversations_with_a_result_for_each(client, chat, moderator):
    LegalHold.objects.create(kind="conversation", conversation=chat.lobby, subject_external_id="r-lobby", reason="case 7", created_by=moderator)
    logged_in(client, moderator)
    listing = client.get(reverse("browse:conversations")).content.decode()
    assert 'form="purge-batch"' in listing and 'name="conversations"' in listing
    before = snapshot_chat()
    response = client.post(reverse("purge:conversations"), {"what": "delete_all", "reason": "x"})
    assert "Choose at least one conversation." in response.content.decode()
    nothing_changed(before)

    data = {"conversations": [chat.untitled.pk, chat.lobby.pk], "what": "delete_all", "reason": "cleanup"}
    purge = preview_from(client.post(reverse("purge:conversations"), data))
    page = client.get(reverse("purge:request", args=[purge.pk])).content.decode()
    assert "Type the number of messages, 4, to confirm." in page and "kept under legal hold" in page
    client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "4"})
    statuses = dict(PurgeItem.objects.filter(request=purge).values_list("conversation_external_id", "status"))
    assert statuses == {"g-untitled": "ok", "r-lobby": "held"}
    assert Message.objects.filter(conversation=chat.lobby).count() == 3
    job = client.get(reverse("jobs:detail", args=[purge.pk])).content.decode()
    assert 'data-item="g-untitled" data-status="ok"' in job and 'data-item="r-lobby" data-status="held"' in job


def test_it_refuses_batch_deletion_to_support(client, chat, support):
    response = logged_in(client, support).post(reverse("purge:conversations"), {"conversations": [chat.untitled.pk], "what": "delete_all", "reason": "x"})
    assert response.status_code == 403
    assert Message.objects.filter(conversation=chat.untitled).count() == 4
