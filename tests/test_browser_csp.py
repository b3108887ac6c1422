"""The Content Security Policy in real Chromium (issue 11, item 9).

Every browser test already fails on a violation any page reports (conftest.csp_violations); this
one walks the pages the others do not reach (Django's admin, django-rq's dashboard, every page of
the app as an admin, the htmx partials), and proves the policy is enforced at all: markup injected
without the nonce does not run, and the watch reports it.
"""

import pytest
from django.contrib.auth.models import Group, User

from chatdata import roles
from tests.builders import make_conversation, make_history, make_user
from tests.browser import sign_in
from tests.conftest import PASSWORD
from tests.polling import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def story(db, redis_conn):
    ada = User.objects.create_user("ada", password=PASSWORD, is_staff=True, is_superuser=True)
    # get_or_create: an earlier transactional test's flush removed the groups the migration made.
    ada.groups.add(Group.objects.get_or_create(name=roles.ADMIN)[0])
    alice, bob = make_user("u-alice", "Alice Archer"), make_user("u-bob", "Bob Baker")
    team = make_conversation("group", [alice, bob], external_id="g-team", title="Team")
    make_history(team, alice, 70)  # more than a page: "Older messages" goes through htmx
    return {"ada": ada, "alice": alice, "team": team}


def log_in(page, live_server):
    page.set_default_timeout(15_000)
    sign_in(page, live_server, "ada")


def visit(page, url):
    response = page.goto(url)
    assert response.status == 200, url
    return response.headers.get("content-security-policy", "")


def test_it_serves_every_page_without_a_violation(page, live_server, story, csp_violations):
    log_in(page, live_server)
    base, team, alice = live_server.url, story["team"], story["alice"]
    for path in ("/", "/users/", f"/users/{alice.pk}/", "/conversations/", "/search/?q=message",
                 f"/conversations/{team.pk}/purge/", f"/users/{alice.pk}/purge/", "/jobs/", "/approvals/",
                 "/holds/", "/holds/new/", "/audit/", "/audit/verify/"):
        policy = visit(page, base + path)
        assert "script-src 'self' 'nonce-" in policy and "unsafe-inline" not in policy, path
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.evaluate("document.querySelectorAll('head style').length") == 0

    # htmx at work under the policy: older messages appended, the range preview recounted live.
    visit(page, f"{base}/conversations/{team.pk}/")
    page.get_by_role("link", name="Older messages").click()
    page.locator("#timeline-messages [data-message-id]").nth(69).wait_for()
    page.get_by_text("By time range").click()
    page.locator("#purge-range").get_by_label("Before (UTC)").fill("2026-01-01T20:00")
    page.locator("#range-preview [data-count='messages']").filter(has_text="8").wait_for()
    # chatsweep.js under the policy: the selection counter.
    page.locator("#timeline-messages .select-box").nth(0).click()
    page.locator("#timeline-messages .select-box").nth(2).click(modifiers=["Shift"])
    assert page.locator("[data-selection-count='purge-selection']").text_content() == "3 selected"

    # Django's admin keeps the strict policy; django-rq's dashboard has the relaxed one.
    ada = story["ada"].pk
    for path in ("/admin/", "/admin/auth/user/", f"/admin/auth/user/{ada}/change/", "/admin/auth/user/add/"):
        policy = visit(page, base + path)
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy, path
    page.get_by_label("Username").fill("newcomer")  # the admin's own scripts work: its form is live
    for path in ("/admin/django_rq/", "/admin/django_rq/queues/0/", "/admin/django_rq/dashboard/"):
        policy = visit(page, base + path)
        assert "script-src 'self' 'unsafe-inline'" in policy and "nonce" not in policy, path
    assert csp_violations == []


def test_it_blocks_markup_injected_without_the_nonce(page, live_server, story, csp_violations):
    log_in(page, live_server)
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.head.appendChild(script);
        document.body.insertAdjacentHTML("beforeend", '<p id="painted" style="color: rgb(255, 0, 0)">x</p>');
    }""")
    page.wait_for_function("() => document.getElementById('painted')")
    assert page.evaluate("window.injected") is None
    assert page.evaluate("getComputedStyle(document.getElementById('painted')).color") != "rgb(255, 0, 0)"
    # Console events arrive while Playwright talks to the page: a short wait lets them in.
    for directive in ("script-src", "style-src"):
        wait_for(lambda: page.wait_for_timeout(20) or any(directive in text for text in csp_violations),
                 f"a {directive} violation reported", timeout=10)
    csp_violations.clear()  # seen and expected: not a failure of this test
