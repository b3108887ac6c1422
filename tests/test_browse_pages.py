"""The browse pages as a whole: access, junk query parameters, home's counts, external ids only
(the lists and a user's page: test_browse_directory.py; a conversation's timeline:
test_browse_timeline.py; search: test_browse_search.py)."""

import re

import pytest
from django.db import connection
from django.urls import reverse

from chatdata.browse import counts
from chatdata.models import Message
from tests.browse_chat import chat  # noqa: F401 (chat is a fixture)

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


# --- external ids ---------------------------------------------------------------------------------


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
