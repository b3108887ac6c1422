"""The deletion workflow without JavaScript, in real Chromium against a live server with a real
RQ worker: ticked messages and a time range still preview, and the messages are deleted. Ends by
checking the database. Story and worker: tests/browser_purge_story.py.
"""

from datetime import UTC, datetime

import pytest

from chatdata.models import Message, PurgeRequest
from tests.browser_purge_story import ZONE, log_in
from tests.browser_purge_story import story, worker  # noqa: F401 (fixtures)

# reset_sequences: request numbers start at 1 in every test, so the screenshots do not depend on test order.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True, reset_sequences=True)]


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
