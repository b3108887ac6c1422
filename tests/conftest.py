"""Shared fixtures: named staff personas, an isolated media root, a clean Redis database.

Tests run against the real PostgreSQL and Redis servers given by DATABASE_URL and REDIS_URL
(`./chatsweep test` sets both to the local servers when unset).
"""

import os

import pytest
from django.contrib.auth.models import Group, User

from chatdata import roles
from tests import csp_check

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct horse battery staple"


def make_staff(username, *role_names, superuser=False):
    user = User.objects.create_user(username=username, password=PASSWORD, is_superuser=superuser)
    for name in role_names:
        # get_or_create: transactional tests flush the tables, taking the migration's groups along.
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


@pytest.fixture
def moderator(db):
    return make_staff("mona", roles.MODERATOR)


@pytest.fixture
def moderator2(db):
    return make_staff("max", roles.MODERATOR)


@pytest.fixture
def support(db):
    return make_staff("sam", roles.SUPPORT)


@pytest.fixture
def compliance(db):
    return make_staff("cleo", roles.COMPLIANCE)


@pytest.fixture
def auditor(db):
    return make_staff("audrey", roles.AUDITOR)


@pytest.fixture
def admin_user(db):
    return make_staff("ada", roles.ADMIN)


@pytest.fixture
def outsider(db):
    """A logged-in account with no chatsweep role."""
    return make_staff("otto")


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def redis_conn():
    import django_rq

    conn = django_rq.get_connection("default")
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Browser tests drive Debian's Chromium (never a downloaded one), headless, quiet on the network."""
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(autouse=True)
def csp_violations(request, monkeypatch):
    """Browser tests fail on any Content Security Policy violation a page reports: every context
    they open (pytest-playwright's `page` too) is watched from its first page on."""
    if request.node.get_closest_marker("browser") is None:
        yield []
        return
    browser = request.getfixturevalue("browser")
    found = []
    new_context = browser.new_context

    def watched_new_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        csp_check.watch(context, into=found)
        return context

    monkeypatch.setattr(browser, "new_context", watched_new_context)
    yield found
    assert found == [], "Content Security Policy violations:\n" + "\n".join(found)
