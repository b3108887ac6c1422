"""The user and conversation lists and a user's page: search, filters, keyset paging, bad input,
counts and query counts (chatdata.browse.directory)."""

from datetime import timedelta

import pytest
from django.urls import reverse

from chatdata.browse import counts
from chatdata.models import Membership, Message
from tests.browse_chat import chat  # noqa: F401 (chat is a fixture)
from tests.builders import T0, make_conversation, make_message, make_user

pytestmark = pytest.mark.django_db


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
