"""Several conversations deleted from the conversation list in real Chromium against a live
server, with a real RQ worker: a result for each (one under a legal hold), then the jobs list with
requests in other states. Ends by checking the database. Story and worker:
tests/browser_purge_story.py; screenshots 16-*.png and 17-*.png (tests/screenshots.py).
"""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from chatdata import roles
from chatdata.models import Conversation, Message, PurgeItem
from chatdata.purge.actions import do_cancel_purge, do_execute_purge, do_preview_purge
from chatdata.purge.scopes import ConversationScope, PurgeSpec, RangeScope, UserScope
from tests.browser_purge_story import log_in, request_id, staff, wait_until_done
from tests.browser_purge_story import story, worker  # noqa: F401 (fixtures)
from tests.screenshots import shot

# reset_sequences: request numbers start at 1 in every test, so the screenshots do not depend on test order.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True, reset_sequences=True)]


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
