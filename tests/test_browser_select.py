"""'Select all N matching' in real Chromium (issue 14, Add): from the search results to a matching
scope's page with live counts, its preview, the typed confirmation and the run; then the
database says exactly what went. The screenshots 40-42 are taken here (tests/screenshots.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User

from chatdata import roles
from chatdata.models import Conversation, Message, PurgeRequest
from tests.builders import add_attachment, make_conversation, make_message, make_user
from tests.browser import sign_in
from tests.conftest import PASSWORD
from tests.screenshots import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True, reset_sequences=True)]

ADVERTS = ["Win a free phone today! Click here", "Free phone giveaway: reply WIN", "Last call for your free phone 📱"]
TALK = ["Standup moved to 10:00", "Has anyone seen the release notes?", "Phone interview at 3, free after",
        "Lunch?", "Thanks, merged."]


@pytest.fixture
def story(db):
    user = User.objects.create_user("mona", password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name=roles.MODERATOR)[0])
    alice, bob = make_user("u-alice", "Alice Archer"), make_user("u-bob", "Bob Baker")
    spammer = make_user("u-promo77", "Promo Deals")
    rooms = [make_conversation("group", [alice, bob, spammer], external_id=f"g-{name}", title=title)
             for name, title in (("launch", "Launch team"), ("support", "Support desk"), ("random", "Random"))]
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    adverts = Message.objects.bulk_create(
        Message(external_id=f"ad-{i}", conversation=rooms[i % 3], sender=spammer, sent_at=start + timedelta(minutes=37 * i),
                body=ADVERTS[i % len(ADVERTS)])
        for i in range(64)
    )
    talk = Message.objects.bulk_create(
        Message(external_id=f"talk-{i}", conversation=rooms[i % 3], sender=(alice, bob)[i % 2],
                sent_at=start + timedelta(minutes=29 * i), body=TALK[i % len(TALK)])
        for i in range(40)
    )
    for room in rooms:
        Conversation.objects.filter(pk=room.pk).update(last_message_at=start + timedelta(days=2))
    add_attachment(adverts[0], "promo.png")
    return {"rooms": rooms, "adverts": adverts, "talk": talk, "spammer": spammer}


def log_in(page, live_server):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    sign_in(page, live_server, "mona")


def test_it_selects_all_matching_previews_and_deletes_exactly_them(page, live_server, story, settings):
    settings.PURGE_INLINE_LIMIT = 1_000  # runs in the request: no worker needed
    settings.PURGE_APPROVAL_THRESHOLD = 1_000
    log_in(page, live_server)
    page.goto(f"{live_server.url}/search/")
    page.get_by_label("Words").fill("free phone")
    page.get_by_label("Sender").fill("Promo Deals")
    page.get_by_role("button", name="Search").click()
    bar = page.locator("#select-matching")
    bar.get_by_text("50 of 64 matching messages shown.").wait_for()
    # "Phone interview at 3, free after" matches the words too, but not the sender.
    shot(page, "43-select-all-matching.png", full_page=False)

    bar.get_by_role("link", name="Select all 64 matching…").click()
    page.wait_for_url("**/search/purge/?*")
    counts = page.locator("#matching-preview")
    assert counts.locator('[data-count="messages"]').text_content() == "64"
    # Only the attachments: the counts follow the choice (htmx), then back.
    page.get_by_label("Delete only the attachments (keep the messages)").check()
    counts.get_by_text("Messages with attachments (they stay)").wait_for()
    assert counts.locator('[data-count="messages"]').text_content() == "1"
    page.get_by_label("Delete the messages for everyone").check()
    counts.locator('[data-count="reactions"]').wait_for()
    assert counts.locator('[data-count="messages"]').text_content() == "64"

    form = page.locator("#purge-matching")
    form.get_by_label("Reason").fill("Promo spam wave, reported by Alice")
    form.get_by_label("Ticket").fill("MOD-512")
    shot(page, "44-select-all-matching-counts.png", full_page=False)
    form.get_by_role("button", name="Preview…").click()
    page.wait_for_url("**/purge/*/")
    purge = PurgeRequest.objects.get()
    assert purge.scope_kind == "matching" and purge.total_messages == 64
    assert purge.spec["scope"]["text"] == "free phone" and purge.spec["scope"]["senders"] == [story["spammer"].pk]
    assert page.locator('[data-count="messages"]').first.text_content() == "64"
    shot(page, "45-select-all-matching-preview.png")

    # One more advert after the preview: above the high-water mark, it stays.
    late = make_message(story["rooms"][0], story["spammer"], datetime(2026, 3, 9, tzinfo=UTC), "Free phone, last chance")
    page.get_by_label("Type to confirm").fill("64")
    page.get_by_role("button", name="Delete 64 messages").click()
    page.wait_for_url(f"**/jobs/{purge.pk}/")
    page.get_by_text("Done: 64 of 64 messages handled.").wait_for()
    left = set(Message.objects.values_list("id", flat=True))
    assert left == {m.pk for m in story["talk"]} | {late.pk}
