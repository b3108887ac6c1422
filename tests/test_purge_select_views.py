"""The pages of issue 14's "Add": "Select all N matching" on the search page and its own page
(purge:matching), senders and "only attachments" on the range and batch forms. Views ask the
domain; bad input gets a clear message next to its field and changes nothing."""

from datetime import timedelta

import pytest
from django.urls import reverse

from chatdata.models import Attachment, AuditEntry, Message, PurgeRequest
from tests.builders import T0, add_attachment, make_conversation, make_message, make_user

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture
def world(db):
    class World:
        alice, sam = make_user("u-alice", "Alice"), make_user("u-sam", "Sam Spammer")
        group = make_conversation("group", [alice, sam], external_id="g-one", title="One")
        other = make_conversation("group", [alice, sam], external_id="g-two", title="Two")

    w = World
    # 60 of Sam's adverts over two conversations (more than one results page of 50), and talk.
    w.spam = [make_message(w.group if i % 2 else w.other, w.sam, T0 + i * HOUR, f"cheap watches {i}") for i in range(60)]
    w.talk = [make_message(w.group, w.alice, T0 + i * HOUR, "lunch at noon?") for i in range(3)]
    w.files = [add_attachment(w.spam[1], "ad.png"), add_attachment(w.talk[0], "menu.png")]
    return w


def search_url(**params):
    from urllib.parse import urlencode

    return reverse("browse:search") + "?" + urlencode(params)


def matching_url(**params):
    from urllib.parse import urlencode

    return reverse("purge:matching") + "?" + urlencode(params)


# --- "Select all N matching" on the search page ------------------------------------------------


def test_it_offers_to_select_all_matching_with_the_exact_count(client, world, moderator):
    client.force_login(moderator)
    html = client.get(search_url(q="cheap watches")).content.decode()
    assert "50 of 60 matching messages shown." in html
    assert "Select all 60 matching…" in html
    assert 'href="/search/purge/?q=cheap+watches"' in html


def test_a_search_on_one_page_says_all_are_shown(client, world, moderator):
    client.force_login(moderator)
    html = client.get(search_url(q="lunch", sender="Alice")).content.decode()
    assert "All 3 matching messages are shown." in html
    assert "/search/purge/?q=lunch&amp;sender=Alice" in html


@pytest.mark.parametrize("persona", ["support", "compliance", "auditor"])
def test_roles_that_may_not_delete_what_a_search_finds_see_no_offer(client, world, persona, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(search_url(q="cheap watches"))
    assert response.status_code == 200 and "select-matching" not in response.content.decode()


def test_a_search_that_cannot_be_one_scope_says_why(client, world, moderator):
    client.force_login(moderator)
    html = client.get(search_url(q="-lunch")).content.decode()
    assert "Select all matching is not offered for this search: Words that only exclude" in html


# --- its page: live counts, then a preview like any other ---------------------------------------


def test_the_page_shows_the_search_and_live_counts(client, world, moderator):
    client.force_login(moderator)
    html = client.get(matching_url(q="cheap watches", sender="u-sam")).content.decode()
    assert '<dd>cheap watches</dd>' in html and "Sam Spammer" in html
    assert 'data-count="messages">60<' in html
    assert 'name="q" value="cheap watches"' in html and 'name="sender" value="u-sam"' in html


def test_choosing_only_attachments_refreshes_the_counts(client, world, moderator):
    client.force_login(moderator)
    response = client.get(matching_url(q="cheap watches", effect="delete_attachments"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html
    assert 'data-count="messages">1<' in html and 'data-count="attachments">1<' in html


def test_previewing_makes_a_matching_request_and_running_it_deletes_exactly_that(
    client, world, moderator, settings, django_capture_on_commit_callbacks
):
    settings.PURGE_APPROVAL_THRESHOLD = 1000
    client.force_login(moderator)
    data = {"q": "cheap watches", "sender": "Sam Spammer", "effect": "delete_for_everyone", "reason": "spam wave", "ticket": "T-7"}
    response = client.post(reverse("purge:matching"), data)
    purge = PurgeRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("purge:request", args=[purge.pk])
    assert purge.scope_kind == "matching" and purge.total_messages == 60
    assert purge.spec["scope"] == {"kind": "matching", "text": "cheap watches", "senders": [world.sam.pk],
                                   "conversation": None, "start": None, "end": None}
    page = client.get(response["Location"]).content.decode()
    assert "Change selection" in page and "/search/?q=cheap+watches&amp;sender=u-sam" in page
    late = make_message(world.group, world.sam, T0 + 99 * HOUR, "cheap watches, late")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "60"})
    purge.refresh_from_db()
    assert purge.state == "done" and purge.result["messages"] == 60
    assert set(Message.objects.values_list("id", flat=True)) == {m.pk for m in world.talk} | {late.pk}


def test_only_attachments_of_what_a_search_found(client, world, moderator, django_capture_on_commit_callbacks):
    client.force_login(moderator)
    client.post(reverse("purge:matching"), {"q": "cheap watches", "effect": "delete_attachments", "reason": "storage"})
    purge = PurgeRequest.objects.get()
    assert (purge.preview["messages"], purge.preview["attachments"]) == (1, 1)
    page = client.get(reverse("purge:request", args=[purge.pk])).content.decode()
    assert "Delete 1 attachment<" in page and "the messages stay" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "1"})
    assert Message.objects.count() == 63
    assert list(Attachment.objects.values_list("pk", flat=True)) == [world.files[1].pk]


@pytest.mark.parametrize(("data", "message"), [
    ({"q": "cheap", "sender": "nobody"}, "No chat user has the external id or name “nobody”."),
    ({"q": "cheap", "start": "2026-13-01"}, "“2026-13-01” is not a date"),
    ({"q": "", "start": "2026-01-01"}, "Enter words to search for, or choose a sender or a conversation."),
    ({"q": "-lunch"}, "Words that only exclude (-word) match nearly every message"),
    ({"q": "zebra"}, "Nothing matches: no request was made."),
    ({"q": "cheap", "reason": ""}, "This field is required."),
    ({"q": "cheap", "effect": "hide_for_user"}, "Select a valid choice."),
])
def test_bad_input_gets_a_clear_message_and_nothing_changes(client, world, moderator, data, message):
    client.force_login(moderator)
    before = AuditEntry.objects.count()
    response = client.post(reverse("purge:matching"), {"effect": "delete_for_everyone", "reason": "spam", **data})
    assert response.status_code == 200
    assert message in response.content.decode().replace("&quot;", '"').replace("&#x27;", "'")
    assert not PurgeRequest.objects.exists()
    assert AuditEntry.objects.count() == before
    assert Message.objects.count() == 63


def test_a_hand_edited_link_shows_its_errors_not_a_500(client, world, moderator):
    client.force_login(moderator)
    response = client.get(matching_url(q="cheap", sender="nobody", conversation="x" * 300, effect="boom"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "No chat user has the external id or name" in html and "Fix the search to see its counts." in html


@pytest.mark.parametrize("persona", ["support", "compliance", "auditor", "outsider"])
def test_other_roles_are_refused_and_nothing_changes(client, world, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(matching_url(q="cheap")).status_code == 403
    response = client.post(reverse("purge:matching"), {"q": "cheap", "effect": "delete_for_everyone", "reason": "spam"})
    assert response.status_code == 403 and not PurgeRequest.objects.exists()


# --- narrowing a range and a batch ---------------------------------------------------------------


def range_post(world, **data):
    return {"action": "range", "bounds": "between", "start": "2026-01-01T00:00", "end": "2026-01-03T00:00",
            "effect": "delete_for_everyone", "reason": "spam", **data}


def test_a_range_narrowed_to_senders_by_name(client, world, moderator):
    client.force_login(moderator)
    response = client.post(reverse("purge:conversation", args=[world.group.pk]), range_post(world, senders="Sam Spammer, u-sam"))
    purge = PurgeRequest.objects.get()
    assert response.status_code == 302
    assert purge.spec["scope"]["senders"] == [world.sam.pk] and purge.total_messages == 18


def test_a_range_of_only_attachments_with_live_counts(client, world, moderator):
    client.force_login(moderator)
    params = {"bounds": "between", "start": "2026-01-01T00:00", "end": "2026-01-03T00:00", "effect": "delete_attachments"}
    live = client.get(reverse("purge:range_preview", args=[world.group.pk]), {**params, "senders": "u-alice"},
                      headers={"HX-Request": "true"}).content.decode()
    assert 'data-count="messages">1<' in live and 'data-count="attachments">1<' in live
    assert "Messages with attachments (they stay)" in live
    form_page = client.get(reverse("purge:conversation", args=[world.group.pk])).content.decode()
    assert 'value="delete_attachments"' in form_page and 'name="senders"' in form_page


def test_an_unknown_sender_is_named_next_to_its_field(client, world, moderator):
    client.force_login(moderator)
    response = client.post(reverse("purge:conversation", args=[world.group.pk]), range_post(world, senders="u-sam, ghost"))
    assert response.status_code == 200 and not PurgeRequest.objects.exists()
    form = response.context["forms"]["range"]
    assert form.errors["senders"] == ["No chat user has the external id or name “ghost”."]


def test_support_is_not_offered_only_attachments(client, world, support):
    client.force_login(support)
    page = client.get(reverse("purge:conversation", args=[world.group.pk])).content.decode()
    assert 'value="delete_attachments"' not in page
    response = client.post(reverse("purge:conversation", args=[world.group.pk]), range_post(world, effect="delete_attachments"))
    assert response.status_code == 403 and not PurgeRequest.objects.exists()


def test_a_batch_narrowed_to_a_sender(client, world, moderator):
    client.force_login(moderator)
    data = {"conversations": f"{world.group.pk},{world.other.pk}", "what": "clear_all", "senders": "u-sam", "reason": "spam"}
    assert client.post(reverse("purge:conversations"), data).status_code == 302
    purge = PurgeRequest.objects.get()
    assert purge.spec["scope"]["senders"] == [world.sam.pk] and purge.total_messages == 60
    assert sorted(i.preview["messages"] for i in purge.items.all()) == [30, 30]


def test_a_batch_of_only_attachments(client, world, moderator, django_capture_on_commit_callbacks):
    client.force_login(moderator)
    data = {"conversations": f"{world.group.pk},{world.other.pk}", "what": "delete_attachments", "reason": "storage"}
    assert client.post(reverse("purge:conversations"), data).status_code == 302
    purge = PurgeRequest.objects.get()
    assert purge.effect == "delete_attachments" and purge.preview["attachments"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "2"})
    page = client.get(reverse("jobs:detail", args=[purge.pk])).content.decode()
    assert "Delete only the attachments" in page and "Attachments removed from" in page
    assert "Attachments deleted (and their files)" in page
    assert not Attachment.objects.exists() and Message.objects.count() == 63


def test_senders_do_not_go_with_deleting_whole_conversations(client, world, moderator):
    client.force_login(moderator)
    data = {"conversations": str(world.group.pk), "what": "delete_all", "senders": "u-sam", "reason": "spam"}
    response = client.post(reverse("purge:conversations"), data)
    assert response.status_code == 200 and not PurgeRequest.objects.exists()
    assert "takes whole conversations" in response.context["form"].errors["senders"][0]


def test_the_search_page_counts_the_matches_only_so_far(client, world, moderator, monkeypatch):
    monkeypatch.setattr("dashboard.web.browse.views.MATCHING_COUNTED", 55)
    client.force_login(moderator)
    html = client.get(search_url(q="cheap watches")).content.decode()
    assert "50 of more than 55 matching messages shown." in html and "Select all matching (more than 55)…" in html
    page = client.get(matching_url(q="cheap watches")).content.decode()
    assert 'data-count="messages">60<' in page  # its own page counts them all
