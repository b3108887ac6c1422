"""Browsing in real Chromium against a live server: log in, open a conversation, page to older
messages through htmx (and without JavaScript), search. Takes the screenshots 0x-*.png
(tests/screenshots.py)."""

import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User

from chatdata import roles
from chatdata.models import Membership, Message
from tests.builders import add_attachment, add_hide, add_pending, add_reaction, make_conversation, make_message, make_user
from tests.browser import sign_in
from tests.conftest import PASSWORD
from tests.screenshots import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
BODIES = [
    "Morning! Is the release checklist ready?",
    "Almost, two items left. 👍",
    "发布会改到周五下午三点了。",
    "Können wir das Meeting auf morgen verschieben?",
    "I pushed the fix for the login bug, please review.",
    "收到，我来检查一下。",
    "The budget meeting moved to Friday.",
    "Great work everyone! 🎉",
    "Lunch at noon? 🍜",
]


def tiny_png(rgb=(36, 83, 196), size=24):
    """A real PNG of one colour, for an image attachment the browser can show."""
    row = b"\x00" + bytes(rgb) * size
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b"")


@pytest.fixture
def story(db):
    """A small, realistic chat store: a busy team group, a room, a peer chat and a system channel."""
    staff = User.objects.create_user("mona", password=PASSWORD)
    # get_or_create: an earlier transactional test's flush removes the role groups, and
    # serialized_rollback does not bring them back here (the sync Playwright fixtures run the test
    # with database connections that never received the serialized copy).
    staff.groups.add(Group.objects.get_or_create(name=roles.MODERATOR)[0])
    alice, bob = make_user("u-alice", "Alice Archer"), make_user("u-bob", "Bob Baker")
    lina, jurgen = make_user("u-lina", "李娜"), make_user("u-jurgen", "Jürgen Schmidt")
    carol, system = make_user("u-carol", "Carol Chen"), make_user("system", "System")
    team = make_conversation("group", [alice, bob, lina, jurgen], external_id="g-launch", title="Launch team")
    lobby = make_conversation("room", [carol, bob, lina], external_id="r-support", title="Support lobby 💬")
    peer = make_conversation("peer", [alice, lina], external_id="c2c_u-alice_u-lina", title="")
    notices = make_conversation("system", [alice], external_id="sys-alice", title="System notices")
    senders = [alice, bob, lina, jurgen]
    history = [
        make_message(team, senders[i % 4], sent_at=START + timedelta(hours=3 * i), body=BODIES[i % len(BODIES)])
        for i in range(90)
    ]
    for i, message in enumerate(history[-12:]):
        add_reaction(message, senders[(i + 1) % 4], "👍")
        if i % 3 == 0:
            add_reaction(message, senders[(i + 2) % 4], "🎉")
    add_attachment(history[-2], name="release-plan.png", content=tiny_png(), content_type="image/png")
    add_hide(history[-3], jurgen)
    add_pending(history[-1], jurgen)
    Membership.objects.filter(conversation=team, user=bob).update(cleared_before=START + timedelta(days=3))
    Membership.objects.filter(conversation=team, user=jurgen).update(hidden=True)
    make_message(lobby, carol, sent_at=START + timedelta(days=5), body="Welcome to the support lobby!")
    make_message(peer, lina, sent_at=START + timedelta(days=6), body="今天天气很好，我们去喝咖啡吧？")
    make_message(notices, system, sent_at=START + timedelta(days=1), body="Your password was changed.", kind="system")
    return {"team": team, "alice": alice, "history": history}


def log_in(page, live_server, name=None):
    sign_in(page, live_server, "mona", on_form=(lambda page: shot(page, name)) if name else None)


def shown_ids(page):
    return [int(i) for i in page.locator("#timeline-messages [data-message-id]").evaluate_all(
        "items => items.map(item => item.dataset.messageId)"
    )]


def newest_first(conversation):
    return list(Message.objects.filter(conversation=conversation).order_by("-sent_at", "-id").values_list("id", flat=True))


def test_it_logs_in_opens_a_conversation_pages_older_with_htmx_and_searches(page, live_server, story):
    page.set_viewport_size({"width": 1280, "height": 860})
    page.set_default_timeout(10_000)
    log_in(page, live_server, "01-login.png")
    page.get_by_text("mona").first.wait_for()
    shot(page, "02-home.png")

    page.get_by_role("link", name="Users", exact=True).click()
    shot(page, "03-users.png")
    page.get_by_role("link", name="Alice Archer").click()
    page.get_by_role("heading", name="Alice Archer").wait_for()
    shot(page, "04-user.png")

    page.get_by_role("link", name="Conversations", exact=True).click()
    shot(page, "05-conversations.png")
    page.get_by_role("link", name="Launch team").click()
    expected = newest_first(story["team"])
    assert shown_ids(page) == expected[:50]
    # The image attachment is served (behind the login) and decodes as a real image.
    page.wait_for_function(
        "() => { const img = document.querySelector('.attachment__thumb');"
        " return img && img.complete && img.naturalWidth === 24; }"
    )
    shot(page, "06-conversation.png", full_page=False)

    # "Older" appends the next page in place: same document, same URL, the next 40 from the database.
    page.evaluate("window.stillHere = true")
    url = page.url
    page.get_by_role("link", name="Older messages").click()
    page.locator(f'[data-message-id="{expected[50]}"]').wait_for()
    assert shown_ids(page) == expected
    assert page.evaluate("window.stillHere") is True and page.url == url
    assert page.get_by_role("link", name="Older messages").count() == 0  # nothing older is left
    focused = page.evaluate("document.activeElement.dataset.messageId")
    assert focused == str(expected[50])  # keyboard focus moves to the first appended message
    page.locator(f'[data-message-id="{expected[48]}"]').scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 250)")
    shot(page, "07-conversation-older.png", full_page=False)

    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_label("Words").fill("budget meeting")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search/?q=budget+meeting*")
    budget = Message.objects.filter(body__icontains="budget meeting").order_by("-sent_at", "-id")
    budget = list(budget.values_list("id", flat=True))
    found = [int(i) for i in page.locator("#search-results [data-message-id]").evaluate_all(
        "items => items.map(item => item.dataset.messageId)"
    )]
    assert found == budget and len(found) >= 5
    shot(page, "08-search.png")

    # A sender is named as a ticket names them: suggestions come as one types (issue 14, item 5).
    page.get_by_label("Sender").press_sequentially("ali")
    page.locator('#sender-suggestions option[value="u-alice"]').wait_for(state="attached")
    assert page.locator("#sender-suggestions option").evaluate_all("os => os.map(o => o.textContent)") == ["Alice Archer"]

    page.get_by_label("Words").fill("会议")
    page.get_by_label("Sender").fill("robert")
    page.get_by_label("From").fill("2026-03-09")
    page.get_by_label("To (inclusive)").fill("2026-03-01")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("No chat user has the external id or name “robert”.").wait_for()
    assert page.get_by_text("The end date is before the start date.").is_visible()
    shot(page, "09-search-errors.png")


def test_it_pages_older_without_javascript(browser, live_server, story):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/conversations/{story['team'].pk}/")
    expected = newest_first(story["team"])
    page.get_by_role("link", name="Older messages").click()
    page.wait_for_url("**before=*")
    assert shown_ids(page) == expected[50:]
    page.get_by_role("link", name="Newer messages").click()
    page.wait_for_url("**after=*")
    assert shown_ids(page) == expected[:50]
    context.close()
