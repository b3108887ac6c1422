"""An erasure request in real Chromium against a live server, with a real RQ worker: a compliance
officer opens it and downloads the subject's data, a second officer approves it from the approvals
queue, the worker runs it (its purge a background job of its own), the request page follows it
by htmx polling to `done`, and the certificate prints as one A4 page and downloads signed. Each
step ends by checking the database. The screenshots 3x-*.png are taken here (tests/screenshots.py).
"""

import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from chatdata.erasure.actions import do_open_erasure
from chatdata.erasure.certificate import verify
from chatdata.models import AuditEntry, ChatUser, Conversation, ErasureRequest, Message
from chatdata.purge.holds import do_add_legal_hold
from tests.builders import make_conversation, make_user
from tests.screenshots import shot
from tests.test_browser_oversight import nav, open_as, staff
from tests.browser_purge_story import INLINE_LIMIT, bulk_history, worker  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True, reset_sequences=True)]

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def story(db, settings):
    settings.ERASURE_DEADLINE_DAYS = 30
    people = {"cleo": staff("cleo", "compliance"), "cora": staff("cora", "compliance"), "ada": staff("ada", "admin")}
    alice, bob, lina = make_user("u-alice", "Alice Archer"), make_user("u-bob", "Bob Baker"), make_user("u-lina", "李娜")
    others = [make_user(f"u-{name}", name.title()) for name in ("jonas", "mei", "omar")]
    team = make_conversation("group", [alice, bob, lina], external_id="g-launch", title="Launch team")
    peer = make_conversation("peer", [alice, bob], external_id="c2c_u-alice_u-bob", title="")
    # Alice wrote more than the worker runs inline: her purge is a background job with progress.
    bulk_history(team, [alice, bob, lina], [START + timedelta(hours=2 * i) for i in range(3 * INLINE_LIMIT)])
    bulk_history(peer, [alice, bob], [START + timedelta(hours=3 * i) for i in range(30)])
    held = make_conversation("group", [alice, lina], external_id="g-case-17", title="Case 17")
    bulk_history(held, [alice, lina], [START + timedelta(days=i) for i in range(6)])
    do_add_legal_hold(actor=people["ada"], conversation=held, reason="Case 2026-17: preserve for counsel")
    # Other requests on the desk: one overdue, one due soon, one fresh.
    now = timezone.now()
    for subject, ticket, days_ago in ((others[0], "DSR-2026-088", 33), (others[1], "DSR-2026-101", 26), (others[2], "DSR-2026-115", 3)):
        do_open_erasure(actor=people["cleo"], subject=subject, ticket=ticket, received_at=now - timedelta(days=days_ago))
    return {**people, "alice": alice, "bob": bob, "team": team, "peer": peer, "held": held}


def test_it_takes_an_erasure_from_intake_to_a_signed_certificate(browser, live_server, story, worker):
    alice = story["alice"]
    sent = Message.objects.filter(sender=alice).count()
    held = Message.objects.filter(sender=alice, conversation=story["held"]).count()

    # Intake: the overview, then the form (a bad id is explained next to its field, nothing opened).
    cleo = open_as(browser, live_server, "cleo")
    cleo.get_by_role("link", name="2 due within 7 days or overdue").wait_for()
    nav(cleo, "Compliance")
    cleo.get_by_text("Overdue by 3 days").wait_for()
    cleo.get_by_text("Due soon: 3 days left").wait_for()
    shot(cleo, "30-erasure-overview.png")
    cleo.get_by_role("link", name="Open a request").click()
    cleo.get_by_label("Data subject (chat user id)").fill("u-alicia")
    cleo.get_by_label("Ticket").fill("DSR-2026-117")
    cleo.get_by_label("Received").fill("2026-11-27T10:30")
    cleo.get_by_text("Delete: both sides go").click()
    cleo.get_by_label("Note").fill("Received by e-mail; identity checked against the account's phone number.")
    cleo.get_by_role("button", name="Open the request").click()
    cleo.get_by_text("No chat user with id u-alicia.").wait_for()
    assert cleo.get_by_label("Data subject (chat user id)").get_attribute("aria-invalid") == "true"
    assert ErasureRequest.objects.count() == 3
    cleo.get_by_label("Data subject (chat user id)").fill("u-alice")
    cleo.get_by_role("button", name="Open the request").click()
    cleo.wait_for_url("**/erasures/4/")
    erasure = ErasureRequest.objects.get(pk=4)
    assert (erasure.subject, erasure.state, erasure.peer_conversations) == (alice, "awaiting_approval", "delete")
    cleo.get_by_text("You cannot approve or reject your own request: another staff member must.").wait_for()
    shot(cleo, "31-erasure-awaiting-approval.png")

    # The subject's data, before it goes: a streamed ZIP, audited.
    with cleo.expect_download() as download:
        cleo.get_by_role("button", name="Download the subject's data (ZIP)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert json.loads(archive.read("manifest.json"))["counts"]["messages"] == sent
    assert AuditEntry.objects.filter(action="erasure.export", actor_name="cleo").count() == 1

    # A second officer decides from the approvals queue, on the approval page.
    cora = open_as(browser, live_server, "cora")
    nav(cora, "Approvals")
    cora.get_by_role("link", name="Review and decide #4").click()
    cora.get_by_text("Case 2026-17: preserve for counsel").wait_for()
    assert cora.locator('[data-forecast="messages"]').text_content() == str(sent - held)
    cora.get_by_role("button", name="Approve and erase").click()  # the subject's id is typed first
    cora.get_by_text("Type the confirmation to go ahead.").wait_for()
    assert cora.locator("#id_confirmation").get_attribute("aria-invalid") == "true"
    cora.get_by_label("Type to confirm").fill("u-alice")
    shot(cora, "32-erasure-approval.png")
    cora.get_by_role("button", name="Approve and erase").click()
    cora.wait_for_url("**/erasures/4/")
    cora.evaluate("window.stillHere = true")
    # The worker runs it; the page follows by htmx polling alone (same document) and then stops.
    cora.locator('#erasure-live[data-state="done"]').wait_for(timeout=90_000)
    assert cora.evaluate("window.stillHere") is True
    assert cora.locator("#erasure-live").get_attribute("hx-trigger") is None
    erasure.refresh_from_db()
    assert erasure.state == "done", erasure.error
    assert [(p.scope_kind, p.state, p.runs_inline) for p in erasure.purges.order_by("id")] == [
        ("user", "done", False), ("conversations", "done", True)]
    assert Message.objects.filter(sender_id=alice.pk).count() == held
    assert not Conversation.objects.filter(pk=story["peer"].pk).exists()
    assert ChatUser.objects.get(pk=alice.pk).external_id == erasure.subject_pseudonym
    assert cora.locator('[data-deleted="messages"]').text_content() == str(erasure.counts["messages"])
    assert all(cora.locator(f'[data-residue="{key}"]').text_content().strip().endswith("0") for key in erasure.residue)
    shot(cora, "33-erasure-request.png")

    # The certificate: one A4 page when printed, and the signed JSON that verifies.
    cora.get_by_role("link", name="Certificate", exact=True).click()
    cora.get_by_role("heading", name="Certificate of erasure").wait_for()
    cora.get_by_text(erasure.audit_hash_at_completion).wait_for()
    shot(cora, "34-erasure-certificate.png")
    cora.emulate_media(media="print")
    shot(cora, "35-erasure-certificate-print.png")
    pdf = cora.pdf(prefer_css_page_size=True)
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1  # one A4 page
    cora.emulate_media(media="screen")
    with cora.expect_download() as download:
        cora.get_by_role("link", name="Signed certificate (JSON)").click()
    assert verify(Path(download.value.path()).read_bytes()).genuine
    assert AuditEntry.objects.filter(action="erasure.certificate", actor_name="cora").count() == 2

    # Back at the overview, the done request has left the open ones; the requester sees it done.
    cleo.goto(f"{live_server.url}/erasures/4/")
    cleo.get_by_text("the residue check found nothing of the subject outside legal holds").wait_for()
    cleo.goto(f"{live_server.url}/erasures/?show=pending")
    assert cleo.locator("#erasure-4").count() == 0
