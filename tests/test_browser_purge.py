"""The deletion workflow in real Chromium against a live server, with a real RQ worker.

The worker is `manage.py rqworker default` (a long-running worker, as in production: `--burst`
would exit before the job page had anything to poll), started on the test database with this
test's Redis and purge limits, and killed at teardown. Each flow ends by checking the database,
not only the page. The screenshots 1x-*.png are taken here (tests/screenshots.py).
"""

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from chatdata import roles
from chatdata.models import Conversation, LegalHold, Membership, Message, PurgeItem, PurgeRequest, Reaction
from chatdata.purge.selection import selected_ids
from chatdata.purge.actions import do_cancel_purge, do_execute_purge, do_preview_purge
from chatdata.purge.scopes import ConversationScope, PurgeSpec, RangeScope, UserScope
from tests.builders import make_conversation, make_user
from tests.conftest import PASSWORD
from tests.polling import wait_for
from tests.screenshots import shot

# reset_sequences: request numbers start at 1 in every test, so the screenshots do not depend on test order.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True, reset_sequences=True)]

ROOT = Path(__file__).resolve().parent.parent
INLINE_LIMIT = 40  # above this many messages a purge goes to the worker
BATCH_SIZE = 5  # small batches: a run of a few hundred messages takes long enough to watch
ZONE = "Europe/Berlin"
BODIES = [
    "Can someone check ticket 4411?", "Refund issued, closing.", "客户说订单还没到。", "Escalating to tier 2.",
    "Danke, erledigt!", "Customer sent a photo of the damage.", "Please stop spamming this channel 🙄",
    "Shipping label reprinted.", "Is the outage over?", "Yes, all systems green ✅",
]


def database_url():
    db = connection.settings_dict  # NAME is the test database here
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(settings, redis_conn, media_root, tmp_path):
    """A real RQ worker on the test database, with the same purge limits as the live server."""
    settings.PURGE_INLINE_LIMIT = INLINE_LIMIT
    settings.PURGE_BATCH_SIZE = BATCH_SIZE
    settings.TIME_ZONE = ZONE
    env = dict(
        os.environ,
        DATABASE_URL=database_url(),
        REDIS_URL=os.environ["REDIS_URL"],
        MEDIA_ROOT=str(media_root),
        PURGE_INLINE_LIMIT=str(INLINE_LIMIT),
        PURGE_BATCH_SIZE=str(BATCH_SIZE),
        TIME_ZONE=ZONE,
    )
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default"],
        cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    groups = {process.pid}
    if process.poll() is None:
        groups |= {os.getpgid(child.pid) for child in psutil.Process(process.pid).children(recursive=True)}
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=30)
    log.close()


def pause_worker(process, pause):
    """Stop (or continue) the worker and its work horse, which RQ puts in a group of its own."""
    for pid in [process.pid] + [child.pid for child in psutil.Process(process.pid).children(recursive=True)]:
        os.kill(pid, signal.SIGSTOP if pause else signal.SIGCONT)



def staff(username, role):
    user = User.objects.create_user(username, password=PASSWORD)
    # get_or_create: an earlier transactional test's flush removed the groups the migration made.
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def bulk_history(conversation, senders, moments):
    """Messages at `moments`, bodies and senders in turn, in one INSERT."""
    rows = Message.objects.bulk_create(
        Message(external_id=f"{conversation.external_id}-m{i}", conversation=conversation, sender=senders[i % len(senders)],
                sent_at=at, body=BODIES[i % len(BODIES)])
        for i, at in enumerate(moments)
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=max(moments))
    return rows


@pytest.fixture
def story(db):
    mona = staff("mona", roles.MODERATOR)
    alice, bob = make_user("u-alice", "Alice Archer"), make_user("u-bob", "Bob Baker")
    lina, jurgen = make_user("u-lina", "李娜"), make_user("u-jurgen", "Jürgen Schmidt")
    team = make_conversation("group", [alice, bob, lina, jurgen], external_id="g-launch", title="Launch team")
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    team_messages = bulk_history(team, [alice, bob, lina, jurgen], [start + timedelta(hours=3 * i) for i in range(30)])
    # Support archive: four months of a busy help desk, weekday peaks and a quiet Christmas.
    archive = make_conversation("group", [alice, bob, lina], external_id="g-support-archive", title="Support archive")
    moments, day = [], datetime(2025, 12, 1, 7, 0, tzinfo=UTC)
    while day < datetime(2026, 3, 1, tzinfo=UTC):
        per_day = 1 if day.month == 12 and day.day > 22 else (6 + (day.day * 7) % 10 if day.weekday() < 5 else 2)
        moments += [day + timedelta(minutes=41 * k) for k in range(per_day)]
        day += timedelta(days=1)
    archive_messages = bulk_history(archive, [alice, bob, lina], moments)
    Reaction.objects.bulk_create(Reaction(message=m, user=bob, emoji="👍") for m in archive_messages[::9])
    # For the batch: two to delete and one room under a legal hold.
    old = make_conversation("group", [alice, bob], external_id="g-old-announcements", title="Old announcements")
    bulk_history(old, [alice], [datetime(2025, 6, 1, 9, tzinfo=UTC) + timedelta(days=i) for i in range(25)])
    peer = make_conversation("peer", [bob, lina], external_id="c2c_u-bob_u-lina", title="")
    bulk_history(peer, [bob, lina], [datetime(2025, 9, 1, 9, tzinfo=UTC) + timedelta(hours=i) for i in range(20)])
    lobby = make_conversation("room", [alice, bob, lina], external_id="r-lobby", title="Lobby 💬")
    bulk_history(lobby, [lina], [datetime(2025, 10, 1, 9, tzinfo=UTC) + timedelta(hours=i) for i in range(6)])
    LegalHold.objects.create(kind="conversation", conversation=lobby, subject_external_id="r-lobby",
                             reason="Case 2026-17: preserve the lobby", created_by=mona)
    return {"team": team, "team_messages": team_messages, "archive": archive, "archive_messages": archive_messages,
            "old": old, "peer": peer, "lobby": lobby, "bob": bob}


def mona():
    return User.objects.get(username="mona")


def log_in(page, live_server, username="mona"):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")


def request_id(page):
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def wait_until_done(page, purge_pk):
    """The job page reaches `done` by htmx polling alone (same document), then stops polling."""
    page.locator('#job-live[data-state="done"]').wait_for(timeout=60_000)
    assert page.evaluate("window.stillHere") is True
    assert page.locator("#job-live").get_attribute("hx-trigger") is None
    assert PurgeRequest.objects.get(pk=purge_pk).state == "done"


def test_it_selects_a_run_of_messages_and_deletes_them(page, live_server, story, worker):
    log_in(page, live_server)
    page.goto(f"{live_server.url}/conversations/{story['team'].pk}/")
    boxes = page.locator("#timeline-messages .select-box")
    boxes.nth(1).click()
    boxes.nth(4).click(modifiers=["Shift"])  # a run: the 2nd to the 5th newest
    boxes.nth(7).click()
    assert page.locator("[data-selection-count='purge-selection']").text_content() == "5 selected"
    selection = page.locator("#purge-selection")
    selection.get_by_label("Reason").fill("Spam burst reported by Alice")
    selection.get_by_label("Ticket").fill("MOD-311")
    newest = list(Message.objects.filter(conversation=story["team"]).order_by("-sent_at", "-id").values_list("id", flat=True))
    chosen = {newest[i] for i in (1, 2, 3, 4, 7)}
    page.locator("#purge-selection").evaluate("form => window.scrollTo(0, form.getBoundingClientRect().top + window.scrollY - 12)")
    shot(page, "10-select-messages.png", full_page=False)

    selection.get_by_role("button", name="Preview…").click()
    page.wait_for_url("**/purge/*/")
    purge_pk = request_id(page)
    assert set(PurgeRequest.objects.get(pk=purge_pk).spec["scope"]["ids"]) == chosen
    # The confirmation is a few Tab stops from the top (issue 14, item 10: it was 14, and each
    # message of the page cost 3 more): the second stop is a skip link to it.
    page.locator("body").focus()
    for _ in range(2):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the confirmation"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "id_confirmation"
    page.keyboard.type("Launch team")
    page.get_by_role("button", name="Delete 5 messages").click()
    page.wait_for_url(f"**/jobs/{purge_pk}/")
    page.get_by_text("Done: 5 of 5 messages handled.").wait_for()
    remaining = set(Message.objects.filter(conversation=story["team"]).values_list("id", flat=True))
    assert remaining == set(newest) - chosen

    # Back (issue 14, item 4): the browser asks again instead of showing the cached "Previewed"
    # page with a live "Delete 5 messages" button.
    page.go_back()
    page.wait_for_url(re.compile(rf"/purge/{purge_pk}/(#.*)?$"))
    assert page.get_by_role("button", name="Delete 5 messages").count() == 0


def test_a_selection_of_more_boxes_than_django_takes_fields_posts_and_previews(page, live_server, story, settings):
    # Issue 14, item 1: 1,150 ticked boxes were 1,150 fields and Django's TooManyFieldsSent (400)
    # lost the selection and the reason. Here Django takes at most 10 fields; 30 boxes are ticked.
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    log_in(page, live_server)
    page.goto(f"{live_server.url}/conversations/{story['team'].pk}/")
    page.get_by_label("All shown").check()
    boxes = page.locator("#timeline-messages .select-box")
    shown = {int(v) for v in boxes.evaluate_all("boxes => boxes.map(b => b.value)")}
    assert page.locator("[data-selection-count='purge-selection']").text_content() == f"{len(shown)} selected"
    page.locator("#purge-selection").get_by_label("Reason").fill("Raid cleanup")
    page.locator("#purge-selection").get_by_role("button", name="Preview…").click()
    page.wait_for_url("**/purge/*/")
    assert set(PurgeRequest.objects.get(pk=request_id(page)).spec["scope"]["ids"]) == shown
    assert len(shown) > 10


def test_the_selection_survives_back_older_pages_and_the_preview(page, live_server, story):
    # Issue 14, item 8: Back lost the ticks made in "Older messages" while the counter said "Tick
    # messages below"; the preview had no "Change selection". Ticks are kept on the server now.
    log_in(page, live_server)
    archive = story["archive"]
    url = f"{live_server.url}/conversations/{archive.pk}/"
    page.goto(url)
    boxes = page.locator("#timeline-messages .select-box")
    counter = page.locator("[data-selection-count='purge-selection']")
    first_page = boxes.count()
    boxes.nth(0).click()
    boxes.nth(1).click()
    page.get_by_role("link", name="↓ Older messages").click()
    boxes.nth(first_page).wait_for()
    boxes.nth(first_page + 3).click()
    assert counter.text_content() == "3 selected"
    chosen = [int(boxes.nth(i).get_attribute("value")) for i in (0, 1, first_page + 3)]
    wait_for(lambda: sorted(selected_ids(mona(), "messages", archive.pk)) == sorted(chosen), "the three ticks kept")

    page.goto(f"{live_server.url}/jobs/")
    page.go_back()
    page.wait_for_url(url)
    assert boxes.nth(0).is_checked() and boxes.nth(1).is_checked() and not boxes.nth(2).is_checked()
    assert counter.text_content() == "3 selected"  # the one on the older page counts too

    page.locator("#purge-selection").get_by_label("Reason").fill("Phishing links, ticket MOD-412")
    page.locator("#purge-selection").get_by_role("button", name="Preview…").click()
    page.wait_for_url("**/purge/*/")
    assert sorted(PurgeRequest.objects.get(pk=request_id(page)).spec["scope"]["ids"]) == sorted(chosen)
    page.get_by_role("link", name="Change selection").click()
    page.wait_for_url(f"{url}#selection-heading")
    assert counter.text_content() == "3 selected" and boxes.nth(1).is_checked()
    shot(page, "18-selection-kept.png", full_page=False)

    page.get_by_role("button", name="Clear selection").click()
    assert not boxes.nth(0).is_checked() and counter.text_content().startswith("Tick messages below")
    wait_for(lambda: selected_ids(mona(), "messages", archive.pk) == [], "the selection cleared")


def test_support_sees_its_cap_beside_the_counter_before_posting(page, live_server, story, settings):
    # Issue 14, item 9: the counter said "50 selected"; the cap appeared only after the POST.
    settings.PURGE_SUPPORT_MAX_MESSAGES = 3
    staff("sam", roles.SUPPORT)
    log_in(page, live_server, "sam")
    page.goto(f"{live_server.url}/conversations/{story['team'].pk}/")
    boxes = page.locator("#timeline-messages .select-box")
    counter = page.locator("[data-selection-count='purge-selection']")
    boxes.nth(0).click()
    assert counter.text_content() == "1 selected of at most 3 to delete for everyone"
    for i in range(1, 5):
        boxes.nth(i).click()
    assert counter.text_content().startswith("5 selected: your role deletes at most 3 for everyone")
    assert "selection-count--over" in counter.get_attribute("class")


def test_the_timeline_marks_the_messages_inside_the_chosen_range(page, live_server, story, settings):
    # Issue 14, item 10: the range was counted beside the timeline but not shown in it.
    settings.TIME_ZONE = ZONE
    team = story["team"]
    log_in(page, live_server)
    page.goto(f"{live_server.url}/conversations/{team.pk}/")
    page.get_by_text("By time range").click()
    page.locator("#purge-range").get_by_label(f"Before ({ZONE})").fill("2026-03-03T09:00")  # 08:00 UTC
    expected = {m.pk for m in Message.objects.filter(conversation=team, sent_at__lt=datetime(2026, 3, 3, 8, tzinfo=UTC))}
    page.locator("#range-preview [data-count='messages']").filter(has_text=str(len(expected))).wait_for()
    marked = page.locator("#timeline-messages li.message--in-range")
    assert {int(i) for i in marked.evaluate_all("items => items.map(i => i.dataset.messageId)")} == expected
    assert marked.first.locator(".message__time").evaluate("a => getComputedStyle(a, '::after').content") == '" · in the range"'
    marked.first.scroll_into_view_if_needed()
    shot(page, "11b-range-marked-in-timeline.png", full_page=False)


def test_the_whole_conversation_form_counts_live(page, live_server, story):
    # Issue 14, item 10: the whole-conversation form had no live counts.
    team = story["team"]
    log_in(page, live_server)
    page.goto(f"{live_server.url}/conversations/{team.pk}/")
    page.get_by_text("The whole conversation").click()
    form, panel = page.locator("#purge-whole"), page.locator("#whole-preview")
    form.get_by_label("Delete every message for everyone (the conversation stays)").check()
    panel.locator("[data-count='messages']").filter(has_text="30").wait_for()
    form.get_by_label("Clear the history for one member").check()
    form.locator("select[name=member]").select_option(label="Bob Baker (u-bob)")
    panel.get_by_text("Irreversible").wait_for(state="detached")
    assert panel.locator("[data-count='messages']").first.text_content() == "30"  # hidden for Bob: the rows stay
    assert PurgeRequest.objects.count() == 0  # counted, nothing requested


def test_it_previews_a_time_range_live_and_watches_the_background_run(page, live_server, story, worker):
    archive = story["archive"]
    log_in(page, live_server)
    page.goto(f"{live_server.url}/conversations/{archive.pk}/")
    page.get_by_text("By time range").click()
    form = page.locator("#purge-range")
    form.get_by_text("Between two moments").click()
    form.get_by_label(f"From ({ZONE})").fill("2026-01-05T00:00")
    form.get_by_label(f"Before ({ZONE})").fill("2026-02-16T00:00")
    # Berlin is UTC+1 in winter: the local bounds are 23:00 UTC the day before.
    start, end = datetime(2026, 1, 4, 23, tzinfo=UTC), datetime(2026, 2, 15, 23, tzinfo=UTC)
    in_range = Message.objects.filter(conversation=archive, sent_at__gte=start, sent_at__lt=end)
    expected = in_range.count()
    assert expected > 4 * INLINE_LIMIT
    panel = page.locator("#range-preview")
    panel.locator('[data-count="messages"]').filter(has_text=f"{expected:,}").wait_for()
    days = {m.sent_at.astimezone(ZoneInfo(ZONE)).date() for m in in_range}
    assert panel.locator(".histogram__bar").count() == len(days)  # one bar per day that has messages
    assert panel.get_by_text("Runs in the background").is_visible()
    form.get_by_label("Reason").fill("Retention: support chats older than 30 days")
    form.get_by_label("Ticket").fill("RET-2026-02")
    page.locator(".purge-tools").scroll_into_view_if_needed()
    shot(page, "11-range-live-preview.png", full_page=False)

    before = Message.objects.count()
    form.get_by_role("button", name="Preview…").click()
    page.wait_for_url("**/purge/*/")
    purge_pk = request_id(page)
    purge = PurgeRequest.objects.get(pk=purge_pk)
    assert purge.state == "previewed" and purge.total_messages == expected and not purge.runs_inline
    assert page.locator(".histogram__bar").count() > 20
    shot(page, "12-preview-panel.png", full_page=True)

    page.get_by_label("Type to confirm").fill("Support")
    page.get_by_role("button", name=f"Delete {expected:,} messages").click()
    page.get_by_text("“Support” does not match.").wait_for()
    assert Message.objects.count() == before and PurgeRequest.objects.get(pk=purge_pk).state == "previewed"
    page.locator("#confirm-form").scroll_into_view_if_needed()
    shot(page, "13-confirm-typed.png", full_page=False)

    page.get_by_label("Type to confirm").fill(f"{expected:,}")
    page.get_by_role("button", name=f"Delete {expected:,} messages").click()
    page.wait_for_url(f"**/jobs/{purge_pk}/")
    page.evaluate("window.stillHere = true")
    # Freeze the run part-way, let the page catch up through its polling, take the picture, go on.
    wait_for(lambda: PurgeRequest.objects.get(pk=purge_pk).processed_messages >= expected // 4, "the worker to make progress")
    pause_worker(worker, True)
    try:
        frozen = PurgeRequest.objects.get(pk=purge_pk).processed_messages
        page.locator("#progress-text strong").filter(has_text=f"{frozen:,}").wait_for()
        assert page.locator('#job-live[data-state="running"]').get_attribute("hx-trigger") == "every 1s"
        assert 0 < int(page.locator("#job-progress").get_attribute("value")) < 100
        shot(page, "14-job-progress.png", full_page=False)
    finally:
        pause_worker(worker, False)
    wait_until_done(page, purge_pk)
    shot(page, "15-job-done.png", full_page=True)

    purge = PurgeRequest.objects.get(pk=purge_pk)
    assert purge.result["messages"] == purge.preview["messages"] == expected and purge.batches >= expected // BATCH_SIZE
    assert not in_range.all().exists()  # .all(): a fresh query, not the rows read before the run
    assert Message.objects.filter(conversation=archive).count() == len(story["archive_messages"]) - expected
    assert Message.objects.count() == before - expected


def test_it_clears_the_history_for_one_member(page, live_server, story, worker):
    team, bob = story["team"], story["bob"]
    memberships_before = {m.user_id: (m.cleared_before, m.hidden) for m in Membership.objects.filter(conversation=team)}
    log_in(page, live_server)
    page.goto(f"{live_server.url}/conversations/{team.pk}/")
    page.get_by_text("The whole conversation").click()
    form = page.locator("#purge-whole")
    form.get_by_text("Clear the history for one member").click()
    form.get_by_label("Member", exact=True).select_option(label="Bob Baker (u-bob)")
    form.get_by_label("Reason").fill("Bob asked to start over")
    form.get_by_role("button", name="Preview…").click()
    page.wait_for_url("**/purge/*/")
    purge_pk = request_id(page)
    assert page.get_by_text("One-way: only the member's view changes").is_visible()
    assert page.locator('[data-count="messages"]').first.text_content() == "30"
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**/jobs/{purge_pk}/")
    page.locator('#job-live[data-state="done"]').wait_for()

    last = Message.objects.filter(conversation=team).order_by("-sent_at").first().sent_at
    after = {m.user_id: (m.cleared_before, m.hidden) for m in Membership.objects.filter(conversation=team)}
    assert after[bob.pk] == (last + timedelta(microseconds=1), False)
    assert {k: v for k, v in after.items() if k != bob.pk} == {k: v for k, v in memberships_before.items() if k != bob.pk}
    assert Message.objects.filter(conversation=team).count() == 30


def test_it_deletes_several_conversations_with_a_result_for_each(page, live_server, story, worker):
    old, peer, lobby = story["old"], story["peer"], story["lobby"]
    log_in(page, live_server)
    page.get_by_role("link", name="Conversations", exact=True).click()
    for conversation in (old, peer, lobby):
        page.get_by_label(f"Select {conversation.title or conversation.external_id}").check()
    assert page.locator("[data-selection-count='purge-batch']").text_content() == "3 selected"
    batch = page.locator("#purge-batch")
    batch.get_by_label("Reason").fill("Clean-up of closed channels")
    batch.get_by_role("button", name="Preview…").click()
    page.wait_for_url("**/purge/*/")
    purge_pk = request_id(page)
    assert page.get_by_text("6 messages kept under legal hold").is_visible()
    page.get_by_label("Type to confirm").fill("45")
    page.get_by_role("button", name="Delete 45 messages").click()
    page.wait_for_url(f"**/jobs/{purge_pk}/")
    page.evaluate("window.stillHere = true")
    wait_until_done(page, purge_pk)
    rows = page.locator("table.items tbody tr")
    assert rows.count() == 3
    assert page.locator('[data-item="r-lobby"][data-status="held"]').is_visible()
    page.locator("#items-heading").scroll_into_view_if_needed()
    shot(page, "16-job-items.png", full_page=True)

    assert dict(PurgeItem.objects.filter(request_id=purge_pk).values_list("conversation_external_id", "status")) == {
        "g-old-announcements": "ok", "c2c_u-bob_u-lina": "ok", "r-lobby": "held",
    }
    assert not Conversation.objects.filter(pk__in=[old.pk, peer.pk]).exists()
    assert Message.objects.filter(conversation=lobby).count() == 6
    assert Message.objects.filter(conversation=story["team"]).count() == 30

    # Other requests in other states, made through the engine's actions as the pages would.
    mona, cleo = User.objects.get(username="mona"), staff("cleo", roles.COMPLIANCE)
    erasure = do_preview_purge(PurgeSpec(UserScope(story["bob"].pk), "delete_for_everyone"), actor=cleo, reason="DSR: erase Bob", ticket="DSR-88")
    do_execute_purge(erasure, actor=cleo)
    do_cancel_purge(do_preview_purge(PurgeSpec(ConversationScope(story["team"].pk), "delete_conversation"), actor=mona, reason="wrong one"), actor=mona)
    do_preview_purge(PurgeSpec(RangeScope(story["team"].pk, end=datetime(2026, 3, 4, tzinfo=UTC)), "hide_for_user", member=story["bob"].pk),
                     actor=mona, reason="Bob wants a fresh start")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    states = page.locator("table.jobs .state-badge").all_text_contents()
    assert states == ["Previewed", "Cancelled", "Awaiting approval", "Done"]
    shot(page, "17-jobs-list.png", full_page=False)


def test_it_works_without_javascript(browser, live_server, story, worker):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server)
    team = story["team"]
    page.goto(f"{live_server.url}/conversations/{team.pk}/")
    newest = list(Message.objects.filter(conversation=team).order_by("-sent_at", "-id").values_list("id", flat=True))
    for pk in (newest[0], newest[2]):
        page.locator(f'.select-box[value="{pk}"]').check()  # checkboxes outside the form, tied by form=""
    page.locator("#purge-selection").get_by_label("Reason").fill("No-JS moderator")
    page.locator("#purge-selection").get_by_role("button", name="Preview…").click()
    page.wait_for_url("**/purge/*/")
    page.get_by_label("Type to confirm").fill("2")
    page.get_by_role("button", name="Delete 2 messages").click()
    page.get_by_text("Done: 2 of 2 messages handled.").wait_for()
    assert not Message.objects.filter(pk__in=[newest[0], newest[2]]).exists()
    assert Message.objects.filter(conversation=team).count() == 28

    # The time-range form posts straight to its preview page (no live counts without JS).
    page.goto(f"{live_server.url}/conversations/{team.pk}/purge/")
    form = page.locator("#purge-range")
    form.get_by_label(f"Before ({ZONE})").fill("2026-03-03T09:00")  # 08:00 UTC
    form.get_by_label("Reason").fill("No-JS range")
    form.get_by_role("button", name="Preview…").click()
    page.wait_for_url("**/purge/*/")
    expected = Message.objects.filter(conversation=team, sent_at__lt=datetime(2026, 3, 3, 8, tzinfo=UTC)).count()
    assert page.locator('[data-count="messages"]').first.text_content() == str(expected)
    assert PurgeRequest.objects.filter(state="previewed", total_messages=expected).exists()
    context.close()
