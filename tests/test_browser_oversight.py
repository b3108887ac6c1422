"""The oversight flows in real Chromium against a live server: four-eyes approval, a legal hold
that a later preview leaves out, the audit log filtered and exported. Each flow ends by checking
the database, not only the page. The screenshots 2x-*.png are taken here (tests/screenshots.py).

Every purge here stays under PURGE_INLINE_LIMIT, so approving runs it inside the request and no
RQ worker is needed (tests/test_browser_purge_*.py drive the background runs with a real one).
"""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from chatdata import roles
from chatdata.models import AuditEntry, LegalHold, Message, PurgeRequest
from chatdata.purge.actions import PurgeRefused, do_execute_purge, do_preview_purge
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.scopes import ConversationScope, PurgeSpec, RangeScope, UserScope
from tests.builders import make_conversation, make_message, make_user
from tests.browser import sign_in
from tests.conftest import PASSWORD
from tests.screenshots import shot

# reset_sequences: request and hold numbers start at 1, so the screenshots do not depend on test order.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, reset_sequences=True)]

ZONE = "Europe/Berlin"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
BODIES = [
    "Morning! Is the release checklist ready?", "Almost, two items left. 👍", "发布会改到周五下午三点了。",
    "Können wir das Meeting auf morgen verschieben?", "BUY CHEAP FOLLOWERS >>> spam.example", "收到，我来检查一下。",
    "The budget meeting moved to Friday.", "Great work everyone! 🎉",
]


def staff(username, role):
    user = User.objects.create_user(username, password=PASSWORD)
    # get_or_create: an earlier transactional test's flush removed the groups the migration made.
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def story(db, settings):
    settings.TIME_ZONE = ZONE
    settings.PURGE_APPROVAL_THRESHOLD = 10  # the team's 24 messages need a second moderator
    people = {
        "mona": staff("mona", roles.MODERATOR), "max": staff("max", roles.MODERATOR),
        "cleo": staff("cleo", roles.COMPLIANCE), "audrey": staff("audrey", roles.AUDITOR),
    }
    alice, bob, lina = make_user("u-alice", "Alice Archer"), make_user("u-bob", "Bob Baker"), make_user("u-lina", "李娜")
    team = make_conversation("group", [alice, bob, lina], external_id="g-launch", title="Launch team")
    lobby = make_conversation("group", [alice, bob], external_id="g-lobby", title="Lobby")
    senders = [alice, bob, lina]
    for i in range(24):
        make_message(team, senders[i % 3], sent_at=START + timedelta(hours=6 * i), body=BODIES[i % len(BODIES)])
    for i in range(5):
        make_message(lobby, bob, sent_at=START + timedelta(days=i), body="See you in the lobby")
    return {**people, "alice": alice, "bob": bob, "team": team, "lobby": lobby}


def open_as(browser, live_server, username):
    """A fresh browser context (own cookies) logged in as `username`."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server, username)
    return page


def nav(page, name):
    """A link of the main navigation by its name (its count, as in "Approvals 1", aside)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(rf"^{re.escape(name)}\b")).click()


def preview_whole_conversation(page, live_server, conversation, reason):
    """Part A's page: delete every message of a conversation for everyone, up to the preview."""
    page.goto(f"{live_server.url}/conversations/{conversation.pk}/")
    page.get_by_text("The whole conversation").click()
    form = page.locator("#purge-whole")
    form.get_by_text("Delete every message for everyone (the conversation stays)").click()
    form.get_by_label("Reason").fill(reason)
    form.get_by_role("button", name="Preview…").click()
    page.wait_for_url("**/purge/*/")
    return PurgeRequest.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))


def test_it_refuses_a_request_to_its_requester_and_runs_it_once_a_second_moderator_approves(browser, live_server, story):
    team = story["team"]
    mona = open_as(browser, live_server, "mona")
    purge = preview_whole_conversation(mona, live_server, team, "Spam wave in the launch channel")
    assert (purge.state, purge.needs_approval, purge.total_messages) == ("previewed", True, 24)
    mona.get_by_label("Type to confirm").fill("Launch team")
    mona.get_by_role("button", name="Submit for approval").click()
    mona.wait_for_url(f"**/jobs/{purge.pk}/")
    purge.refresh_from_db()
    assert purge.state == "awaiting_approval"

    # The requester sees the request in the queue, with the reason instead of buttons ...
    nav(mona, "Approvals")
    card = mona.locator(f"#request-{purge.pk}")
    card.get_by_text("You cannot approve or reject your own request: another staff member must.").wait_for()
    assert card.get_by_role("button").count() == 0
    shot(mona, "20-approvals-requester.png")
    # ... and a hand-made POST (the button she does not have) is refused with that message, not a 500.
    token = next(c["value"] for c in mona.context.cookies() if c["name"] == "csrftoken")
    response = mona.request.post(f"{live_server.url}/approvals/{purge.pk}/approve/", headers={"X-CSRFToken": token, "Referer": live_server.url})
    assert response.status == 200 and f"Request #{purge.pk} was not approved. You cannot approve" in response.text()
    purge.refresh_from_db()
    assert purge.state == "awaiting_approval" and purge.approved_by is None
    assert Message.objects.filter(conversation=team).count() == 24

    # A second moderator: the navigation counts what waits for them; a reject needs a reason (blank is
    # refused next to the field); approving is on the review page, after the requester's preview.
    max_ = open_as(browser, live_server, "max")
    assert max_.locator("[data-nav-count='approvals']").text_content().startswith("1")
    assert mona.locator("[data-nav-count='approvals']").count() == 0  # her own request waits for others
    nav(max_, "Approvals")
    card = max_.locator(f"#request-{purge.pk}")
    assert card.get_by_role("link", name=f"Review and decide #{purge.pk}").is_visible()
    assert card.get_by_role("button", name=re.compile("Approve")).count() == 0  # never one click
    shot(max_, "21-approvals.png")
    card.get_by_label("Why reject it").fill("   ")
    card.get_by_role("button", name=f"Reject #{purge.pk}").click()
    max_.get_by_text("Say why the request is rejected: the requester and the audit log see it.").wait_for()
    assert max_.get_by_label("Why reject it").get_attribute("aria-invalid") == "true"
    shot(max_, "22-reject-needs-a-reason.png")
    purge.refresh_from_db()
    assert purge.state == "awaiting_approval"

    nav(max_, "Approvals")
    max_.get_by_role("link", name=f"Review and decide #{purge.pk}").click()
    max_.wait_for_url(f"**/approvals/{purge.pk}/")
    # What mona saw: the counts, the histogram, the first and last messages, the holds.
    assert max_.locator("[data-count='messages']").text_content() == "24"
    assert max_.get_by_role("img", name=re.compile("Affected messages per day")).is_visible()
    assert max_.get_by_text("First messages").is_visible() and max_.get_by_text("Last messages").is_visible()
    assert max_.get_by_text("No legal hold covers these messages.").is_visible()
    # The same typed confirmation as the requester: a wrong one changes nothing.
    max_.get_by_label("Type to confirm").fill("Launch")
    max_.get_by_role("button", name=f"Approve and run #{purge.pk}").click()
    max_.get_by_text("“Launch” does not match.").wait_for()
    purge.refresh_from_db()
    assert purge.state == "awaiting_approval"
    max_.get_by_label("Type to confirm").fill("")
    shot(max_, "40-approver-preview.png")
    max_.get_by_label("Type to confirm").fill("launch team")
    max_.get_by_role("button", name=f"Approve and run #{purge.pk}").click()
    max_.get_by_text(f"Request #{purge.pk} approved and run: 24 messages handled.").wait_for()
    max_.get_by_text("Nothing is waiting for approval.").wait_for()
    shot(max_, "23-approvals-approved.png")
    purge.refresh_from_db()
    assert (purge.state, purge.approved_by.username, purge.result["messages"]) == ("done", "max", 24)
    assert not Message.objects.filter(conversation=team).exists()
    assert Message.objects.filter(conversation=story["lobby"]).count() == 5
    trail = list(AuditEntry.objects.filter(purge_request_id=purge.pk).order_by("id").values_list("action", "actor_name"))
    assert trail == [("purge.preview", "mona"), ("purge.submit", "mona"), ("purge.refused", "mona"),
                     ("purge.approve", "max"), ("purge.start", "max"), ("purge.complete", "system")]

    # Mona is told, in the navigation and on her notices page, newest first.
    mona.reload()
    assert mona.locator("[data-nav-count='notices']").text_content().startswith("2")
    mona.get_by_role("link", name=re.compile(r"^Notices")).click()
    items = mona.locator(".notice-item__title")
    assert items.nth(0).text_content().split("·")[0].split() == ["new", "Purge", "request", f"#{purge.pk}", "finished"]
    assert items.nth(1).text_content().split("·")[0].split() == ["new", "Purge", "request", f"#{purge.pk}", "approved", "by", "max"]
    shot(mona, "42-notices.png")
    mona.get_by_role("button", name="Mark all as read").click()
    mona.get_by_text("All read").wait_for()
    assert mona.locator("[data-nav-count='notices']").count() == 0


def test_it_places_a_hold_that_the_next_preview_leaves_out_then_releases_it(browser, live_server, story):
    team, alice = story["team"], story["alice"]
    cleo = open_as(browser, live_server, "cleo")
    nav(cleo, "Legal holds")
    cleo.get_by_text("No legal hold is active").wait_for()
    cleo.get_by_role("link", name="Place a legal hold").click()
    # Bad input first: an unknown user, an end before the start, no reason. Nothing is placed.
    cleo.get_by_label("External id").fill("u-alicia")
    cleo.get_by_label("From").fill("2026-03-06T00:00")
    cleo.get_by_label("Until").fill("2026-03-03T00:00")
    cleo.get_by_role("button", name="Place the hold").click()
    for error in ("No chat user has the external id “u-alicia”.", "The end must be after the start.",
                  "A legal hold needs a reason (the matter or case it serves)."):
        cleo.get_by_text(error).wait_for()
    shot(cleo, "24-hold-errors.png")
    assert not LegalHold.objects.exists()

    cleo.get_by_label("External id").fill("u-alice")
    cleo.get_by_label("Until").fill("2026-03-06T00:00")
    cleo.get_by_label("From").fill("2026-03-03T00:00")
    cleo.get_by_label("Reason").fill("Case 2026-31: harassment complaint, preserve Alice's messages")
    cleo.get_by_role("button", name="Place the hold").click()
    cleo.wait_for_url("**/holds/")
    hold = LegalHold.objects.get()
    # The window was typed in Berlin time (UTC+1 in March before the change).
    assert (hold.user, hold.start, hold.end) == (alice, datetime(2026, 3, 2, 23, tzinfo=UTC), datetime(2026, 3, 5, 23, tzinfo=UTC))
    held = Message.objects.filter(sender=alice, sent_at__gte=hold.start, sent_at__lt=hold.end).count()
    assert held > 0
    row = cleo.locator(f"#hold-{hold.pk}")
    assert row.locator("td.num strong").text_content() == str(held)
    cleo.get_by_text(f"Legal hold #{hold.pk} placed on user u-alice: {held} messages are kept from every deletion.").wait_for()
    do_add_legal_hold(actor=story["cleo"], conversation=story["lobby"], reason="Case 2026-12: lobby export for counsel")
    cleo.reload()
    shot(cleo, "25-holds.png")

    # A moderator's preview of the whole team conversation now leaves Alice's held messages out.
    mona = open_as(browser, live_server, "mona")
    purge = preview_whole_conversation(mona, live_server, team, "Close the launch channel")
    mona.get_by_text(f"{held} message{'s' if held != 1 else ''} kept under legal hold").wait_for()
    assert (purge.preview["excluded_by_hold"], purge.preview["messages"]) == (held, 24 - held)
    assert purge.preview["holds"][0]["id"] == hold.pk
    shot(mona, "26-preview-excludes-held.png")

    # Released from the list (the reason is required), the hold keeps nothing any more.
    row.get_by_label(f"Why release hold #{hold.pk}").fill("Case closed by counsel on 2026-04-01")
    row.get_by_role("button", name="Release").click()
    cleo.get_by_text(f"Legal hold #{hold.pk} on user u-alice released.").wait_for()
    hold.refresh_from_db()
    assert (hold.is_active, hold.released_by.username, hold.release_reason) == (False, "cleo", "Case closed by counsel on 2026-04-01")
    assert list(AuditEntry.objects.filter(action__startswith="hold.").values_list("action", flat=True).order_by("id")) == [
        "hold.add", "hold.add", "hold.release"]


def test_the_user_and_conversation_pages_show_a_hold_and_an_erasure_goes_on_without_it(browser, live_server, story):
    alice, team = story["alice"], story["team"]
    hold = do_add_legal_hold(actor=story["cleo"], user=alice, start=datetime(2026, 3, 2, 23, tzinfo=UTC),
                             end=datetime(2026, 3, 5, 23, tzinfo=UTC), reason="Case 2026-31: harassment complaint")
    held = Message.objects.filter(sender=alice, sent_at__gte=hold.start, sent_at__lt=hold.end).count()
    assert 0 < held < Message.objects.filter(sender=alice).count()

    # A moderator sees the banner (in Berlin time, never ISO) but no link to place a hold.
    mona = open_as(browser, live_server, "mona")
    mona.goto(f"{live_server.url}/users/{alice.pk}/")
    banner = mona.get_by_role("region", name="This user is under legal hold")
    assert f"It keeps {held} messages" in banner.text_content()
    assert "from 3 Mar 2026, 00:00 CET until 6 Mar 2026, 00:00 CET" in banner.text_content()
    assert "placed by cleo" in banner.text_content() and "T00:00" not in banner.text_content()
    assert mona.get_by_role("link", name="Place a legal hold").count() == 0
    mona.goto(f"{live_server.url}/conversations/{team.pk}/")
    banner = mona.get_by_role("region", name="Legal holds keep some of this conversation's messages")
    assert f"It keeps {held} messages of this conversation" in banner.text_content()

    # A compliance officer gets the link from both pages, the form filled in.
    cleo = open_as(browser, live_server, "cleo")
    cleo.goto(f"{live_server.url}/users/{alice.pk}/")
    shot(cleo, "41-hold-banner.png", full_page=False)
    cleo.get_by_role("link", name="Place a legal hold").click()
    assert cleo.get_by_label("External id").input_value() == "u-alice"
    cleo.goto(f"{live_server.url}/conversations/{team.pk}/")
    cleo.get_by_role("link", name="Place a legal hold").click()
    assert cleo.get_by_label("External id").input_value() == "g-launch"

    # An erasure of Alice is blocked: the hold in local dates, the count held, and a way on.
    nav(cleo, "Compliance")
    cleo.get_by_role("link", name="Open a request").click()
    cleo.get_by_label("Data subject (chat user id)").fill("u-alice")
    cleo.get_by_label("Ticket").fill("DSR-2026-140")
    cleo.get_by_role("button", name="Open the request").click()
    cleo.get_by_text("Blocked by a legal hold.").wait_for()
    alert = cleo.get_by_role("alert").filter(has_text="Blocked by a legal hold.")
    assert f"which keeps {held} messages" in alert.text_content() and "3 Mar 2026, 00:00 CET" in alert.text_content()
    cleo.get_by_role("button", name="Erase everything not held…").click()
    cleo.get_by_text("now erases everything the legal hold does not keep").wait_for()
    cleo.get_by_text("Waiting for a second compliance officer").wait_for()
    assert AuditEntry.objects.filter(action="erasure.outside_holds", actor_name="cleo").count() == 1


def test_it_filters_the_audit_log_and_exports_it(browser, live_server, story):
    mona, cleo = story["mona"], story["cleo"]
    # What a morning leaves in the log, through the engine's actions as the pages call them.
    open_as(browser, live_server, "mona").context.close()  # a real login
    lobby = do_preview_purge(PurgeSpec(ConversationScope(story["lobby"].pk), "delete_for_everyone"), actor=mona,
                             reason="Spam wave", ticket="MOD-412")
    do_execute_purge(lobby, actor=mona)  # 5 messages: runs at once (start, then the system's complete)
    do_preview_purge(PurgeSpec(RangeScope(story["team"].pk, end=START + timedelta(days=1)), "delete_for_everyone"),
                     actor=mona, reason="Duplicate announcement")
    with pytest.raises(PurgeRefused):  # a moderator may not erase a user: refused, and audited
        do_preview_purge(PurgeSpec(UserScope(story["bob"].pk), "delete_for_everyone"), actor=mona, reason="Bob asked")
    do_add_legal_hold(actor=cleo, user=story["bob"], reason="Case 2026-40")

    audrey = open_as(browser, live_server, "audrey")
    nav(audrey, "Audit log")
    audrey.get_by_text("chain intact").wait_for()
    assert audrey.get_by_role("button", name="Export CSV").count() == 0  # auditors read, they do not export
    shot(audrey, "27-audit.png")

    page = open_as(browser, live_server, "cleo")
    nav(page, "Audit log")
    page.get_by_label("Actor").fill("mona")
    page.get_by_label("Action").select_option(label="Any purge action")
    page.get_by_label("From").fill("2020-01-01")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/audit/\?actor=mona&action=purge\.\*&"))
    expected = list(AuditEntry.objects.filter(actor=mona, action__startswith="purge.").order_by("-id").values_list("id", flat=True))
    shown = [int(i.removeprefix("entry-")) for i in page.locator("table.audit tbody tr").evaluate_all("rows => rows.map(r => r.id)")]
    assert shown == expected and len(shown) == 4
    shot(page, "28-audit-filtered.png")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert download.value.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["id"]) for r in rows] == sorted(expected)
    assert [(r["actor"], r["action"], r["reason"]) for r in rows] == [
        ("mona", "purge.preview", "Spam wave"), ("mona", "purge.start", "Spam wave"),
        ("mona", "purge.preview", "Duplicate announcement"),
        ("mona", "purge.refused", "Only compliance officers may purge a user's data (an erasure)."),
    ]
    assert json.loads(rows[1]["counts"])["messages"] == 5 and rows[1]["ticket"] == "MOD-412"
    assert all(r["hash"] == AuditEntry.objects.get(pk=r["id"]).hash for r in rows)
    export = AuditEntry.objects.filter(action="audit.export").get()
    assert (export.actor, export.counts, export.scope["format"]) == (cleo, {"entries": 4}, "csv")
    assert export.scope["filters"] == {"actor": "mona", "action": "purge.*", "since": "2020-01-01"}

    with page.expect_download() as download:
        page.get_by_role("button", name="Export JSON lines").click()
    documents = [json.loads(line) for line in Path(download.value.path()).read_text(encoding="utf-8").splitlines()]
    assert [d["id"] for d in documents] == sorted(expected)
    assert AuditEntry.objects.filter(action="audit.export").count() == 2

    page.get_by_role("link", name="Verify the whole chain").click()
    total = AuditEntry.objects.count()
    page.get_by_text(f"All {total} entries verified.").wait_for()
    shot(page, "29-audit-verify.png")
