"""Message search: full text across conversations, filters, keyset paging, Chinese, bad input,
the GIN index, query counts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from chatdata.browse import search
from chatdata.browse.keyset import Position
from tests.browse_chat import chat, shown_message_ids  # noqa: F401 (chat is a fixture)
from tests.builders import T0, make_message

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
    assert search_ids(client, q="budget -approved", conversation=corpus["bob_budget"].conversation_id) == [
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
    assert search_ids(client, q="budget", sender=chat["bob"].pk) == [corpus["bob_budget"].pk]
    assert search_ids(client, q="budget", conversation=chat["room"].pk) == [corpus["lobby_budget"].pk]
    assert search_ids(client, q="budget", start="2026-03-02", end="2026-03-02") == [corpus["bob_budget"].pk]
    assert search_ids(client, sender=chat["carol"].pk) == [corpus["lobby_budget"].pk, chat["lobby"].pk]


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
    assert search_ids(client, q="天气", conversation=chat["group"].pk) == [weather]
    assert search_ids(client, q="三点 天气", sender=chat["bob"].pk) == [weather]
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
    response = client.get(reverse("browse:search"), {"q": "x", "sender": "bob", "conversation": "999999",
                                                     "start": "2026-13-01", "end": "yesterday"})
    errors = response.context["form"].errors
    assert errors["sender"] == ["Enter a numeric id."]
    assert errors["conversation"] == ["No conversation has id 999999."]
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
    # session, user, roles, the sender, the planner's estimate, the page of hits, their rows
    with django_assert_max_num_queries(7):
        response = client.get(reverse("browse:search"), {"q": "message", "sender": chat["alice"].pk})
    assert len(response.context["results"].messages) == 50
