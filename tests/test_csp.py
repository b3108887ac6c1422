"""The Content Security Policy (issue 11, item 9): every page the app renders carries the strict
policy and complies with it: no inline script or style without the response's nonce, no style= or
on...= attribute, no javascript: URL, htmx's own <style> switched off.

The pages are those of the permission matrix (tests/test_permissions_matrix.py): every URL of the
app, each GET also as an htmx request (the partials), each POST followed to the page it ends on and
sent once more empty (the form errors), plus login, 403 and 404. A new URL gets a matrix row, so it
is checked here too. Django's admin keeps the strict policy; django-rq's dashboard inside it gets a
deliberately relaxed one (dashboard/web/csp.py), checked directive by directive.
"""

import re

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from chatdata.models import PurgeRequest
from tests.conftest import PASSWORD
from tests.csp_check import problems
from tests.test_permissions_matrix import GET, MATRIX, POST, world  # noqa: F401 (world is a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",  # and the response's nonce, where the page uses it
    "style-src": "'self'",
    "img-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
NOT_HTML = {
    "browse:attachment", "audit:export_csv", "audit:export_jsonl", "erasure:export", "erasure:certificate_json",
    "purge:selection", "purge:batch_selection",  # JSON for chatsweep.js
}


def directives(response):
    """The response's policy as {directive: sources}, without its nonce (problems() checks that)."""
    policy = response.headers.get("Content-Security-Policy", "")
    policy = re.sub(r" 'nonce-[^']+'", "", policy)
    return dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())


def checked(response, what):
    """Assert the response complies; True when it was a page (HTML) at all."""
    if response.status_code in (301, 302, 303) or not response.get("Content-Type", "").startswith("text/html"):
        return False
    assert problems(response) == [], what
    assert directives(response) == STRICT, what
    return True


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("row", [row for row in MATRIX if row.method == GET], ids=lambda row: row.id)
def test_it_renders_every_page_and_partial_within_the_policy(world, row):
    # The admin persona opens every page but the login form (anonymous), and as htmx gets the partials.
    client = client_for(None if row.name == "login" else world.staff["admin"])
    world.me = world.staff["admin"]
    url = reverse(row.name, args=row.args(world)) + row.query
    pages = [checked(client.get(url), url), checked(client.get(url, headers={"HX-Request": "true"}), f"htmx {url}")]
    assert any(pages) or row.name in NOT_HTML


@pytest.mark.parametrize("row", [row for row in MATRIX if row.method == POST], ids=lambda row: row.id)
def test_it_renders_what_every_action_leads_to_within_the_policy(world, row):
    client = client_for(world.staff["admin"])
    world.me = world.staff["admin"]
    url = reverse(row.name, args=row.args(world)) + row.query
    done = client.post(url, row.data(world), follow=True)
    empty = client.post(url, {}, follow=True)  # form errors, or refusals
    assert [checked(done, f"POST {url}"), checked(empty, f"empty POST {url}")] != [False, False] or row.name in NOT_HTML


def test_it_renders_the_login_page_and_its_errors_within_the_policy(db):
    client = Client()
    assert checked(client.get(reverse("login")), "login")
    assert checked(client.post(reverse("login"), {"username": "nobody", "password": "wrong"}), "failed login")


def test_it_renders_403_and_404_within_the_policy(world):
    refused = client_for(world.staff["outsider"]).get(reverse("browse:home"))
    missing = client_for(world.staff["admin"]).get(reverse("browse:conversation", args=[10**12]))
    assert (refused.status_code, missing.status_code) == (403, 404)
    assert checked(refused, "403") and checked(missing, "404")


def test_it_draws_a_new_nonce_for_every_response_and_puts_it_on_htmx(world):
    client = client_for(world.staff["moderator"])
    nonces = []
    for _ in range(2):
        response = client.get(reverse("browse:home"))
        nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
        assert re.search(rf'<script src="/static/django_htmx/htmx-2\.min\.js" defer nonce="{nonce}"></script>',
                         response.content.decode())
        nonces.append(nonce)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 16


def test_it_shows_a_running_job_and_its_polling_partial_within_the_policy(world):
    PurgeRequest.objects.filter(pk=world.conv_request.pk).update(state="running")
    client = client_for(world.staff["moderator"])
    url = reverse("jobs:detail", args=[world.conv_request.pk])
    assert checked(client.get(url), url)
    assert checked(client.get(url, headers={"HX-Request": "true"}), f"htmx {url}")


@pytest.fixture
def superuser(db):
    return User.objects.create_user("root-admin", password=PASSWORD, is_staff=True, is_superuser=True)


def test_it_keeps_djangos_admin_under_the_strict_policy(client, superuser):
    client.force_login(superuser)
    for url in ("/admin/", "/admin/auth/user/", "/admin/auth/user/add/", f"/admin/auth/user/{superuser.pk}/change/",
                f"/admin/auth/user/{superuser.pk}/password/", "/admin/auth/group/add/", "/admin/chatdata/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert checked(response, url)
    assert checked(Client().get("/admin/login/"), "admin login")


def test_it_relaxes_the_policy_for_django_rq_pages_only(client, superuser, redis_conn):
    """django-rq's dashboard has inline scripts, styles and onclick= of its own, without nonces: its
    pages (both mounts) allow inline script and style, nothing else differs from the strict policy."""
    client.force_login(superuser)
    relaxed = {**STRICT, "script-src": "'self' 'unsafe-inline'", "style-src": "'self' 'unsafe-inline'"}
    for url in ("/admin/django_rq/", "/admin/django_rq/queues/0/", "/admin/django_rq/workers/0/",
                "/admin/django_rq/dashboard/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert directives(response) == relaxed, url
    assert directives(client.get("/admin/")) == STRICT
    assert directives(client.get("/admin/django_rq/nowhere/")) == STRICT  # a 404 there is not django-rq's page


def test_the_check_finds_every_kind_of_breach():
    html = (
        '<html><head><meta name="htmx-config" content="{}"><script src="/static/django_htmx/htmx-2.min.js"></script>'
        '<script src="https://cdn.example/x.js"></script><script nonce="old">go()</script><style>p{}</style>'
        '</head><body><p style="color:red" onclick="go()" hx-on:click="go()"><a href="javascript:go()">x</a></p>'
        '<script nonce="abc">fine()</script><style nonce="abc">fine{}</style></body></html>'
    )
    response = HttpResponse(html)
    response["Content-Security-Policy"] = "script-src 'self' 'nonce-abc'"
    found = problems(response)
    assert len(found) == 8, found
    assert "htmx will inject its indicator <style> without the nonce" in found
    assert problems(HttpResponse("<p>no header</p>")) == ["no Content-Security-Policy header"]
