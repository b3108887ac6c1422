"""A chat user's messages (an erasure): offered to compliance only, submitted for approval, and
stopped by a legal hold it names. Chat and helpers: tests/purge_views_chat.py."""

import pytest
from django.urls import reverse

from chatdata.models import LegalHold, PurgeRequest
from tests.builders import snapshot_chat
from tests.purge_views_chat import chat  # noqa: F401 (a fixture)
from tests.purge_views_chat import field_errors, logged_in, nothing_changed, preview_from

pytestmark = pytest.mark.django_db


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
