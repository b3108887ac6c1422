"""The browse pages: access, filters, keyset paging, date jump, bad input, query counts (search:
test_browse_search.py)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from chatdata.browse import counts
from chatdata.browse.keyset import Position
from chatdata.models import Membership, Message
from tests.browse_chat import chat, shown_message_ids  # noqa: F401 (chat is a fixture)
from tests.builders import (
    T0,
    add_attachment,
    add_hide,
    add_pending,
    add_reaction,
    make_conversation,
    make_message,
    make_user,
)

pytestmark = pytest.mark.django_db


def page_urls(chat):
    return [
        reverse("browse:home"),
        reverse("browse:users"),
        reverse("browse:user", args=[chat["alice"].pk]),
        reverse("browse:conversations"),
        reverse("browse:conversation", args=[chat["group"].pk]),
        reverse("browse:search") + "?q=message",
    ]


# --- access ---------------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_login(client, chat):
    for url in page_urls(chat):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next=")


def test_it_reloads_the_whole_page_on_login_when_an_htmx_session_expired(client, chat):
    url = reverse("browse:conversation", args=[chat["group"].pk]) + "?before=1_1"
    response = client.get(url, headers={"HX-Request": "true"}, follow=True)
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("login") + "?next=")
    assert b"<form" not in response.content
    assert client.get(reverse("login")).status_code == 200  # a plain visit still gets the form


@pytest.mark.parametrize("persona", ["moderator", "support", "compliance", "auditor", "admin_user"])
def test_it_shows_every_page_to_each_staff_role(client, chat, persona, request):
    client.force_login(request.getfixturevalue(persona))
    for url in page_urls(chat):
        assert client.get(url).status_code == 200, url


def test_it_refuses_an_account_without_a_role(client, chat, outsider):
    client.force_login(outsider)
    response = client.get(reverse("browse:home"))
    assert response.status_code == 403
    assert b"no chatsweep role" in response.content


def test_it_shows_the_user_roles_timezone_and_a_post_logout(client, moderator, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    client.force_login(moderator)
    html = client.get(reverse("browse:home")).content.decode()
    assert "mona" in html and 'class="role role--moderator"' in html
    assert "Asia/Shanghai" in html
    assert re.search(r'<form method="post" action="/logout/"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"', html)
    assert client.get(reverse("logout")).status_code == 405  # logging out is a POST


JUNK = ["abc", "-1", "9" * 30, "2026-02-30", "none_" + "9" * 30, "1_" + "9" * 30, "9" * 30 + "_1", "x" * 500, "\x00", "%_"]


def test_it_never_fails_on_junk_query_parameters(client, moderator, chat):
    client.force_login(moderator)
    parameters = {
        reverse("browse:users"): ["q", "after"],
        reverse("browse:user", args=[chat["alice"].pk]): ["after"],
        reverse("browse:conversations"): ["q", "kind", "sort", "after"],
        reverse("browse:conversation", args=[chat["group"].pk]): ["date", "before", "after", "members_after"],
        reverse("browse:search"): ["q", "sender", "conversation", "start", "end", "before"],
    }
    for url, names in parameters.items():
        for name in names:
            for value in JUNK:
                response = client.get(url, {name: value})
                assert response.status_code == 200, (url, name, value, response.status_code)
    for url in (reverse("browse:user", args=[10**30]), reverse("browse:conversation", args=[10**30])):
        assert client.get(url).status_code == 404


# --- home -----------------------------------------------------------------------------------------


def test_it_counts_small_tables_exactly_on_home(client, moderator, chat):
    client.force_login(moderator)
    html = client.get(reverse("browse:home")).content.decode()
    messages = re.search(r'data-count="messages">\s*(.*?)\s*</td>', html, re.S).group(1)
    assert messages == "121"
    assert "Team room" in html  # latest activity


def test_it_estimates_big_tables_from_the_planner(chat):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chatdata_message")
    tallies = {count.key: count.tally for count in counts.table_counts(exact_below=100)}
    assert tallies["messages"].estimated
    assert 100 <= tallies["messages"].value <= 150  # 121 rows
    assert not tallies["users"].estimated and tallies["users"].value == 3


def test_it_bounds_object_counts_and_labels_estimates(chat):
    messages = Message.objects.filter(conversation=chat["group"])
    assert counts.count_or_estimate(messages, cap=500) == counts.Tally(120)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chatdata_message")
    tally = counts.count_or_estimate(messages, cap=50)
    assert tally.estimated and 100 <= tally.value <= 130


# --- users ----------------------------------------------------------------------------------------


def test_it_finds_users_by_external_id_prefix_or_name(client, moderator, chat):
    client.force_login(moderator)
    by_id = client.get(reverse("browse:users"), {"q": "car"}).content.decode()
    assert "Carol" in by_id and "Alice Archer" not in by_id
    by_name = client.get(reverse("browse:users"), {"q": "baker"}).content.decode()
    assert "Bob Baker" in by_name and "Carol" not in by_name


def test_it_pages_users_by_keyset_without_overlap(client, moderator, db):
    for n in range(60):
        make_user(f"ext{n:02d}", f"Person {n:02d}")
    client.force_login(moderator)
    first = client.get(reverse("browse:users"))
    cursor = first.context["page"].next_cursor
    second = client.get(reverse("browse:users"), {"after": cursor})
    names = [u.display_name for u in first.context["page"]] + [u.display_name for u in second.context["page"]]
    assert names == [f"Person {n:02d}" for n in range(60)]
    assert second.context["page"].next_cursor is None


def test_it_lists_users_in_a_bounded_number_of_queries(client, moderator, django_assert_max_num_queries, db):
    users = [make_user() for _ in range(40)]
    group = make_conversation("group", users)
    client.force_login(moderator)
    with django_assert_max_num_queries(4 + 3):  # +3: the header's counts (approvals waiting: 2, unread notices: 1)
        response = client.get(reverse("browse:users"))
    assert len(response.context["page"]) == 40
    assert all(u.conversation_count == 1 for u in response.context["page"]) and group


def test_it_rejects_a_stale_user_cursor(client, moderator, db):
    client.force_login(moderator)
    response = client.get(reverse("browse:users"), {"after": "999999"})
    assert response.status_code == 200
    assert "out of date" in response.content.decode()
    response = client.get(reverse("browse:users"), {"after": "abc"})
    assert "Enter a numeric id." in response.content.decode()


def test_it_shows_a_users_conversations_counts_and_latest_messages(client, moderator, chat):
    Membership.objects.filter(user=chat["alice"], conversation=chat["peer"]).update(hidden=True)
    make_message(chat["peer"], chat["alice"], sent_at=T0 + timedelta(days=30), body="a private word")
    client.force_login(moderator)
    response = client.get(reverse("browse:user", args=[chat["alice"].pk]))
    rows = {row.conversation.external_id: row for row in response.context["page"]}
    assert rows["g-team"].their_messages == 120 and rows["c2c_alice_carol"].their_messages == 1
    assert rows["c2c_alice_carol"].membership.hidden and not rows["g-team"].membership.hidden
    assert response.context["sent"] == counts.Tally(121)
    assert response.context["latest"][0].body == "a private word"
    assert "hidden" in response.content.decode()


def test_it_shows_a_busy_user_in_a_bounded_number_of_queries(client, moderator, django_assert_max_num_queries, db):
    user, other = make_user(), make_user()
    for _ in range(45):
        conversation = make_conversation("group", [user, other])
        make_message(conversation, user)
    client.force_login(moderator)
    with django_assert_max_num_queries(12 + 3):  # +3: the header's counts (approvals waiting: 2, unread notices: 1)
        response = client.get(reverse("browse:user", args=[user.pk]))
    assert len(response.context["page"]) == 45
    assert {row.their_messages for row in response.context["page"]} == {1}


def test_it_counts_a_prolific_users_messages_over_a_bounded_window(chat):
    from chatdata.browse import directory

    activity = directory.user_activity(chat["alice"], window=50)
    assert not activity.complete and activity.counted == 50
    assert activity.count_in(chat["group"].pk) == 50
    assert activity.since == chat["history"][70].sent_at  # the 50 newest: 70..119
    sent = directory.sent_count(chat["alice"], activity)
    assert sent.value >= 50 and (sent.capped or sent.estimated or sent.value == 120)


# --- conversations --------------------------------------------------------------------------------


def test_it_filters_conversations_by_kind_and_search(client, moderator, chat):
    client.force_login(moderator)
    rooms = client.get(reverse("browse:conversations"), {"kind": "room"})
    assert [c.external_id for c in rooms.context["page"]] == ["r-lobby"]
    found = client.get(reverse("browse:conversations"), {"q": "team"})
    assert [c.external_id for c in found.context["page"]] == ["g-team"]
    found = client.get(reverse("browse:conversations"), {"q": "c2c_"})
    assert [c.external_id for c in found.context["page"]] == ["c2c_alice_carol"]


def test_it_sorts_conversations_by_activity_with_silent_ones_last(client, moderator, chat):
    client.force_login(moderator)
    latest = client.get(reverse("browse:conversations"), {"sort": "activity"}).context["page"]
    assert [c.external_id for c in latest] == ["g-team", "r-lobby", "c2c_alice_carol"]
    idle = client.get(reverse("browse:conversations"), {"sort": "idle"}).context["page"]
    assert [c.external_id for c in idle] == ["c2c_alice_carol", "r-lobby", "g-team"]


@pytest.mark.parametrize("sort", ["activity", "idle", "created"])
def test_it_pages_conversations_by_keyset_across_silent_ones(sort, db):
    from chatdata.browse import directory

    user = make_user()
    for n in range(7):
        conversation = make_conversation("group", [user])
        if n % 3:  # some never had a message
            make_message(conversation, user, sent_at=T0 + timedelta(hours=n))
    everything = list(directory.find_conversations(sort=sort, limit=100))
    seen, cursor = [], ""
    while True:
        page = directory.find_conversations(sort=sort, cursor=cursor, limit=2)
        seen += page.items
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert [c.pk for c in seen] == [c.pk for c in everything] and len(seen) == 7


def test_it_reports_bad_conversation_filters_next_to_the_field(client, moderator, chat):
    client.force_login(moderator)
    response = client.get(reverse("browse:conversations"), {"kind": "channel", "sort": "loudest"})
    assert response.status_code == 200
    form = response.context["form"]
    assert "kind" in form.errors and "sort" in form.errors
    assert response.context["page"] is None
    response = client.get(reverse("browse:conversations"), {"after": "not-a-cursor"})
    assert "out of date" in response.content.decode()


def test_it_lists_conversations_in_a_bounded_number_of_queries(client, moderator, django_assert_max_num_queries, db):
    users = [make_user() for _ in range(3)]
    for _ in range(45):
        make_message(make_conversation("group", users), users[0])
    client.force_login(moderator)
    with django_assert_max_num_queries(6 + 3):  # one: the conversations ticked for a batch (issue 14, item 8); 3: the header's counts
        response = client.get(reverse("browse:conversations"))
    assert len(response.context["page"]) == 45
    assert {c.member_count for c in response.context["page"]} == {3}
    assert {c.message_count for c in response.context["page"]} == {1}


def test_the_conversation_list_shows_how_many_messages_each_holds(client, moderator, chat):
    client.force_login(moderator)
    response = client.get(reverse("browse:conversations"), {"q": "team"})
    html = response.content.decode()
    assert '<th scope="col" class="num">Messages</th>' in html
    [team] = list(response.context["page"])
    assert team.message_count == Message.objects.filter(conversation=team).count() > 0
    assert f'<td class="num">{team.message_count:,}</td>' in html


# --- one conversation ------------------------------------------------------------------------------


def test_it_pages_the_timeline_to_older_messages_without_gaps(client, moderator, chat):
    client.force_login(moderator)
    url = reverse("browse:conversation", args=[chat["group"].pk])
    newest_first = [m.pk for m in reversed(chat["history"])]
    first = client.get(url)
    assert shown_message_ids(first) == newest_first[:50]
    second = client.get(url, {"before": first.context["timeline"].next_cursor})
    assert shown_message_ids(second) == newest_first[50:100]
    third = client.get(url, {"before": second.context["timeline"].next_cursor})
    assert shown_message_ids(third) == newest_first[100:]
    assert third.context["timeline"].next_cursor is None
    assert "Newer messages" in third.content.decode()


def test_it_answers_htmx_with_just_the_next_older_page(client, moderator, chat):
    client.force_login(moderator)
    url = reverse("browse:conversation", args=[chat["group"].pk])
    cursor = client.get(url).context["timeline"].next_cursor
    response = client.get(url, {"before": cursor}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and "Members" not in html
    assert shown_message_ids(response) == [m.pk for m in reversed(chat["history"])][50:100]
    older = re.search(r'<a href="([^"]+)" hx-get="([^"]+)" hx-target="closest li" hx-swap="outerHTML">', html)
    assert older and older.group(1) == older.group(2) and "before=" in older.group(1)


def test_it_climbs_back_to_newer_messages(client, moderator, chat):
    client.force_login(moderator)
    url = reverse("browse:conversation", args=[chat["group"].pk])
    history = chat["history"]
    response = client.get(url, {"after": Position.of(history[9]).encode()})
    assert shown_message_ids(response) == [m.pk for m in reversed(history[10:60])]
    assert response.context["timeline"].next_cursor and response.context["timeline"].prev_cursor


def test_it_jumps_to_the_end_of_a_day_in_the_configured_timezone(client, moderator, chat, settings):
    settings.TIME_ZONE = "Asia/Shanghai"  # UTC+8: 2026-01-02 ends at 16:00 UTC
    client.force_login(moderator)
    url = reverse("browse:conversation", args=[chat["group"].pk])
    response = client.get(url, {"date": "2026-01-02"})
    ids = shown_message_ids(response)
    newest = Message.objects.get(pk=ids[0])
    assert newest.sent_at == datetime(2026, 1, 2, 15, 0, tzinfo=UTC)  # hourly from 2026-01-01 12:00 UTC
    assert ids == [m.pk for m in reversed(chat["history"]) if m.sent_at < datetime(2026, 1, 2, 16, tzinfo=UTC)][:50]
    assert "2026-01-02 23:00" in response.content.decode()  # shown in Shanghai time


def test_it_reports_bad_timeline_input_and_shows_the_newest(client, moderator, chat):
    client.force_login(moderator)
    url = reverse("browse:conversation", args=[chat["group"].pk])
    response = client.get(url, {"date": "2026-02-30"})
    assert "is not a date" in response.content.decode()
    assert shown_message_ids(response)[0] == chat["history"][-1].pk
    response = client.get(url, {"before": "12x_3"})
    assert "out of date" in response.content.decode()
    response = client.get(url, {"date": "2026-01-02", "before": Position.of(chat["history"][5]).encode()})
    assert "not several" in response.content.decode()
    assert client.get(reverse("browse:conversation", args=[999999])).status_code == 404


def test_it_shows_members_state_attachments_reactions_and_hides(client, moderator, chat):
    Membership.objects.filter(user=chat["bob"], conversation=chat["group"]).update(
        cleared_before=datetime(2026, 1, 3, tzinfo=UTC), hidden=True
    )
    newest = chat["history"][-1]
    add_reaction(newest, chat["bob"], "🎉")
    add_reaction(newest, chat["alice"], "🎉")
    add_hide(newest, chat["bob"])
    add_pending(newest, chat["bob"])
    attachment = add_attachment(newest, name="cat.png")
    client.force_login(moderator)
    html = client.get(reverse("browse:conversation", args=[chat["group"].pk])).content.decode()
    assert "cleared before" in html and "2026-01-03 00:00" in html and ">hidden<" in html
    assert re.search(r"🎉 <span class=\"reaction__count\">2</span>", html)
    assert "hidden for 1 member" in html and "awaiting delivery to 1" in html
    assert reverse("browse:attachment", args=[attachment.pk]) in html and "cat" in html


def test_it_renders_a_busy_timeline_in_a_bounded_number_of_queries(client, moderator, chat, django_assert_max_num_queries):
    for message in chat["history"][-50:]:
        add_reaction(message, chat["bob"])
        add_hide(message, chat["bob"])
        add_attachment(message)
    client.force_login(moderator)
    with django_assert_max_num_queries(12 + 4):  # +4: the header's counts (3) and the legal holds for the banner (1)
        response = client.get(reverse("browse:conversation", args=[chat["group"].pk]))
    assert len(shown_message_ids(response)) == 50


def test_it_serves_images_inline_and_everything_else_as_downloads(client, moderator, chat):
    image = add_attachment(chat["lobby"], name="a.png")
    page = add_attachment(chat["lobby"], name="x.html", content=b"<script>", content_type="text/html")
    client.force_login(moderator)
    response = client.get(reverse("browse:attachment", args=[image.pk]))
    assert response["Content-Type"] == "image/png" and b"".join(response.streaming_content) == b"\x89PNG fake"
    response = client.get(reverse("browse:attachment", args=[page.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    image.file.storage.delete(image.file.name)
    assert client.get(reverse("browse:attachment", args=[image.pk])).status_code == 404


def test_the_user_conversation_and_message_pages_show_external_ids_never_internal_ones(client, moderator, chat):
    # Issue 14, item 5: a moderator's ticket carries the chat service's ids; chatsweep's own stay inside.
    client.force_login(moderator)
    message = chat["history"][3]
    for url, external_id in [
        (reverse("browse:user", args=[chat["alice"].pk]), "alice"),
        (reverse("browse:conversation", args=[chat["group"].pk]), "g-team"),
        (reverse("browse:message", args=[message.pk]), message.external_id),
    ]:
        html = client.get(url).content.decode()
        assert external_id in html
        assert "Chat user id" not in html and "Conversation id" not in html and "Message id" not in html
