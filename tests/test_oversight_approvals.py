"""The approvals queue: a request waits for a second person, who approves (and runs) or rejects it
with a reason; nobody decides their own request."""

import django_rq
import pytest
from django.urls import reverse

from chatdata.models import AuditEntry, Message, PurgeRequest
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.scopes import ConversationScope, PurgeSpec, UserScope
from tests.oversight import audit_actions, chat, flashes  # noqa: F401 (chat is a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def waiting(chat, moderator, settings):
    """Mona's delete of the whole group, above the (lowered) approval threshold."""
    settings.PURGE_APPROVAL_THRESHOLD = 3
    spec = PurgeSpec(ConversationScope(chat["group"].pk), "delete_for_everyone")
    request = do_execute_purge(do_preview_purge(spec, actor=moderator, reason="spam wave", ticket="T-7"), actor=moderator)
    assert request.state == "awaiting_approval"
    return request


def test_it_shows_the_requester_their_request_without_buttons(client, moderator, waiting):
    client.force_login(moderator)
    page = client.get(reverse("approvals:queue")).content.decode()
    assert f"#{waiting.pk} · Delete for everyone" in page and "spam wave" in page and "T-7" in page
    assert "You cannot approve or reject your own request" in page
    assert reverse("approvals:approve", args=[waiting.pk]) not in page
    assert reverse("approvals:reject", args=[waiting.pk]) not in page


def test_it_refuses_self_approval_with_a_message(client, moderator, waiting, chat):
    client.force_login(moderator)
    response = client.post(reverse("approvals:approve", args=[waiting.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("approvals:queue")
    assert flashes(response) == [f"Request #{waiting.pk} was not approved. You cannot approve or reject your own request: another staff member must."]
    waiting.refresh_from_db()
    assert waiting.state == "awaiting_approval" and waiting.approved_by is None
    assert Message.objects.filter(conversation=chat["group"]).count() == 10
    assert "purge.approve" not in audit_actions()
    assert "purge.refused" in audit_actions()  # the attempt itself is on record
    # Rejecting one's own request is refused the same way.
    response = client.post(reverse("approvals:reject", args=[waiting.pk]), {"reason": "never mind"})
    assert response.status_code == 302 and "your own request" in flashes(response)[0]
    waiting.refresh_from_db()
    assert waiting.state == "awaiting_approval"


def test_it_runs_a_request_approved_by_a_second_moderator(client, moderator2, waiting, chat):
    client.force_login(moderator2)
    page = client.get(reverse("approvals:queue")).content.decode()
    assert f"Review and decide #{waiting.pk}" in page
    assert f"Approve and run #{waiting.pk}" in client.get(reverse("approvals:review", args=[waiting.pk])).content.decode()
    response = client.post(reverse("approvals:approve", args=[waiting.pk]), {"confirmation": "10"})
    assert response.status_code == 302
    assert flashes(response) == [f"Request #{waiting.pk} approved and run: 10 messages handled."]
    waiting.refresh_from_db()
    assert (waiting.state, waiting.approved_by, waiting.result["messages"]) == ("done", moderator2, 10)
    assert not Message.objects.filter(conversation=chat["group"]).exists()
    assert Message.objects.filter(conversation=chat["other"]).count() == 3
    approval = AuditEntry.objects.get(action="purge.approve")
    assert (approval.actor, approval.purge_request_id) == (moderator2, waiting.pk)
    # It leaves the queue and shows under the recent decisions.
    page = client.get(reverse("approvals:queue")).content.decode()
    assert "Nothing is waiting for approval." in page and "approved</span> by max" in page


def test_it_queues_an_approved_request_too_large_to_run_inline(client, moderator2, waiting, redis_conn, django_capture_on_commit_callbacks):
    PurgeRequest.objects.filter(pk=waiting.pk).update(runs_inline=False)
    client.force_login(moderator2)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("approvals:approve", args=[waiting.pk]), {"confirmation": "10"})
    assert "runs in the background" in flashes(response)[0]
    waiting.refresh_from_db()
    assert waiting.state == "queued"
    assert django_rq.get_queue("default").job_ids == [waiting.job_id]


def test_it_needs_a_reason_to_reject(client, moderator2, waiting):
    client.force_login(moderator2)
    url = reverse("approvals:reject", args=[waiting.pk])
    response = client.post(url, {"reason": "   "})
    assert response.status_code == 400
    page = response.content.decode()
    # The error sits in the reason field's group, right above its textarea.
    error = page.index("Say why the request is rejected")
    assert page.index('name="reason"', error) - error < 300
    waiting.refresh_from_db()
    assert waiting.state == "awaiting_approval" and "purge.reject" not in audit_actions()

    response = client.post(url, {"reason": "Too broad: narrow it to last week."})
    assert response.status_code == 302 and "rejected" in flashes(response)[0]
    waiting.refresh_from_db()
    assert (waiting.state, waiting.rejected_by, waiting.rejection_reason) == ("rejected", moderator2, "Too broad: narrow it to last week.")
    assert AuditEntry.objects.get(action="purge.reject").reason == "Too broad: narrow it to last week."


def test_it_tells_compliance_that_a_conversation_request_is_for_a_moderator(client, compliance, waiting):
    client.force_login(compliance)
    page = client.get(reverse("approvals:queue")).content.decode()
    assert "Only a moderator or an admin may approve or reject this request." in page
    assert f"Approve and run #{waiting.pk}" not in page
    response = client.post(reverse("approvals:approve", args=[waiting.pk]))
    assert "Only a moderator or an admin" in flashes(response)[0]
    waiting.refresh_from_db()
    assert waiting.state == "awaiting_approval"


def test_it_lets_compliance_approve_an_erasure(client, compliance, chat, admin_user):
    spec = PurgeSpec(UserScope(chat["bob"].pk), "delete_for_everyone")
    request = do_execute_purge(do_preview_purge(spec, actor=admin_user, reason="GDPR art. 17"), actor=admin_user)
    client.force_login(compliance)
    assert "erasure" in client.get(reverse("approvals:queue")).content.decode()
    client.post(reverse("approvals:approve", args=[request.pk]), {"confirmation": chat["bob"].external_id})
    request.refresh_from_db()
    assert request.state == "done" and not Message.objects.filter(sender=chat["bob"]).exists()


def test_it_says_when_a_request_is_no_longer_waiting(client, moderator2, waiting):
    PurgeRequest.objects.filter(pk=waiting.pk).update(state="cancelled")
    client.force_login(moderator2)
    response = client.post(reverse("approvals:approve", args=[waiting.pk]))
    assert "this one is cancelled" in flashes(response)[0]
    assert client.post(reverse("approvals:approve", args=[waiting.pk + 1000])).status_code == 404
    assert "there is nothing to reject" in client.get(reverse("approvals:reject", args=[waiting.pk])).content.decode()
