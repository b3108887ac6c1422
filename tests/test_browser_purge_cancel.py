"""Issue 14, items 2 and 3 in real Chromium: cancelling a multi-conversation job asks first and
then says per conversation what was done and what was not; confirming a preview whose scope
changed since shows the new counts and asks again.

The job runs in this test's own process, a step at a time (chatdata.purge.execute.run_purge with
max_steps), so the moment of the cancel is exact; the live server and the page see it through the
database, as they would a worker's. Screenshots 19-*.png and 13b-*.png (tests/screenshots.py).
"""

from datetime import UTC, datetime, timedelta

import pytest

from chatdata.models import Message, PurgeItem, PurgeRequest
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.execute import run_purge
from chatdata.purge.scopes import ConversationsScope, PurgeSpec, RangeScope
from tests.builders import make_conversation, make_user
from tests.screenshots import shot
from tests.browser_purge_story import bulk_history, log_in, mona, story  # noqa: F401 (story is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True, reset_sequences=True)]


@pytest.fixture
def batch(story, settings, redis_conn):
    """Three old channels of 30 messages each, queued for deletion in batches of 5 (no worker
    takes it: the test runs it; redis_conn flushes the job it queued afterwards)."""
    settings.PURGE_INLINE_LIMIT = 40
    settings.PURGE_BATCH_SIZE = 5
    alice, bob = make_user("u-promo", "Promo bot"), story["bob"]
    channels = []
    for i, name in enumerate(("Spring promo", "Summer promo", "Autumn promo")):
        conversation = make_conversation("group", [alice, bob], external_id=f"g-promo-{i + 1}", title=name)
        bulk_history(conversation, [alice, bob], [datetime(2025, 3 + 3 * i, 1, 9, tzinfo=UTC) + timedelta(hours=h) for h in range(30)])
        channels.append(conversation)
    spec = PurgeSpec(ConversationsScope(tuple(c.pk for c in channels)), "delete_for_everyone")
    request = do_execute_purge(do_preview_purge(spec, actor=mona(), reason="Old promotions", ticket="OPS-31"), actor=mona())
    assert request.state == "queued"
    return request, channels


def run_until(request, done):
    """Run the job a step at a time until `done(request)`."""
    for _ in range(200):
        request.refresh_from_db()
        if done(request):
            return request
        run_purge(request.pk, request.attempt, max_steps=1, paced=False)
    raise AssertionError("the run never got there")


def test_cancel_asks_first_then_the_results_say_what_was_done_per_conversation(page, live_server, batch):
    request, channels = batch
    # The first channel done, the second part-way (15 of its 30).
    run_until(request, lambda r: r.processed_messages >= 45)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/jobs/{request.pk}/")
    page.locator("#job-cancel").click()  # a link now: nothing is cancelled yet
    page.wait_for_url(f"**/jobs/{request.pk}/cancel/")
    assert PurgeRequest.objects.get(pk=request.pk).cancel_requested is False
    summary = page.locator(".cancel-summary").inner_text()
    assert "Done so far: 45 of 90 messages" in summary
    assert "1 of 3 conversations finished" in summary and "g-promo-2, 15 of 30 messages so far" in summary
    assert "1 conversation will not be started" in summary and "45 messages not yet handled" in summary
    shot(page, "19-cancel-confirm.png", full_page=False)

    page.get_by_role("button", name="Cancel the purge").click()
    page.wait_for_url(f"**/jobs/{request.pk}/")
    assert page.get_by_text("stops at the end of its current batch").is_visible()
    run_purge(request.pk, request.attempt, paced=False)  # the worker reaches the batch boundary
    page.locator('#job-live[data-state="cancelled"]').wait_for(timeout=20_000)  # htmx polling shows it

    outcome = page.locator("#cancel-outcome").inner_text()
    assert "Cancelled after 45 of 90 messages" in outcome and "45 messages were not deleted" in outcome
    assert page.locator('[data-item="g-promo-1"][data-status="ok"]').is_visible()
    stopped = page.locator('[data-item="g-promo-2"][data-status="cancelled"]')
    assert "Not done — cancelled" in stopped.inner_text() and "after 15 of 30 messages" in stopped.inner_text()
    assert "Not started" in page.locator('[data-item="g-promo-3"][data-status="not_started"]').inner_text()
    assert page.get_by_text("Differences mean the data changed").count() == 0
    assert page.locator("#job-resume").is_visible() and page.locator("#job-close").is_visible()
    page.locator("#items-heading").scroll_into_view_if_needed()
    shot(page, "19b-results-after-cancel.png", full_page=True)

    assert dict(PurgeItem.objects.filter(request=request).values_list("conversation_external_id", "status")) == {
        "g-promo-1": "ok", "g-promo-2": "cancelled", "g-promo-3": "not_started",
    }
    assert [Message.objects.filter(conversation=c).count() for c in channels] == [0, 15, 30]

    # Close it: the rest stays for good.
    page.get_by_label("Why close it").fill("The rest is kept for the archive")
    page.locator("#job-close").click()
    page.locator('#job-live[data-state="closed"]').wait_for()
    assert PurgeRequest.objects.get(pk=request.pk).state == "closed"
    assert [Message.objects.filter(conversation=c).count() for c in channels] == [0, 15, 30]


def test_a_preview_whose_scope_changed_shows_the_new_counts_and_asks_again(page, live_server, story):
    team = story["team"]
    end = datetime(2026, 3, 5, 8, tzinfo=UTC)  # the first 24 messages of the launch team
    spec = PurgeSpec(RangeScope(team.pk, end=end), "delete_for_everyone")
    request = do_preview_purge(spec, actor=mona(), reason="Leaked launch date", ticket="SEC-7")
    assert request.preview["messages"] == 24
    log_in(page, live_server)
    page.goto(f"{live_server.url}/purge/{request.pk}/")
    # Meanwhile another purge (or the chat service) removes three of them.
    Message.objects.filter(pk__in=[m.pk for m in story["team_messages"][:3]]).delete()
    page.get_by_label("Type to confirm").fill("24")
    page.get_by_role("button", name="Delete 24 messages").click()
    page.wait_for_url(f"**/purge/{request.pk}/")
    note = page.locator("#recount-note").inner_text()
    assert "The scope changed since the preview" in note and "messages 24 → 21" in note
    assert page.locator('[data-count="messages"]').first.inner_text() == "21"
    assert page.get_by_role("button", name="Delete 21 messages").is_visible()
    shot(page, "13b-preview-recounted.png", full_page=False)
    assert PurgeRequest.objects.get(pk=request.pk).state == "previewed"
    assert Message.objects.filter(conversation=team).count() == 27  # nothing was run

    page.get_by_label("Type to confirm").fill("21")
    page.get_by_role("button", name="Delete 21 messages").click()
    page.wait_for_url(f"**/jobs/{request.pk}/")
    assert PurgeRequest.objects.get(pk=request.pk).state == "done"
    assert Message.objects.filter(conversation=team).count() == 6
