"""The approver's second look (issue 14, item 6): the review page shows the preview the requester
saw, approving asks for the same typed confirmation (one rule, chatdata.purge.confirmation), the
navigation counts what waits for whom, and the requester reads what became of their requests."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from chatdata import notices
from chatdata.approvals import awaiting_count
from chatdata.erasure.actions import do_open_erasure, do_reject_erasure
from chatdata.models import AuditEntry, Message, NoticeCursor, PurgeRequest
from chatdata.purge.actions import do_approve_purge, do_execute_purge, do_preview_purge, do_reject_purge
from chatdata.purge.confirmation import confirmation_for
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.scopes import ConversationScope, MessagesScope, PurgeInvalid, PurgeSpec
from tests.builders import T0, make_conversation, make_history, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def chat(db):
    alice, bob = make_user("u-alice", "Alice Archer"), make_user("u-bob", "Bob Baker")
    group = make_conversation("group", [alice, bob], external_id="g-team", title="Team")
    history = make_history(group, alice, 6) + make_history(group, bob, 4, start=T0 + timedelta(days=2))
    return {"alice": alice, "bob": bob, "group": group, "history": history}


@pytest.fixture
def waiting(chat, moderator, settings):
    settings.PURGE_APPROVAL_THRESHOLD = 3
    spec = PurgeSpec(ConversationScope(chat["group"].pk), "delete_for_everyone")
    request = do_execute_purge(do_preview_purge(spec, actor=moderator, reason="spam wave", ticket="T-7"), actor=moderator,
                               confirmation="Team")
    assert request.state == "awaiting_approval"
    return request


def flashes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- one rule for the typed confirmation --------------------------------------------------------


def test_the_rule_is_the_same_for_execute_and_approve(chat, moderator, moderator2, settings):
    settings.PURGE_APPROVAL_THRESHOLD = 3
    spec = PurgeSpec(ConversationScope(chat["group"].pk), "delete_for_everyone")
    request = do_preview_purge(spec, actor=moderator, reason="spam")
    rule = confirmation_for(request)
    assert (rule.typed, rule.name, rule.count) == (True, "Team", 10)
    for typed in ("", "Teem", "9", "١٠"):  # nothing, a typo, the wrong count, Arabic-Indic digits
        with pytest.raises(PurgeInvalid) as refused:
            do_execute_purge(request, actor=moderator, confirmation=typed)
        assert refused.value.field == "confirmation" and "to confirm" in refused.value.message
    request.refresh_from_db()
    assert request.state == "previewed"
    request = do_execute_purge(request, actor=moderator, confirmation="team")
    for typed in ("", "Teem", "11"):
        with pytest.raises(PurgeInvalid):
            do_approve_purge(request, actor=moderator2, confirmation=typed)
    request.refresh_from_db()
    assert request.state == "awaiting_approval" and Message.objects.count() == 10
    assert not AuditEntry.objects.filter(action="purge.approve").exists()
    assert do_approve_purge(request, actor=moderator2, confirmation="1 0").state == "done"


def test_a_one_way_effect_asks_for_nothing_to_be_typed(chat, support):
    spec = PurgeSpec(MessagesScope((chat["history"][0].pk,), chat["group"].pk), "hide_for_user", member=chat["bob"].pk)
    request = do_preview_purge(spec, actor=support, reason="reported")
    assert confirmation_for(request).typed is False
    assert do_execute_purge(request, actor=support, confirmation="").state == "done"


def test_a_refusal_comes_before_the_confirmation_and_is_audited(chat, moderator, waiting):
    from chatdata.purge.actions import PurgeRefused

    with pytest.raises(PurgeRefused):
        do_approve_purge(waiting, actor=moderator, confirmation="wrong")  # their own: refused, whatever was typed
    assert AuditEntry.objects.filter(action="purge.refused", purge_request_id=waiting.pk).count() == 1


# --- the review page ------------------------------------------------------------------------------


def test_the_approver_sees_the_requesters_preview(client, chat, moderator2, waiting, compliance):
    do_add_legal_hold(actor=compliance, user=chat["bob"], reason="Case 12")
    client.force_login(moderator2)
    page = client.get(reverse("approvals:review", args=[waiting.pk])).content.decode()
    # The requester's preview, from the same templates: counts, samples, histogram, holds.
    assert 'data-count="messages">10<' in page
    assert "First messages" in page and "Last messages" in page
    assert '<figure class="histogram">' in page and "messages from" in page
    assert "No legal hold covers these messages." in page  # as at the preview: Bob's hold came later
    assert "spam wave" in page and "T-7" in page
    # And the decision: the same typed confirmation as the requester, and rejecting.
    assert "Type “Team” or the number of messages, 10, to confirm." in page
    assert 'name="confirmation"' in page and f"Approve and run #{waiting.pk}" in page
    assert reverse("approvals:reject", args=[waiting.pk]) in page
    # The queue no longer approves in one click: it sends the approver here.
    queue = client.get(reverse("approvals:queue")).content.decode()
    assert reverse("approvals:review", args=[waiting.pk]) in queue
    assert f'action="{reverse("approvals:approve", args=[waiting.pk])}"' not in queue


def test_approving_needs_the_typed_confirmation(client, chat, moderator2, waiting):
    client.force_login(moderator2)
    url = reverse("approvals:approve", args=[waiting.pk])
    for typed, error in [("", "Type the confirmation to go ahead."), ("Teem", "“Teem” does not match."), ("9", "“9” does not match.")]:
        response = client.post(url, {"confirmation": typed})
        assert response.status_code == 400 and error in response.content.decode()
        assert 'data-count="messages">10<' in response.content.decode()  # the preview stays in view
        waiting.refresh_from_db()
        assert waiting.state == "awaiting_approval" and Message.objects.filter(conversation=chat["group"]).count() == 10
    assert AuditEntry.objects.filter(action="request.refused", target=f"POST {url}").count() == 3
    response = client.post(url, {"confirmation": "TEAM"})
    assert response.status_code == 302 and "approved and run: 10 messages" in flashes(response)[0]
    waiting.refresh_from_db()
    assert waiting.state == "done" and waiting.approved_by == moderator2


def test_the_requester_sees_no_decision_on_their_own_review_page(client, moderator, waiting):
    client.force_login(moderator)
    page = client.get(reverse("approvals:review", args=[waiting.pk])).content.decode()
    assert "You cannot approve or reject your own request" in page and 'name="confirmation"' not in page


def test_a_decided_request_says_so_on_its_review_page(client, moderator2, waiting):
    do_reject_purge(waiting, actor=moderator2, reason="too broad")
    client.force_login(moderator2)
    page = client.get(reverse("approvals:review", args=[waiting.pk])).content.decode()
    assert "there is nothing to decide" in page and "too broad" in page and 'name="confirmation"' not in page
    assert client.get(reverse("approvals:review", args=[waiting.pk + 999])).status_code == 404


# --- what waits for whom --------------------------------------------------------------------------


def test_the_navigation_counts_what_the_person_may_approve(client, chat, moderator, moderator2, compliance, support, waiting):
    other = make_user("u-carol")
    erasure = do_open_erasure(actor=compliance, subject=other.external_id, ticket="DSR-1")
    assert erasure.state == "awaiting_approval"
    assert awaiting_count(moderator2) == 1  # the moderator's request, not the erasure
    assert awaiting_count(moderator) == 0  # one's own request does not wait for oneself
    assert awaiting_count(compliance) == 0  # their own erasure; conversation requests are moderators'
    assert awaiting_count(support) == 0
    client.force_login(moderator2)
    page = client.get(reverse("browse:home")).content.decode()
    assert 'data-nav-count="approvals">1<' in page and "waiting for you" in page
    client.force_login(support)
    assert 'data-nav-count="approvals"' not in client.get(reverse("browse:home")).content.decode()
    cora = type(compliance).objects.create_user("cora")
    cora.groups.add(*compliance.groups.all())
    assert awaiting_count(cora) == 1  # the erasure


# --- notices --------------------------------------------------------------------------------------


def test_the_requester_is_told_when_theirs_is_approved_rejected_finished_or_failed(client, chat, moderator, moderator2, waiting, settings):
    client.force_login(moderator)
    assert 'data-nav-count="notices"' not in client.get(reverse("browse:home")).content.decode()
    do_approve_purge(waiting, actor=moderator2, confirmation="10")  # approved, then finished
    elsewhere = make_conversation("group", [chat["alice"]], external_id="g-2")
    make_history(elsewhere, chat["alice"], 4)
    second = do_preview_purge(PurgeSpec(ConversationScope(elsewhere.pk), "delete_for_everyone"), actor=moderator, reason="x")
    PurgeRequest.objects.filter(pk=second.pk).update(state="awaiting_approval")
    do_reject_purge(second, actor=moderator2, reason="not needed")
    found = notices.notices_for(moderator)
    assert [(n.request_id, n.what, n.by) for n in found] == [
        (second.pk, "rejected", "max"), (waiting.pk, "finished", None), (waiting.pk, "approved", "max"),
    ]
    assert found[0].reason == "not needed" and all(n.unread for n in found)
    assert notices.notices_for(moderator2) == []  # what one did oneself is not news to oneself
    page = client.get(reverse("browse:home")).content.decode()
    assert 'data-nav-count="notices">3<' in page
    page = client.get(reverse("notices:list")).content.decode()
    assert page.index(f"Purge request #{second.pk} rejected by max") < page.index(f"Purge request #{waiting.pk} finished")
    assert "“not needed”" in page and reverse("jobs:detail", args=[waiting.pk]) in page
    # Marked read up to what the page showed: the count goes, a newer notice counts again.
    newest = found[0].entry.pk
    assert client.post(reverse("notices:read"), {"up_to": str(newest)}).status_code == 302
    assert notices.unread_count(moderator) == 0 and NoticeCursor.objects.get(staff=moderator).read_up_to == newest
    assert 'data-nav-count="notices"' not in client.get(reverse("browse:home")).content.decode()
    # Nothing audited for reading; a made-up number cannot hide notices still to come.
    assert not AuditEntry.objects.filter(action__startswith="notice").exists()
    client.post(reverse("notices:read"), {"up_to": str(2**62)})
    assert NoticeCursor.objects.get(staff=moderator).read_up_to == newest
    response = client.post(reverse("notices:read"), {"up_to": "soon"})
    assert response.status_code == 302 and "Nothing was marked as read" in flashes(response)[0]


def test_the_erasure_requester_is_told_too(client, chat, compliance, admin_user):
    erasure = do_open_erasure(actor=compliance, subject="u-alice", ticket="DSR-4")
    do_reject_erasure(erasure, actor=admin_user, reason="not the account holder")
    found = notices.notices_for(compliance)
    assert [(n.kind, n.request_id, n.what, n.by, n.reason) for n in found] == [
        ("erasure", erasure.pk, "rejected", "ada", "not the account holder"),
    ]
    client.force_login(compliance)
    page = client.get(reverse("notices:list")).content.decode()
    assert f"Erasure #{erasure.pk} rejected by ada" in page and reverse("erasure:request", args=[erasure.pk]) in page


def test_an_account_without_a_role_has_no_notices_page(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("notices:list")).status_code == 403
