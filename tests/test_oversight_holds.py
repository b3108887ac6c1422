"""Legal holds: placing one (its window read in the local timezone, a bad one explained next to the
field), what it covers, releasing it with a reason, and who may."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from chatdata.models import AuditEntry, LegalHold, Message
from chatdata.purge.actions import do_preview_purge
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.oversight import chat, flashes  # noqa: F401 (chat is a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def hold_post(client, **data):
    return client.post(reverse("holds:create"), {"kind": "user", "external_id": "u-alice", "reason": "Case 42", **data})


def test_it_places_a_hold_and_lists_what_it_covers(client, compliance, chat):
    client.force_login(compliance)
    response = hold_post(client)
    assert response.status_code == 302 and response["Location"] == reverse("holds:list")
    hold = LegalHold.objects.get()
    assert (hold.kind, hold.user, hold.start, hold.end, hold.reason, hold.created_by) == ("user", chat["alice"], None, None, "Case 42", compliance)
    assert flashes(response) == [f"Legal hold #{hold.pk} placed on user u-alice: 6 messages are kept from every deletion."]
    entry = AuditEntry.objects.get(action="hold.add")
    assert (entry.actor, entry.target, entry.ip) == (compliance, "user u-alice", "127.0.0.1")

    page = client.get(reverse("holds:list")).content.decode()
    row = page[page.index(f'id="hold-{hold.pk}"'):]
    assert reverse("browse:user", args=[chat["alice"].pk]) in row and "Case 42" in row
    assert "<strong>6</strong>" in row  # Alice sent 6 messages, all in the (open) window


def test_it_reads_the_window_in_the_local_timezone(client, compliance, chat, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    client.force_login(compliance)
    response = hold_post(client, kind="conversation", external_id="g-team",
                         start="2026-01-01T13:30", end="2026-01-02T00:00")
    assert response.status_code == 302
    hold = LegalHold.objects.get()
    assert (hold.conversation, hold.start, hold.end) == (
        chat["group"], datetime(2026, 1, 1, 12, 30, tzinfo=UTC), datetime(2026, 1, 1, 23, 0, tzinfo=UTC))
    in_window = Message.objects.filter(conversation=chat["group"], sent_at__gte=hold.start, sent_at__lt=hold.end).count()
    assert 0 < in_window < 10
    assert f"<strong>{in_window}</strong>" in client.get(reverse("holds:list")).content.decode()


@pytest.mark.parametrize(("data", "field", "error"), [
    ({"external_id": "u-nobody"}, "external_id", "No chat user has the external id “u-nobody”."),
    ({"kind": "conversation", "external_id": "u-alice"}, "external_id", "No conversation has the external id “u-alice”."),
    ({"reason": "  "}, "reason", "A legal hold needs a reason"),
    ({"start": "2026-02-01T10:00", "end": "2026-02-01T09:00"}, "end", "The end must be after the start."),
    ({"start": "yesterday"}, "start", "“yesterday” is not a date and time"),
    ({"kind": "everyone"}, "kind", "Select a valid choice."),
    ({"external_id": ""}, "external_id", "This field is required."),
])
def test_it_refuses_a_bad_hold_with_an_error_next_to_the_field(client, compliance, chat, data, field, error):
    client.force_login(compliance)
    response = hold_post(client, **data)
    assert response.status_code == 400
    page = response.content.decode()
    assert error in page
    assert abs(page.index(f'name="{field}"') - page.index(error)) < 600
    assert not LegalHold.objects.exists() and not AuditEntry.objects.filter(action="hold.add").exists()


def test_it_refuses_a_time_that_the_clock_skips(client, compliance, chat, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    client.force_login(compliance)
    response = hold_post(client, start="2026-03-29T02:30")  # clocks jump from 02:00 to 03:00
    assert response.status_code == 400 and "couldn’t be interpreted in time zone Europe/Berlin" in response.content.decode()
    assert not LegalHold.objects.exists()


def test_it_prefills_the_hold_form_from_a_link(client, compliance):
    client.force_login(compliance)
    page = client.get(reverse("holds:create") + "?conversation=g-team").content.decode()
    assert 'value="g-team"' in page and 'value="conversation" id="id_kind_1" required checked' in page


def test_it_releases_a_hold_only_with_a_reason(client, compliance, chat):
    hold = do_add_legal_hold(actor=compliance, user=chat["alice"], reason="Case 42")
    client.force_login(compliance)
    url = reverse("holds:release", args=[hold.pk])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400 and "Say why the hold is released" in response.content.decode()
    hold.refresh_from_db()
    assert hold.is_active and not AuditEntry.objects.filter(action="hold.release").exists()

    response = client.post(url, {"reason": "Case closed"})
    assert flashes(response) == [f"Legal hold #{hold.pk} on user u-alice released."]
    hold.refresh_from_db()
    assert (hold.is_active, hold.released_by, hold.release_reason) == (False, compliance, "Case closed")
    assert AuditEntry.objects.get(action="hold.release").reason == "Case closed"
    # Released holds leave the default list and show under "released"; a second release is refused.
    assert f'id="hold-{hold.pk}"' not in client.get(reverse("holds:list")).content.decode()
    assert "Case closed" in client.get(reverse("holds:list") + "?state=released").content.decode()
    response = client.post(url, {"reason": "again"})
    assert "was already released" in flashes(response)[0]
    assert AuditEntry.objects.filter(action="hold.release").count() == 1


def test_it_shows_holds_read_only_to_a_moderator(client, moderator, compliance, chat):
    hold = do_add_legal_hold(actor=compliance, user=chat["alice"], reason="Case 42")
    client.force_login(moderator)
    page = client.get(reverse("holds:list")).content.decode()
    assert "Case 42" in page
    assert reverse("holds:create") not in page and reverse("holds:release", args=[hold.pk]) not in page
    assert client.post(reverse("holds:release", args=[hold.pk]), {"reason": "x"}).status_code == 403
    hold.refresh_from_db()
    assert hold.is_active


def test_it_rejects_a_damaged_holds_page_link(client, compliance):
    client.force_login(compliance)
    response = client.get(reverse("holds:list") + "?after=abc&state=nonsense")
    assert response.status_code == 400
    assert "This page link is out of date or damaged." in response.content.decode()
    assert "Select a valid choice. nonsense is not one of the available choices." in response.content.decode()


def test_it_places_a_hold_that_a_later_preview_excludes(client, compliance, moderator, chat):
    client.force_login(compliance)
    hold_post(client, kind="user", external_id="u-bob")
    spec = PurgeSpec(ConversationScope(chat["group"].pk), "delete_for_everyone")
    request = do_preview_purge(spec, actor=moderator, reason="cleanup")
    assert (request.preview["messages"], request.preview["excluded_by_hold"]) == (6, 4)
