"""The deletion workflow's views: choose a scope, preview, confirm, follow the job, cancel, resume.

Every view and action for a role that may use it, a role that may not (403) and the anonymous
(login redirect); bad input shows an error next to its field and changes nothing (every chat
table compared before and after)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from chatdata.models import LegalHold, Membership, Message, MessageHide, PurgeItem, PurgeRequest
from chatdata.purge.actions import do_preview_purge
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import add_attachment, add_reaction, make_conversation, make_history, make_user, snapshot_chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(db):
    class Chat:
        alice, bob, carol = make_user("alice", "Alice"), make_user("bob", "Bob"), make_user("carol", "Carol")
        team = make_conversation("group", [alice, bob, carol], external_id="g-team", title="Team")
        untitled = make_conversation("group", [alice, bob], external_id="g-untitled", title="")
        lobby = make_conversation("room", [alice, bob], external_id="r-lobby", title="Lobby")
        history = make_history(team, alice, 12)  # hourly from T0
        others = make_history(untitled, bob, 4)
        lobby_history = make_history(lobby, carol, 3)

    add_reaction(Chat.history[0], Chat.bob)
    add_attachment(Chat.history[1])
    return Chat


def logged_in(client, user):
    client.force_login(user)
    return client


def nothing_changed(before):
    assert snapshot_chat() == before


def field_errors(response, name):
    """The error messages rendered inside the field groups `field--<name>` (of every form on the page)."""
    html = response.content.decode()
    groups = re.findall(rf'<div class="field field--{name}">(.*?)(?=<div class="field field--|</form>)', html, re.S)
    assert groups, f"no field group for {name}"
    return " ".join(re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', " ".join(groups), re.S))


def select(chat, ids, effect="delete_for_everyone", reason="spam", **extra):
    return {"action": "messages", "ids": [str(i) for i in ids], "effect": effect, "reason": reason, "ticket": "T-1", **extra}


def post_scope(client, chat, data):
    return client.post(reverse("purge:conversation", args=[chat.team.pk]), data)


def preview_from(response):
    assert response.status_code == 302, response.content.decode()[:2000]
    pk = int(response.url.rstrip("/").rsplit("/", 1)[1])
    assert response.url == reverse("purge:request", args=[pk])
    return PurgeRequest.objects.get(pk=pk)


# --- access ---------------------------------------------------------------------------------------


def urls_of(chat, purge):
    return [
        ("get", reverse("purge:conversation", args=[chat.team.pk])),
        ("post", reverse("purge:conversation", args=[chat.team.pk])),
        ("get", reverse("purge:range_preview", args=[chat.team.pk])),
        ("get", reverse("purge:conversations")),
        ("post", reverse("purge:conversations")),
        ("get", reverse("purge:user", args=[chat.alice.pk])),
        ("post", reverse("purge:user", args=[chat.alice.pk])),
        ("get", reverse("purge:request", args=[purge.pk])),
        ("post", reverse("purge:execute", args=[purge.pk])),
        ("get", reverse("jobs:list")),
        ("get", reverse("jobs:detail", args=[purge.pk])),
        ("post", reverse("jobs:cancel", args=[purge.pk])),
        ("post", reverse("jobs:resume", args=[purge.pk])),
    ]


def a_preview(chat, actor):
    return do_preview_purge(PurgeSpec(ConversationScope(chat.team.pk), "delete_for_everyone"), actor=actor, reason="r")


def test_it_sends_the_anonymous_to_the_login_page(client, chat, moderator):
    purge = a_preview(chat, moderator)
    before = snapshot_chat()
    for method, url in urls_of(chat, purge):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response.url.startswith("/login/?next="), (method, url)
    nothing_changed(before)
    assert PurgeRequest.objects.get().state == "previewed"


def test_it_refuses_an_account_without_a_role_everything(client, chat, moderator, outsider):
    purge = a_preview(chat, moderator)
    logged_in(client, outsider)
    for method, url in urls_of(chat, purge):
        assert getattr(client, method)(url).status_code == 403, (method, url)
    assert PurgeRequest.objects.get().state == "previewed"


@pytest.mark.parametrize(
    "persona, url_name, allowed",
    [
        ("auditor", "conversation", False),
        ("compliance", "conversation", False),
        ("support", "conversation", True),
        ("moderator", "conversation", True),
        ("admin_user", "conversation", True),
        ("support", "conversations", False),
        ("compliance", "conversations", False),
        ("moderator", "conversations", True),
        ("moderator", "user", False),
        ("support", "user", False),
        ("auditor", "user", False),
        ("compliance", "user", True),
        ("admin_user", "user", True),
    ],
)
def test_it_opens_the_scope_pages_only_to_roles_that_may_request_them(client, chat, request, persona, url_name, allowed):
    logged_in(client, request.getfixturevalue(persona))
    args = {"conversation": [chat.team.pk], "conversations": [], "user": [chat.alice.pk]}[url_name]
    response = client.get(reverse(f"purge:{url_name}", args=args))
    assert response.status_code == (200 if allowed else 403)


def test_it_offers_each_role_only_what_it_may_do_on_the_conversation_page(client, chat, moderator, support, auditor):
    page = reverse("browse:conversation", args=[chat.team.pk])
    html = logged_in(client, moderator).get(page).content.decode()
    assert html.count('name="ids"') == 12 and 'value="delete_all"' in html and 'id="purge-range"' in html
    html = logged_in(client, support).get(page).content.decode()
    assert html.count('name="ids"') == 12
    assert 'value="hide_for_user"' in html and 'value="delete_all"' not in html and 'value="clear_member"' in html
    assert "deletes at most 20 selected messages" in html
    html = logged_in(client, auditor).get(page).content.decode()
    assert 'name="ids"' not in html and "purge-range" not in html and "Delete or hide" not in html


def test_it_answers_403_when_a_role_posts_an_action_it_never_has(client, chat, support):
    before = snapshot_chat()
    logged_in(client, support)
    response = post_scope(client, chat, {"action": "conversation", "what": "delete_all", "reason": "x"})
    assert response.status_code == 403
    assert b"Support may hide messages" in response.content
    nothing_changed(before)
    assert not PurgeRequest.objects.exists()


def test_it_answers_400_to_an_unknown_action(client, chat, moderator):
    assert post_scope(logged_in(client, moderator), chat, {"action": "nuke"}).status_code == 400


def test_it_accepts_state_changes_only_as_posts(client, chat, moderator):
    purge = a_preview(chat, moderator)
    logged_in(client, moderator)
    # (A GET of jobs:cancel is its confirmation page: tests/test_purge_staleness.py.)
    for name in ("purge:execute", "purge:preview_again", "jobs:resume", "jobs:close"):
        assert client.get(reverse(name, args=[purge.pk])).status_code == 405
    assert PurgeRequest.objects.get(pk=purge.pk).state == "previewed"
    assert client.post(reverse("jobs:detail", args=[purge.pk])).status_code == 405


# --- selected messages ----------------------------------------------------------------------------


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


# --- time ranges ----------------------------------------------------------------------------------


def range_data(**values):
    return {"action": "range", "bounds": "between", "effect": "delete_for_everyone", "reason": "old", **values}


def test_it_reads_range_bounds_as_local_times_in_the_time_zone(client, chat, moderator, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # UTC+1 in January
    logged_in(client, moderator)
    # T0 is 12:00 UTC = 13:00 in Berlin; history is hourly.
    purge = preview_from(post_scope(client, chat, range_data(start="2026-01-01T14:00", end="2026-01-01T17:00")))
    assert purge.spec["scope"]["start"] == "2026-01-01T13:00:00+00:00"
    assert purge.spec["scope"]["end"] == "2026-01-01T16:00:00+00:00"
    assert purge.preview["messages"] == 3
    page = client.get(reverse("purge:conversation", args=[chat.team.pk])).content.decode()
    assert "From (Europe/Berlin)" in page and "Before (Europe/Berlin)" in page


@pytest.mark.parametrize(
    "values, field, error",
    [
        ({"start": "2026-01-01T18:00", "end": "2026-01-01T14:00"}, "end", "The end must be after the start."),
        ({"start": "2026-01-01T14:00", "end": "2026-01-01T14:00"}, "end", "The end must be after the start."),
        ({"start": "yesterday", "end": "2026-01-01T14:00"}, "start", "“yesterday” is not a date and time"),
        ({"start": "2026-02-30T10:00", "end": "2026-03-01T14:00"}, "start", "is not a date and time"),
        ({"start": "2026-03-29T02:30", "end": "2026-03-30T10:00"}, "start", "does not exist or happens twice in Europe/Berlin"),
        ({"start": "2026-10-25T02:30", "end": "2026-10-26T10:00"}, "start", "does not exist or happens twice in Europe/Berlin"),
        ({"start": "", "end": "2026-01-01T14:00"}, "start", "Give the moment the range starts at"),
        ({"bounds": "before", "start": "", "end": ""}, "end", "Give the moment the range ends at."),
        ({"effect": "hide_for_user", "start": "2026-01-01T13:00", "end": "2026-01-01T14:00"}, "member", "Choose the member"),
    ],
)
def test_it_refuses_bad_bounds_next_to_the_field_and_changes_nothing(client, chat, moderator, settings, values, field, error):
    settings.TIME_ZONE = "Europe/Berlin"
    before = snapshot_chat()
    response = post_scope(logged_in(client, moderator), chat, range_data(**values))
    assert response.status_code == 200
    assert error in field_errors(response, field)
    assert 'aria-invalid="true"' in response.content.decode()
    nothing_changed(before)
    assert not PurgeRequest.objects.exists()


def test_it_ignores_a_start_typed_before_switching_to_before_a_moment(client, chat, moderator):
    logged_in(client, moderator)
    purge = preview_from(post_scope(client, chat, range_data(bounds="before", start="garbage", end="2026-01-01T15:00")))
    assert purge.spec["scope"]["start"] is None and purge.preview["messages"] == 3


def test_it_previews_a_range_live_without_creating_a_request(client, chat, moderator):
    logged_in(client, moderator)
    url = reverse("purge:range_preview", args=[chat.team.pk])
    response = client.get(url, {"bounds": "before", "end": "2026-01-01T17:00", "effect": "delete_for_everyone"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'data-count="messages">5<' in html and "<svg" in html and "<title id=\"live-histogram-title\">" in html
    assert "5 messages from 2026-01-01 to 2026-01-01" in html
    response = client.get(url, range_data(start="2026-01-01T17:00", end="2026-01-01T13:00"), headers={"HX-Request": "true"})
    assert "The end must be after the start." in response.content.decode() and "<svg" not in response.content.decode()
    # Without JavaScript the same URL is the form page with the counts.
    page = client.get(url, {"bounds": "before", "end": "2026-01-01T17:00", "effect": "delete_for_everyone"}).content.decode()
    assert "<html" in page and 'data-count="messages">5<' in page
    assert not PurgeRequest.objects.exists()


def test_it_says_in_the_live_preview_when_the_role_may_not_run_it(client, chat, support):
    response = logged_in(client, support).get(
        reverse("purge:range_preview", args=[chat.team.pk]),
        {"bounds": "before", "end": "2026-01-01T17:00", "effect": "delete_for_everyone"}, headers={"HX-Request": "true"},
    )
    assert "Support may hide messages for one member" in response.content.decode()


def test_it_refuses_the_live_range_preview_to_read_only_roles(client, chat, auditor):
    response = logged_in(client, auditor).get(reverse("purge:range_preview", args=[chat.team.pk]), {"end": "2026-01-01T17:00"})
    assert response.status_code == 403


# --- the whole conversation -----------------------------------------------------------------------


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


# --- a user's messages ----------------------------------------------------------------------------


def test_it_submits_a_user_erasure_for_approval(client, chat, compliance, moderator):
    page = logged_in(client, compliance).get(reverse("browse:user", args=[chat.alice.pk])).content.decode()
    assert 'id="purge-user"' in page and "always needs approval" in page
    assert 'id="purge-user"' not in logged_in(client, moderator).get(reverse("browse:user", args=[chat.alice.pk])).content.decode()

    logged_in(client, compliance)
    url = reverse("purge:user", args=[chat.alice.pk])
    before = snapshot_chat()
    response = client.post(url, {"span": "range", "start": "", "end": "", "reason": "GDPR"})
    assert "Give a start, an end or both" in field_errors(response, "start")
    nothing_changed(before)
    purge = preview_from(client.post(url, {"span": "range", "end": "2026-01-01T15:00", "reason": "GDPR", "ticket": "DSR-9"}))
    assert purge.needs_approval and purge.preview["messages"] == 3
    page = client.get(reverse("purge:request", args=[purge.pk])).content.decode()
    assert "Needs approval" in page and "Type “alice” or the number of messages, 3, to confirm." in page
    response = client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "alice"}, follow=True)
    assert "Submitted for approval" in response.content.decode()
    purge.refresh_from_db()
    assert purge.state == "awaiting_approval"
    nothing_changed(before)


def test_it_names_the_legal_hold_that_stops_an_erasure(client, chat, compliance):
    LegalHold.objects.create(kind="user", user=chat.alice, subject_external_id="alice", reason="case 9", created_by=compliance)
    before = snapshot_chat()
    response = logged_in(client, compliance).post(reverse("purge:user", args=[chat.alice.pk]), {"span": "all", "reason": "GDPR"})
    assert response.status_code == 200 and "meets legal hold #" in response.content.decode()
    nothing_changed(before)
    assert not PurgeRequest.objects.exists()
