"""Deleting or hiding messages ticked in a conversation's timeline: preview, typed confirmation,
a selection in one value, the limits (ids, support's cap), the member to hide them for; bad input
shows an error next to its field and changes nothing. Chat and helpers: tests/purge_views_chat.py."""

import pytest
from django.urls import reverse

from chatdata.models import Message, MessageHide, PurgeRequest
from tests.builders import snapshot_chat
from tests.purge_views_chat import chat  # noqa: F401 (a fixture)
from tests.purge_views_chat import field_errors, logged_in, nothing_changed, post_scope, preview_from, select

pytestmark = pytest.mark.django_db


def test_it_previews_selected_messages_and_deletes_them_after_a_typed_confirmation(client, chat, moderator):
    logged_in(client, moderator)
    chosen = [m.pk for m in chat.history[:3]]
    purge = preview_from(post_scope(client, chat, select(chat, chosen)))
    assert purge.state == "previewed" and purge.spec["scope"]["ids"] == chosen and purge.reason == "spam"
    assert purge.preview["messages"] == 3 and purge.preview["reactions"] == 1 and purge.preview["attachments"] == 1

    page = client.get(reverse("purge:request", args=[purge.pk])).content.decode()
    assert 'data-count="messages">3<' in page and "Irreversible" in page and "Runs now" in page
    assert "Type “Team” or the number of messages, 3, to confirm." in page

    before = snapshot_chat()
    for typed, error in [("", "Type the confirmation to go ahead."), ("Teem", "“Teem” does not match."), ("4", "“4” does not match.")]:
        response = client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": typed})
        assert response.status_code == 200 and error in field_errors(response, "wide")
        nothing_changed(before)
        purge.refresh_from_db()
        assert purge.state == "previewed"

    response = client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "team"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("jobs:detail", args=[purge.pk])
    assert "Done: 3 of 3 messages handled." in response.content.decode()
    purge.refresh_from_db()
    assert purge.state == "done" and purge.executed_by == moderator
    assert not Message.objects.filter(pk__in=chosen).exists()
    assert Message.objects.filter(conversation=chat.team).count() == 9


def test_it_accepts_the_number_of_messages_with_separators(client, chat, moderator, settings):
    settings.PURGE_INLINE_LIMIT = 5000
    logged_in(client, moderator)
    purge = preview_from(post_scope(client, chat, select(chat, [m.pk for m in chat.history[:2]])))
    response = client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": " 2 "})
    assert response.status_code == 302
    assert Message.objects.filter(conversation=chat.team).count() == 10


def test_it_refuses_an_empty_selection_and_changes_nothing(client, chat, moderator):
    before = snapshot_chat()
    response = post_scope(logged_in(client, moderator), chat, select(chat, []))
    assert response.status_code == 200
    assert "Choose at least one message." in response.content.decode()
    nothing_changed(before)
    assert not PurgeRequest.objects.exists()


def test_it_takes_a_selection_joined_in_one_value_as_chatsweep_js_sends_it(client, chat, moderator, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10  # the selection is one field, whatever its size
    ids = [m.pk for m in chat.history]
    purge = preview_from(post_scope(logged_in(client, moderator), chat, select(chat, [",".join(map(str, ids))])))
    assert sorted(purge.spec["scope"]["ids"]) == sorted(ids)


def test_a_selection_above_the_limit_is_refused_and_nothing_is_lost(client, chat, moderator, settings):
    settings.PURGE_MAX_IDS = 5
    before = snapshot_chat()
    ids = [m.pk for m in chat.history[:7]]
    response = post_scope(logged_in(client, moderator), chat, select(chat, [",".join(map(str, ids))], reason="Raid of 7"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "At most 5 ids can be given in one request; got 7." in html
    assert all(f'value="{pk}" form="purge-selection" ' in html and "checked" in html for pk in ids)  # shown again, ticked
    assert "Raid of 7" in html
    nothing_changed(before)
    assert not PurgeRequest.objects.exists()


def test_it_refuses_messages_of_another_conversation_next_to_the_selection(client, chat, moderator):
    before = snapshot_chat()
    response = post_scope(logged_in(client, moderator), chat, select(chat, [chat.history[0].pk, chat.others[0].pk]))
    assert response.status_code == 200
    assert "1 of the messages are not in conversation g-team" in response.content.decode()
    nothing_changed(before)
    assert not PurgeRequest.objects.exists()


def test_it_requires_a_reason(client, chat, moderator):
    response = post_scope(logged_in(client, moderator), chat, select(chat, [chat.history[0].pk], reason="  "))
    assert "This field is required." in field_errors(response, "reason")
    assert not PurgeRequest.objects.exists()


def test_it_lets_support_delete_a_few_messages_but_shows_their_cap_next_to_the_form(client, chat, support, settings):
    settings.PURGE_SUPPORT_MAX_MESSAGES = 2
    logged_in(client, support)
    before = snapshot_chat()
    response = post_scope(client, chat, select(chat, [m.pk for m in chat.history[:3]]))
    assert response.status_code == 200
    assert "Support may delete at most 2 selected messages for everyone; ask a moderator." in response.content.decode()
    nothing_changed(before)
    assert not PurgeRequest.objects.exists()
    purge = preview_from(post_scope(client, chat, select(chat, [m.pk for m in chat.history[:2]])))
    client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "2"})
    assert Message.objects.filter(conversation=chat.team).count() == 10


def test_it_hides_selected_messages_for_one_member_only(client, chat, support):
    logged_in(client, support)
    chosen = [m.pk for m in chat.history[4:6]]
    response = post_scope(client, chat, select(chat, chosen, effect="hide_for_user"))
    assert "Choose the member who will no longer see the messages." in field_errors(response, "member")
    response = post_scope(client, chat, select(chat, chosen, effect="hide_for_user", member="nobody"))
    assert "is not a member of this conversation" in field_errors(response, "member")
    purge = preview_from(post_scope(client, chat, select(chat, chosen, effect="hide_for_user", member="bob")))
    assert purge.spec["member"] == chat.bob.pk
    page = client.get(reverse("purge:request", args=[purge.pk])).content.decode()
    assert "One-way" in page and 'name="confirmation"' not in page
    assert client.post(reverse("purge:execute", args=[purge.pk])).status_code == 302
    assert set(MessageHide.objects.values_list("message_id", "user_id")) == {(pk, chat.bob.pk) for pk in chosen}
    assert Message.objects.filter(conversation=chat.team).count() == 12
