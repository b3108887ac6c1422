"""Selections kept on the server while they are made (issue 14, item 8): ticks survive Back,
"Older messages" and the preview's "Change selection", per staff member and conversation, until
the request made from them runs or the person clears them."""

import pytest
from django.urls import reverse

from chatdata.models import AuditEntry, PurgeRequest, Selection
from chatdata.purge import selection as selections
from tests.builders import make_conversation, make_history, make_user, snapshot_chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(db):
    class Chat:
        alice, bob = make_user("alice"), make_user("bob")
        team = make_conversation("group", [alice, bob], external_id="g-team", title="Team")
        other = make_conversation("group", [alice, bob], external_id="g-other", title="Other")
        history = make_history(team, alice, 5)
        others = make_history(other, bob, 3)

    return Chat


def ids_of(messages):
    return [m.pk for m in messages]


def post_selection(client, chat, **data):
    return client.post(reverse("purge:selection", args=[chat.team.pk]), data)


# --- the domain -----------------------------------------------------------------------------------


def test_it_keeps_ticks_per_staff_member_and_conversation(chat, moderator, moderator2):
    a, b, c = ids_of(chat.history[:3])
    assert selections.change_selection(moderator, "messages", chat.team.pk, add=[a, b]) == [a, b]
    assert selections.change_selection(moderator, "messages", chat.team.pk, add=[c], remove=[a]) == [b, c]
    assert selections.selected_ids(moderator, "messages", chat.team.pk) == [b, c]
    assert selections.selected_ids(moderator2, "messages", chat.team.pk) == []
    assert selections.selected_ids(moderator, "messages", chat.other.pk) == []


def test_it_drops_ids_of_other_conversations_and_gone_messages(chat, moderator):
    foreign = chat.others[0].pk
    assert selections.change_selection(moderator, "messages", chat.team.pk, add=[foreign, 10**12]) == []
    assert not Selection.objects.exists()  # an empty selection is no row


def test_it_refuses_more_than_one_request_takes_and_changes_nothing(chat, moderator, settings):
    settings.PURGE_MAX_IDS = 3
    first = ids_of(chat.history[:2])
    selections.change_selection(moderator, "messages", chat.team.pk, add=first)
    with pytest.raises(selections.SelectionRefused) as refused:
        selections.change_selection(moderator, "messages", chat.team.pk, add=ids_of(chat.history[2:]))
    assert refused.value.message == (
        "One request takes at most 3 messages; this would select 5. Untick 2, or choose a time range instead."
    )
    assert selections.selected_ids(moderator, "messages", chat.team.pk) == first


def test_clearing_forgets_everything(chat, moderator):
    selections.change_selection(moderator, "messages", chat.team.pk, add=ids_of(chat.history))
    assert selections.change_selection(moderator, "messages", chat.team.pk, clear=True) == []
    assert not Selection.objects.exists()


# --- the web --------------------------------------------------------------------------------------


def test_it_answers_the_count_and_the_page_ticks_the_boxes_again(client, chat, moderator):
    client.force_login(moderator)
    a, b = ids_of(chat.history[:2])
    response = post_selection(client, chat, add=f"{a},{b}")
    assert response.status_code == 200 and response.json() == {"count": 2}

    page = client.get(reverse("browse:conversation", args=[chat.team.pk])).content.decode()
    assert f'value="{a}" form="purge-selection"' in page
    ticked = [pk for pk in ids_of(chat.history) if f'value="{pk}" form="purge-selection" aria-label' in page
              and page.split(f'value="{pk}" form="purge-selection"')[1].split(">")[0].endswith(" checked")]
    assert sorted(ticked) == sorted([a, b])
    assert f'data-selected="{a},{b}"' in page


def test_hostile_ids_are_refused_with_a_message_and_change_nothing(client, chat, moderator):
    client.force_login(moderator)
    post_selection(client, chat, add=str(chat.history[0].pk))
    for bad in ["²", "1;DROP", "-1", "9" * 40]:
        response = post_selection(client, chat, add=bad)
        assert response.status_code == 400 and response.json()["count"] == 1
        assert response.json()["error"].startswith("message ids: ")
    assert selections.selected_ids(moderator, "messages", chat.team.pk) == [chat.history[0].pk]


def test_who_may_not_select_is_refused_and_recorded(client, chat, auditor):
    client.force_login(auditor)
    entries = AuditEntry.objects.count()
    assert post_selection(client, chat, add=str(chat.history[0].pk)).status_code == 403
    assert client.post(reverse("purge:batch_selection"), {"add": str(chat.team.pk)}).status_code == 403
    assert not Selection.objects.exists()
    refused = list(AuditEntry.objects.order_by("id").values_list("action", flat=True)[entries:])
    assert refused == ["request.refused", "request.refused"]


def test_the_preview_keeps_what_it_holds_offers_change_selection_and_running_it_uses_it_up(client, chat, moderator):
    client.force_login(moderator)
    a, b, c = ids_of(chat.history[:3])
    post_selection(client, chat, add=f"{a},{b},{c}")
    # The form sends only two (a browser without JavaScript sends what it shows): the preview is the truth.
    response = client.post(reverse("purge:conversation", args=[chat.team.pk]),
                           {"action": "messages", "ids": f"{a},{b}", "effect": "delete_for_everyone", "reason": "spam"})
    purge = PurgeRequest.objects.get()
    assert response.status_code == 302
    assert selections.selected_ids(moderator, "messages", chat.team.pk) == [a, b]

    preview = client.get(reverse("purge:request", args=[purge.pk])).content.decode()
    back = reverse("browse:conversation", args=[chat.team.pk]) + "#selection-heading"
    assert f'<a class="button" href="{back}">Change selection</a>' in preview

    client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "2"})
    purge.refresh_from_db()
    assert purge.state == PurgeRequest.State.DONE
    assert selections.selected_ids(moderator, "messages", chat.team.pk) == []
    assert "Change selection" not in client.get(reverse("purge:request", args=[purge.pk])).content.decode()


def test_someone_else_sees_no_change_selection(client, chat, moderator, moderator2):
    client.force_login(moderator)
    client.post(reverse("purge:conversation", args=[chat.team.pk]),
                {"action": "messages", "ids": str(chat.history[0].pk), "effect": "delete_for_everyone", "reason": "spam"})
    client.force_login(moderator2)
    page = client.get(reverse("purge:request", args=[PurgeRequest.objects.get().pk])).content.decode()
    assert "Change selection" not in page


def test_the_conversation_list_keeps_ticks_across_its_pages(client, chat, moderator):
    client.force_login(moderator)
    response = client.post(reverse("purge:batch_selection"), {"add": f"{chat.team.pk},{chat.other.pk}"})
    assert response.json() == {"count": 2}
    page = client.get(reverse("browse:conversations")).content.decode()
    assert page.count('form="purge-batch" aria-label') == 2 and page.count('"purge-batch" aria-label="Select Team" checked') == 1
    assert client.post(reverse("purge:batch_selection"), {"clear": "1"}).json() == {"count": 0}


def test_selecting_writes_nothing_to_the_audit_log_or_the_chat_data(client, chat, moderator):
    """A selection is a draft (chatdata.models.selection): the request made from it is audited."""
    client.force_login(moderator)
    before, entries = snapshot_chat(), AuditEntry.objects.count()
    post_selection(client, chat, add=",".join(map(str, ids_of(chat.history))))
    post_selection(client, chat, clear="1")
    assert snapshot_chat() == before and AuditEntry.objects.count() == entries
