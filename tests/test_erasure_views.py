"""The compliance pages (issue 13's web half): the overview, opening a request, its page, the
approval page, cancel and resume, the export and the certificate. Who sees and does what, the
domain's refusals shown, and nothing changed on a refusal. The whole flow in Chromium with a real
worker is tests/test_browser_erasure.py."""

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from chatdata.erasure import run
from chatdata.erasure.actions import do_approve_erasure, do_open_erasure, do_reject_erasure
from chatdata.erasure.certificate import verify
from chatdata.models import AuditEntry, ErasureRequest, Message
from chatdata.purge.holds import do_add_legal_hold, do_release_legal_hold
from tests.builders import T0, add_reaction, make_conversation, make_history, make_user
from tests.conftest import make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
HOUR = timedelta(hours=1)


@pytest.fixture
def chat(db, redis_conn):
    """Uma is the data subject: she writes in a group and in a peer conversation with Bob."""
    uma, bob, carl = make_user("uma", "Uma Subject"), make_user("bob", "Bob"), make_user("carl", "Carl")
    group = make_conversation("group", [uma, bob, carl], external_id="grp")
    peer = make_conversation("peer", [uma, bob], external_id="peer-ub")
    sent = make_history(group, uma, 4, start=T0) + make_history(peer, uma, 2, start=T0)
    others = make_history(group, bob, 3, start=T0 + 30 * HOUR) + make_history(peer, bob, 2, start=T0 + 10 * HOUR)
    add_reaction(others[0], uma, "❤️")
    return {"uma": uma, "bob": bob, "carl": carl, "group": group, "peer": peer, "sent": sent, "others": others}


@pytest.fixture
def cora(db):
    """The second compliance officer."""
    return make_staff("cora", "compliance")


def login(client, user):
    client.force_login(user)
    return client


def flashes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def opened(compliance, subject="uma", **kwargs):
    return do_open_erasure(actor=compliance, subject=subject, ticket=kwargs.pop("ticket", "DSR-1"), **kwargs)


def erasure_actions():
    return list(AuditEntry.objects.filter(action__startswith="erasure.").order_by("id").values_list("action", "actor_name"))


def run_job(erasure):
    erasure.refresh_from_db()
    run.erasure_job(erasure.pk, erasure.attempt)
    erasure.refresh_from_db()
    return erasure


# --- the overview and the home page ----------------------------------------------------------------


def test_it_lists_open_requests_due_first_with_days_left_in_words(client, chat, compliance, cora, settings):
    settings.ERASURE_DEADLINE_DAYS = 30
    now = timezone.now()
    overdue = opened(compliance, "uma", ticket="OLD", received_at=now - timedelta(days=32))
    soon = opened(compliance, "bob", ticket="SOON", received_at=now - timedelta(days=26))
    later = opened(compliance, "carl", ticket="NEW", received_at=now - timedelta(days=1))
    page = login(client, compliance).get(reverse("erasure:overview")).content.decode()
    assert page.index("OLD") < page.index("SOON") < page.index("NEW")
    assert 'class="erasure-row--overdue"' in page and "Overdue by 2 days" in page
    assert 'class="erasure-row--due_soon"' in page and "Due soon: 3 days left" in page
    assert "28 days left" in page
    assert "<strong>1</strong> overdue" in page and "<strong>2</strong> due within 7 days" in page

    due = client.get(reverse("erasure:overview"), {"show": "due_soon"}).content.decode()
    assert "OLD" in due and "SOON" in due and "NEW" not in due
    do_reject_erasure(later, actor=cora, reason="duplicate")
    pending = client.get(reverse("erasure:overview")).content.decode()
    assert "NEW" not in pending and f"erasure-{soon.pk}" in pending and f"erasure-{overdue.pk}" in pending
    rejected = client.get(reverse("erasure:overview"), {"show": "rejected"}).content.decode()
    assert "NEW" in rejected and "OLD" not in rejected and "Rejected" in rejected


def test_it_refuses_a_bad_filter_with_a_message(client, chat, compliance):
    response = login(client, compliance).get(reverse("erasure:overview"), {"show": "shredded"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_the_home_page_counts_requests_due_soon_for_those_who_see_them(client, chat, compliance, moderator, auditor, settings):
    settings.ERASURE_DEADLINE_DAYS = 30
    opened(compliance, "uma", received_at=timezone.now() - timedelta(days=25))
    opened(compliance, "bob", ticket="DSR-2")
    home = login(client, compliance).get(reverse("browse:home")).content.decode()
    assert f'href="{reverse("erasure:overview")}?show=due_soon"><strong>1</strong> due within 7 days or overdue' in home
    assert f'href="{reverse("erasure:overview")}"' in home and ">Compliance</a>" in home
    assert "due within 7 days" in login(client, auditor).get(reverse("browse:home")).content.decode()
    home = login(client, moderator).get(reverse("browse:home")).content.decode()
    assert "Erasure requests" not in home and ">Compliance</a>" not in home
    assert client.get(reverse("erasure:overview")).status_code == 403


# --- opening a request ------------------------------------------------------------------------------


def test_it_shows_the_domains_errors_next_to_their_fields_and_opens_nothing(client, chat, compliance):
    login(client, compliance)
    response = client.post(reverse("erasure:open"), {"user": "nobody", "ticket": "DSR-1", "peer_conversations": "keep"})
    assert response.status_code == 400
    assert response.context["form"].errors == {"user": ["No chat user with id nobody."]}
    future = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("erasure:open"), {"user": "uma", "ticket": "  ", "received": future, "peer_conversations": "shred"})
    errors = response.context["form"].errors
    assert set(errors) == {"ticket", "peer_conversations"}  # the form's own checks first
    response = client.post(reverse("erasure:open"), {"user": "uma", "ticket": "DSR-1", "received": future, "peer_conversations": "keep"})
    assert "cannot be received in the future" in response.context["form"].errors["received"][0]
    assert 'aria-invalid="true"' in response.content.decode()
    assert not ErasureRequest.objects.exists() and not erasure_actions()


def test_it_opens_a_request_that_then_awaits_approval(client, chat, compliance, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    login(client, compliance)
    response = client.post(reverse("erasure:open"), {
        "user": " uma ", "ticket": "DSR-7", "received": "2026-11-20T09:00", "peer_conversations": "delete", "notes": "by e-mail",
    })
    erasure = ErasureRequest.objects.get()
    assert response["Location"] == reverse("erasure:request", args=[erasure.pk])
    assert (erasure.subject, erasure.ticket, erasure.peer_conversations, erasure.notes) == (chat["uma"], "DSR-7", "delete", "by e-mail")
    assert erasure.received_at.isoformat() == "2026-11-20T08:00:00+00:00" and erasure.state == "awaiting_approval"
    assert flashes(response) == [f"Erasure #{erasure.pk} opened: it waits for a second compliance officer's approval."]
    again = client.post(reverse("erasure:open"), {"user": "uma", "ticket": "DSR-8", "peer_conversations": "keep"})
    assert f"Erasure #{erasure.pk} (ticket DSR-7) for this chat user is already awaiting_approval." in again.content.decode()
    assert ErasureRequest.objects.count() == 1


def test_a_hold_on_the_subject_blocks_the_new_request_and_the_page_names_it(client, chat, compliance, admin_user):
    hold = do_add_legal_hold(actor=admin_user, user=chat["uma"], reason="litigation 12")
    login(client, compliance)
    response = client.post(reverse("erasure:open"), {"user": "uma", "ticket": "DSR-1", "peer_conversations": "keep"}, follow=True)
    page = response.content.decode()
    assert "Blocked by a legal hold." in page and f"legal hold #{hold.pk}" in page and "litigation 12" in page
    assert ErasureRequest.objects.get().state == "blocked"
    # Resume is offered, and refused with the hold named while it stands.
    erasure = ErasureRequest.objects.get()
    response = client.post(reverse("erasure:resume", args=[erasure.pk]), follow=True)
    assert f"Erasure #{erasure.pk} was not resumed. The data subject is under legal hold #{hold.pk}" in response.content.decode()
    erasure.refresh_from_db()
    assert erasure.state == "blocked"
    do_release_legal_hold(hold, actor=admin_user)
    client.post(reverse("erasure:resume", args=[erasure.pk]))
    erasure.refresh_from_db()
    assert erasure.state == "awaiting_approval"


def test_only_compliance_officers_and_admins_get_the_form(client, chat, compliance, auditor, moderator, admin_user):
    assert login(client, compliance).get(reverse("erasure:open")).status_code == 200
    assert login(client, admin_user).get(reverse("erasure:open")).status_code == 200
    for who in (auditor, moderator):
        response = login(client, who).post(reverse("erasure:open"), {"user": "uma", "ticket": "X", "peer_conversations": "keep"})
        assert response.status_code == 403
    assert not ErasureRequest.objects.exists()


# --- the request page and its actions -------------------------------------------------------------


def test_the_requester_sees_why_she_cannot_approve_and_the_second_officer_gets_the_approval_page(client, chat, compliance, cora, auditor):
    erasure = opened(compliance)
    page = login(client, compliance).get(reverse("erasure:request", args=[erasure.pk])).content.decode()
    assert "You cannot approve or reject your own request: another staff member must." in page
    assert reverse("erasure:approve", args=[erasure.pk]) not in page
    assert reverse("erasure:export", args=[erasure.pk]) in page and reverse("erasure:cancel", args=[erasure.pk]) in page
    assert "hx-trigger" not in page  # nothing moves by itself while it waits

    page = login(client, cora).get(reverse("erasure:request", args=[erasure.pk])).content.decode()
    assert reverse("erasure:approve", args=[erasure.pk]) in page

    page = login(client, auditor).get(reverse("erasure:request", args=[erasure.pk])).content.decode()
    assert "Awaiting approval" in page and erasure.subject_pseudonym in page
    for name in ("approve", "export", "cancel", "resume"):
        assert reverse(f"erasure:{name}", args=[erasure.pk]) not in page, name


def test_the_approval_page_counts_what_will_be_erased_and_the_holds_that_keep_messages(client, chat, compliance, cora, admin_user):
    hold = do_add_legal_hold(actor=admin_user, conversation=chat["group"], end=T0 + 2 * HOUR, reason="case 9")
    erasure = opened(compliance, peer_conversations="delete")
    response = login(client, cora).get(reverse("erasure:approve", args=[erasure.pk]))
    forecast = response.context["forecast"]
    assert forecast["sent"]["messages"] == 4 and forecast["held"] == 2
    assert forecast["elsewhere"] == {"reactions": 1, "hides": 0, "pending_deliveries": 0, "memberships": 1}
    assert forecast["peers"] == {"conversations": 1, "others_messages": 2}
    page = response.content.decode()
    assert 'data-forecast="messages">4<' in page
    assert f"kept by legal hold #{hold.pk}" in page and "case 9" in page
    assert "1 one-to-one conversation goes on both sides, with the other person's 2 messages in them" in page
    assert "Approve and erase" in page and "Why reject it" in page
    assert Message.objects.filter(sender=chat["uma"]).count() == 6  # looking changes nothing


def test_self_approval_is_refused_with_the_domains_message_and_nothing_changes(client, chat, compliance):
    erasure = opened(compliance)
    login(client, compliance)
    page = client.get(reverse("erasure:approve", args=[erasure.pk])).content.decode()
    assert "You cannot approve or reject your own request" in page and "Approve and erase" not in page
    response = client.post(reverse("erasure:approve", args=[erasure.pk]))
    assert response["Location"] == reverse("erasure:approve", args=[erasure.pk])
    assert flashes(response) == [f"Erasure #{erasure.pk} was not approved. You cannot approve or reject your own request: another staff member must."]
    response = client.post(reverse("erasure:reject", args=[erasure.pk]), {"reason": "mine"})
    assert "was not rejected. You cannot approve or reject your own request" in flashes(response)[-1]
    erasure.refresh_from_db()
    assert (erasure.state, erasure.approved_by, erasure.rejected_by) == ("awaiting_approval", None, None)
    assert erasure_actions() == [("erasure.open", "cleo"), ("erasure.refused", "cleo"), ("erasure.refused", "cleo")]


def test_a_second_officer_approves_it_runs_and_the_page_polls_while_it_runs(client, chat, compliance, cora):
    erasure = opened(compliance)
    # The approver types the subject's id, as the requester named them: nothing else approves it.
    for typed, error in [("", "Type the confirmation to go ahead."), ("u-somebody", "“u-somebody” does not match.")]:
        response = login(client, cora).post(reverse("erasure:approve", args=[erasure.pk]), {"confirmation": typed})
        assert response.status_code == 400 and error in response.content.decode()
        erasure.refresh_from_db()
        assert erasure.state == "awaiting_approval" and erasure.approved_by is None
    response = client.post(reverse("erasure:approve", args=[erasure.pk]), {"confirmation": erasure.subject.external_id.upper()})
    assert response["Location"] == reverse("erasure:request", args=[erasure.pk])
    assert flashes(response) == [f"Erasure #{erasure.pk} approved: it runs on the worker; this page shows its progress."]
    erasure.refresh_from_db()
    assert (erasure.state, erasure.approved_by) == ("running", cora)
    page = client.get(reverse("erasure:request", args=[erasure.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page and "Running: step" in page
    live = client.get(reverse("erasure:request", args=[erasure.pk]), headers={"HX-Request": "true"}).content.decode()
    assert live.lstrip().startswith('<div id="erasure-live"') and "<html" not in live

    erasure = run_job(erasure)
    assert erasure.state == "done", erasure.error
    purge = erasure.purges.get()
    live = client.get(reverse("erasure:request", args=[erasure.pk]), headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in live  # the run ended: polling stops
    assert f'href="{reverse("jobs:detail", args=[purge.pk])}">#{purge.pk}</a>' in live
    assert 'data-deleted="messages">6<' in live and 'data-residue="messages"><span aria-hidden="true">✓</span> 0' in live
    assert "5 other people&#x27;s messages" in live
    assert reverse("erasure:certificate", args=[erasure.pk]) in live
    assert reverse("erasure:export", args=[erasure.pk]) not in live  # too late to export


def test_rejecting_needs_a_reason_and_the_request_page_shows_it(client, chat, compliance, cora):
    erasure = opened(compliance)
    login(client, cora)
    response = client.post(reverse("erasure:reject", args=[erasure.pk]), {"reason": "  "})
    assert response.status_code == 400
    assert "Say why the request is rejected" in response.content.decode() and 'aria-invalid="true"' in response.content.decode()
    erasure.refresh_from_db()
    assert erasure.state == "awaiting_approval"
    response = client.post(reverse("erasure:reject", args=[erasure.pk]), {"reason": "not the account holder"}, follow=True)
    page = response.content.decode()
    assert "Rejected by cora" in page and "“not the account holder”" in page
    erasure.refresh_from_db()
    assert (erasure.state, erasure.rejection_reason) == ("rejected", "not the account holder")


def test_the_requester_cancels_and_a_cancelled_request_cannot_be_cancelled_again(client, chat, compliance, cora):
    erasure = opened(compliance)
    response = login(client, compliance).post(reverse("erasure:cancel", args=[erasure.pk]))
    assert flashes(response) == [f"Erasure #{erasure.pk} cancelled."]
    erasure.refresh_from_db()
    assert erasure.state == "cancelled"
    response = client.post(reverse("erasure:cancel", args=[erasure.pk]))
    assert flashes(response)[-1] == f"Erasure #{erasure.pk} was not cancelled. This request is already cancelled."


def test_a_failed_request_lists_its_residue_and_offers_resume(client, chat, compliance, cora):
    erasure = do_approve_erasure(opened(compliance), actor=cora)
    ErasureRequest.objects.filter(pk=erasure.pk).update(
        state="failed", error="Residue left: reactions 1", residue={"messages": 0, "reactions": 1}
    )
    page = login(client, compliance).get(reverse("erasure:request", args=[erasure.pk])).content.decode()
    assert "Failed." in page and "Residue left: reactions 1" in page and "found 1 row of the subject left" in page
    assert 'class="residue--left"' in page and 'data-residue="reactions"><strong><span aria-hidden="true">✗</span> 1' in page
    assert reverse("erasure:resume", args=[erasure.pk]) in page


# --- what it hands out -------------------------------------------------------------------------------


def test_it_streams_the_subjects_export_and_the_domain_audits_it(client, chat, compliance, auditor):
    erasure = opened(compliance)
    response = login(client, compliance).post(reverse("erasure:export", args=[erasure.pk]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="erasure-{erasure.pk}-{erasure.subject_pseudonym}-export.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert {"manifest.json", "data.ndjson", "reactions.ndjson"} <= set(archive.namelist())
    assert json.loads(archive.read("manifest.json"))["counts"]["messages"] == 6
    assert erasure_actions()[-1] == ("erasure.export", "cleo")

    response = login(client, auditor).post(reverse("erasure:export", args=[erasure.pk]))
    assert flashes(response) == [f"The export of erasure #{erasure.pk} was refused. Only compliance officers and admins may export a data subject's data."]
    assert erasure_actions()[-1] == ("erasure.refused", "audrey")


def test_the_certificate_prints_and_downloads_signed_once_the_request_is_done(client, chat, compliance, cora, auditor):
    erasure = opened(compliance)
    response = login(client, auditor).get(reverse("erasure:certificate", args=[erasure.pk]))
    assert response["Location"] == reverse("erasure:request", args=[erasure.pk])
    assert "There is no certificate yet: the request is awaiting_approval" in flashes(response)[0]

    erasure = run_job(do_approve_erasure(erasure, actor=cora))
    assert erasure.state == "done", erasure.error
    page = client.get(reverse("erasure:certificate", args=[erasure.pk])).content.decode()
    assert "Certificate of erasure" in page and erasure.subject_pseudonym in page
    assert erasure.audit_hash_at_completion in page and erasure.certificate["signature"]["value"] in page
    assert "uma" not in page.replace(erasure.subject_pseudonym, "")  # the subject's id is gone from it
    response = client.get(reverse("erasure:certificate_json", args=[erasure.pk]))
    assert response["Content-Disposition"] == f'attachment; filename="erasure-{erasure.pk}-certificate.json"'
    assert verify(response.content).genuine
    assert erasure_actions()[-2:] == [("erasure.certificate", "audrey"), ("erasure.certificate", "audrey")]


def test_the_print_stylesheet_makes_one_a4_document():
    css = (Path(__file__).resolve().parent.parent / "static" / "chatsweep.css").read_text()
    assert "@page { size: A4;" in css
    printed = css[css.index("@media print"):]
    assert ".site-header, .site-footer" in printed and ".certificate-tools" in printed


def test_the_approvals_queue_lists_erasures_awaiting_approval(client, chat, compliance, cora, moderator):
    erasure = opened(compliance)
    page = login(client, cora).get(reverse("approvals:queue")).content.decode()
    assert f"Erasure #{erasure.pk} · chat user" in page and f"Review and decide #{erasure.pk}" in page
    page = login(client, compliance).get(reverse("approvals:queue")).content.decode()
    assert "You cannot approve or reject your own request" in page and "See what it would erase" in page
    assert f"Erasure #{erasure.pk}" not in login(client, moderator).get(reverse("approvals:queue")).content.decode()
