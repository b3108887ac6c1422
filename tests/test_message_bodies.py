"""Long message bodies in the browse pages (issue 11, item 7).

A list of messages (a conversation's timeline, search results, a user's latest messages, the
messages ticked for a deletion) shows at most 2,000 characters of each body, cut with "…"
and a link "show the whole message" to the message's own page, which shows all of it, escaped.
The database sends only the part shown: a page of fifty 10 MB messages costs what short ones do.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.builders import ChatWorld

pytestmark = pytest.mark.django_db

BODY_SHOWN = 2000  # characters of a body a list shows
HEAD = "<b>bold?</b> hello "
TAIL = "TAILWORD"


@pytest.fixture
def chat(db):
    chat = ChatWorld()
    chat.add_user("alice", "Alice", external_id="u-alice")
    chat.add_user("bob", "Bob", external_id="u-bob")
    chat.add_group("group", ["alice", "bob"], external_id="g-team", title="Team")
    chat.add_message("group", "bob", body="short and <i>sweet</i>", name="short")
    # Ten million characters: what an unbounded import or the chat service itself could store.
    chat.add_message("group", "alice", body=HEAD + "x" * 10_000_000 + " " + TAIL, name="huge")
    chat.add_message("group", "alice", body="e" * BODY_SHOWN, name="edge")
    return chat


def whole_link(message):
    return f'<a href="{reverse("browse:message", args=[message.pk])}"'


def assert_cut(html, chat):
    assert len(html) < 200_000  # not 10 MB
    assert "&lt;b&gt;bold?&lt;/b&gt; hello " + "x" * (BODY_SHOWN - len(HEAD)) + "…" in html
    assert "x" * (BODY_SHOWN - len(HEAD) + 1) not in html
    assert TAIL not in html and "<b>bold?</b>" not in html
    assert whole_link(chat["huge"]) in html and "show the whole message" in html
    # A body of exactly BODY_SHOWN characters is shown whole, with no link.
    assert "e" * BODY_SHOWN + "…" not in html and whole_link(chat["edge"]) not in html
    assert "short and &lt;i&gt;sweet&lt;/i&gt;" in html and whole_link(chat["short"]) not in html


def test_it_cuts_a_long_body_in_the_timeline(client, moderator, chat):
    client.force_login(moderator)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("browse:conversation", args=[chat["group"].pk]))

    assert response.status_code == 200
    assert_cut(response.content.decode(), chat)
    # The database sent only the part shown: no query reads the body but through LEFT(body, n).
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert f'LEFT("chatdata_message"."body", {BODY_SHOWN + 1})' in sql
    assert '"chatdata_message"."body"' not in sql.replace('LEFT("chatdata_message"."body"', "")


def test_it_cuts_a_long_body_in_search_results(client, support, chat):
    client.force_login(support)

    response = client.get(reverse("browse:search"), {"q": "hello"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "<mark>hello</mark>" in html
    assert len(html) < 200_000 and TAIL not in html
    assert whole_link(chat["huge"]) in html


def test_it_cuts_a_long_body_among_a_users_latest_messages(client, auditor, chat):
    client.force_login(auditor)

    response = client.get(reverse("browse:user", args=[chat["alice"].pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert len(html) < 200_000 and TAIL not in html
    assert whole_link(chat["huge"]) in html


def test_it_cuts_a_long_body_among_the_messages_ticked_for_deletion(client, moderator, chat):
    client.force_login(moderator)

    # A refused selection (no reason given) shows the ticked messages again.
    response = client.post(reverse("purge:conversation", args=[chat["group"].pk]), {
        "action": "messages", "ids": [chat["huge"].pk, chat["short"].pk], "effect": "delete_for_everyone", "reason": "",
    })

    html = response.content.decode()
    assert response.status_code == 200
    assert len(html) < 200_000 and TAIL not in html
    assert whole_link(chat["huge"]) in html


def test_the_message_page_shows_the_whole_body_escaped(client, support, chat):
    client.force_login(support)

    response = client.get(reverse("browse:message", args=[chat["huge"].pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;b&gt;bold?&lt;/b&gt; hello " + "x" * 10_000_000 + " " + TAIL in html
    assert "<b>bold?</b>" not in html
    assert reverse("browse:conversation", args=[chat["group"].pk]) in html
    assert f"{len(chat['huge'].body):,} characters" in html


def test_the_message_page_answers_404_for_an_unknown_message(client, support, chat):
    client.force_login(support)

    assert client.get(reverse("browse:message", args=[chat["huge"].pk + 1000])).status_code == 404
