"""Message search: full text across conversations, filters, keyset paging, Chinese, bad input,
the GIN index, query counts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from chatdata.browse import search
from chatdata.browse.keyset import Position
from tests.browse_chat import chat, shown_message_ids  # noqa: F401 (chat is a fixture)
from tests.builders import T0, make_message, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(chat):
    alice, bob, group = chat["alice"], chat["bob"], chat["group"]
    day = datetime(2026, 3, 1, 10, tzinfo=UTC)
    return {
        "alice_budget": make_message(group, alice, sent_at=day, body="The budget meeting moved to Friday"),
        "bob_budget": make_message(group, bob, sent_at=day + timedelta(days=1), body="budget approved"),
        "lobby_budget": make_message(chat["room"], chat["carol"], sent_at=day + timedelta(days=2), body="Budget?"),
        "weather": make_message(group, bob, sent_at=day + timedelta(days=3), body="今天天气很好，会议改到下午三点了。"),
    }


def search_ids(client, **params):
    response = client.get(reverse("browse:search"), params)
    assert response.status_code == 200
    return [m.pk for m in response.context["results"].messages] if response.context["results"] else None


def test_it_finds_words_across_conversations_newest_first(client, moderator, corpus):
    client.force_login(moderator)
    assert search_ids(client, q="budget") == [corpus[k].pk for k in ("lobby_budget", "bob_budget", "alice_budget")]
    assert search_ids(client, q='"budget meeting"') == [corpus["alice_budget"].pk]
    assert search_ids(client, q="budget -approved", conversation=corpus["bob_budget"].conversation.external_id) == [
        corpus["alice_budget"].pk
    ]


def test_it_highlights_the_search_words_and_escapes_the_body(client, moderator, chat):
    make_message(chat["group"], chat["bob"], body="<b>Budget</b> & budgets\nline two")
    client.force_login(moderator)
    html = client.get(reverse("browse:search"), {"q": "budget -approved"}).content.decode()
    assert "&lt;b&gt;<mark>Budget</mark>&lt;/b&gt; &amp; <mark>budget</mark>s<br>line two" in html
    assert search.query_terms('"budget meeting" or plan -approved') == ["meeting", "budget", "plan"]


def test_it_filters_search_by_sender_conversation_and_dates(client, moderator, corpus, chat):
    client.force_login(moderator)
    assert search_ids(client, q="budget", sender="bob") == [corpus["bob_budget"].pk]
    assert search_ids(client, q="budget", conversation="r-lobby") == [corpus["lobby_budget"].pk]
    assert search_ids(client, q="budget", start="2026-03-02", end="2026-03-02") == [corpus["bob_budget"].pk]
    assert search_ids(client, sender="Carol") == [corpus["lobby_budget"].pk, chat["lobby"].pk]


def test_it_pages_search_results_by_keyset(client, moderator, chat):
    client.force_login(moderator)
    newest_first = [m.pk for m in reversed(chat["history"])]
    first = client.get(reverse("browse:search"), {"q": "message"})
    cursor = first.context["results"].next_cursor
    second = client.get(reverse("browse:search"), {"q": "message", "before": cursor})
    third = client.get(reverse("browse:search"), {"q": "message", "before": second.context["results"].next_cursor})
    pages = [r.context["results"] for r in (first, second, third)]
    assert [m.pk for page in pages for m in page.messages] == newest_first
    assert pages[2].next_cursor is None
    partial = client.get(reverse("browse:search"), {"q": "message", "before": cursor}, headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode() and len(shown_message_ids(partial)) == 50


def test_it_matches_chinese_by_prefix_everywhere_and_by_substring_in_a_conversation(client, moderator, corpus, chat):
    client.force_login(moderator)
    weather = corpus["weather"].pk
    assert search_ids(client, q="今天") == [weather]  # prefix of the run 今天天气很好
    assert search_ids(client, q="天气") == []  # inside the run: documented limit without a filter
    assert search_ids(client, q="天气", conversation="g-team") == [weather]
    assert search_ids(client, q="三点 天气", sender="bob") == [weather]
    response = client.get(reverse("browse:search"), {"q": "天气"})
    assert "Choose a sender or a conversation" in response.content.decode()


def test_it_continues_a_bounded_substring_scan_where_it_stopped(chat):
    group = chat["group"]
    hit = make_message(group, chat["bob"], sent_at=T0 - timedelta(days=1), body="旧的天气消息")
    query = search.MessageQuery(text="天气", conversation_id=group.pk)
    first = search.search_messages(query, scan_window=30)
    assert first.messages == [] and first.searched_back_to == chat["history"][90].sent_at
    older_than = Position.decode(first.next_cursor)
    pages = 1
    while True:
        query = search.MessageQuery(text="天气", conversation_id=group.pk, older_than=older_than)
        result = search.search_messages(query, scan_window=30)
        pages += 1
        if result.messages:
            break
        older_than = Position.decode(result.next_cursor)
    assert [m.pk for m in result.messages] == [hit.pk] and pages == 5  # 121 messages, 30 per window


def test_it_finds_the_same_newest_matches_through_recent_windows(chat, corpus, monkeypatch):
    """The window shortcut for common words must return exactly what sorting every match returns."""
    alice, bob, room = chat["alice"], chat["bob"], chat["room"]
    for day in range(40):  # matches spread over 40 days in two conversations, newest on 2026-05-10
        at = datetime(2026, 4, 1, 9, tzinfo=UTC) + timedelta(days=day)
        make_message(chat["group"], alice if day % 2 else bob, sent_at=at, body=f"status report {day}")
        make_message(room, chat["carol"], sent_at=at + timedelta(hours=1), body="status ok")
    queries = [
        search.MessageQuery(text="status"),
        search.MessageQuery(text="status", sender_id=bob.pk),
        search.MessageQuery(text="status", start=datetime(2026, 5, 6, tzinfo=UTC)),
        search.MessageQuery(text="status", older_than=Position(datetime(2026, 4, 20, tzinfo=UTC), 0)),
        search.MessageQuery(text="budget"),  # fewer matches than a page: every window falls short
    ]
    for limit in (3, 10, 50):
        expected = [[m.pk for m in search.search_messages(q, limit=limit).messages] for q in queries]
        monkeypatch.setattr(search, "SORT_ALL_BELOW", 0)  # every search now goes through the windows
        windowed = [[m.pk for m in search.search_messages(q, limit=limit).messages] for q in queries]
        monkeypatch.setattr(search, "SORT_ALL_BELOW", 10**9)
        assert windowed == expected
        assert all(expected[:4])


def test_it_uses_the_gin_index_for_full_text_search(corpus):
    query = search.MessageQuery(text="budget")
    rows = query.scope().alias(document=search.body_vector()).filter(
        document=search.SearchQuery("budget", config="simple", search_type="websearch")
    )
    sql, params = rows.values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "msg_body_fts_idx" in plan


def test_it_reports_bad_search_input_next_to_the_fields(client, moderator, chat):
    client.force_login(moderator)
    response = client.get(reverse("browse:search"), {"q": "x", "sender": "robert", "conversation": "999999",
                                                     "start": "2026-13-01", "end": "yesterday"})
    errors = response.context["form"].errors
    assert errors["sender"] == ["No chat user has the external id or name “robert”."]
    assert errors["conversation"] == ["No conversation has the external id or name “999999”."]
    assert "is not a date" in errors["start"][0] and "is not a date" in errors["end"][0]
    assert response.context["results"] is None
    response = client.get(reverse("browse:search"), {"q": "x", "start": "2026-03-05", "end": "2026-03-01"})
    assert response.context["form"].errors["end"] == ["The end date is before the start date."]
    response = client.get(reverse("browse:search"), {"start": "2026-03-05"})
    assert "Enter words to search for" in response.content.decode()
    blank = client.get(reverse("browse:search"))
    assert blank.context["form"].errors == {} and blank.context["results"] is None


def test_it_searches_in_a_bounded_number_of_queries(client, moderator, chat, django_assert_max_num_queries):
    client.force_login(moderator)
    # session, user, roles, the sender, the planner's estimate, the page of hits, their rows, and
    # for a moderator the count (bounded) of every match, for "Select all N matching"
    with django_assert_max_num_queries(8 + 3):  # +3: the header's counts (approvals waiting: 2, unread notices: 1)
        response = client.get(reverse("browse:search"), {"q": "message", "sender": "alice"})
    assert len(response.context["results"].messages) == 50


# --- naming a user or a conversation (issue 14, item 5) --------------------------------------------


def test_a_sender_and_a_conversation_are_named_by_external_id_or_name_never_by_internal_id(client, moderator, chat):
    client.force_login(moderator)
    by_id = search_ids(client, sender="alice", conversation="g-team")
    assert by_id and search_ids(client, sender="Alice Archer", conversation="Team room") == by_id
    assert search_ids(client, sender="alice archer") == by_id  # a name's case does not matter
    response = client.get(reverse("browse:search"), {"sender": str(chat["bob"].pk)})
    assert response.context["form"].errors["sender"] == [f"No chat user has the external id or name “{chat['bob'].pk}”."]


def test_a_name_several_users_share_asks_for_the_external_id(client, moderator, chat):
    make_user("bob-2", "Bob Baker")
    client.force_login(moderator)
    response = client.get(reverse("browse:search"), {"sender": "Bob Baker"})
    assert response.context["form"].errors["sender"] == ["Several chat users are called “Bob Baker” (bob, bob-2): give the external id."]


def test_the_user_and_conversation_pages_link_to_search_by_external_id(client, moderator, chat):
    client.force_login(moderator)
    user_page = client.get(reverse("browse:user", args=[chat["bob"].pk])).content.decode()
    assert f'{reverse("browse:search")}?sender=bob"' in user_page
    chat_page = client.get(reverse("browse:conversation", args=[chat["group"].pk])).content.decode()
    assert f'{reverse("browse:search")}?conversation=g-team"' in chat_page


def test_it_suggests_users_and_conversations_as_a_person_types(client, moderator, chat):
    client.force_login(moderator)
    users = client.get(reverse("browse:suggest_users"), {"sender": "b"}, headers={"HX-Request": "true"}).content.decode()
    assert '<option value="bob">Bob Baker</option>' in users and "alice" not in users
    by_name = client.get(reverse("browse:suggest_users"), {"sender": "ALI"}).content.decode()
    assert '<option value="alice">Alice Archer</option>' in by_name
    chats = client.get(reverse("browse:suggest_conversations"), {"conversation": "lob"}).content.decode()
    assert '<option value="r-lobby">Lobby</option>' in chats
    assert client.get(reverse("browse:suggest_users"), {"sender": ""}).content.decode().strip() == ""
    page = client.get(reverse("browse:search")).content.decode()
    assert 'list="sender-suggestions"' in page and '<datalist id="sender-suggestions">' in page
