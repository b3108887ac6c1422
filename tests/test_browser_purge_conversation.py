"""One conversation's time-range and whole-conversation forms in real Chromium against a live
server: the range marked in the timeline, live counts, a background run followed on the job page
with a real RQ worker, clearing the history for one member. Each flow ends by checking the
database. Story and worker: tests/browser_purge_story.py; screenshots 11-*.png to 15-*.png
(tests/screenshots.py).
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chatdata.models import Membership, Message, PurgeRequest
from tests.browser_purge_story import BATCH_SIZE, INLINE_LIMIT, ZONE, log_in, pause_worker, request_id, wait_until_done
from tests.browser_purge_story import story, worker  # noqa: F401 (fixtures)
from tests.polling import wait_for
from tests.screenshots import shot

# reset_sequences: request numbers start at 1 in every test, so the screenshots do not depend on test order.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True, reset_sequences=True)]


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
