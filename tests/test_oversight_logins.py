"""Logins, failed logins and logouts (ours and Django admin's) leave audit entries, shown on the log page."""

import json

import pytest
from django.urls import reverse

from chatdata.models import AuditEntry
from tests.conftest import PASSWORD
from tests.oversight import audit_actions

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_it_audits_logins_failed_logins_and_logouts(client, moderator):
    response = client.post(reverse("login"), {"username": "mona", "password": "wrong"}, REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 200
    failed = AuditEntry.objects.get(action="auth.login_failed")
    assert (failed.action, failed.actor, failed.role, failed.target, failed.ip) == ("auth.login_failed", None, "anonymous", "login mona", "192.0.2.9")
    assert "wrong" not in json.dumps([failed.scope, failed.reason, failed.target])

    response = client.post(reverse("login"), {"username": "mona", "password": PASSWORD}, REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 302
    login = AuditEntry.objects.order_by("-id").first()
    assert (login.action, login.actor, login.role, login.ip) == ("auth.login", moderator, "moderator", "192.0.2.9")

    client.post(reverse("logout"))
    logout = AuditEntry.objects.order_by("-id").first()
    assert (logout.action, logout.actor) == ("auth.logout", moderator)
    assert audit_actions() == ["auth.login_failed", "auth.login", "auth.logout"]


def test_it_audits_admin_logins_too(client, admin_user):
    admin_user.is_staff = True  # Django's admin lets in only is_staff accounts
    admin_user.save()
    client.post("/admin/login/", {"username": "ada", "password": PASSWORD, "next": "/admin/"})
    assert audit_actions() == ["auth.login"]


def test_it_keeps_a_failed_login_in_the_log_page(client, auditor, moderator):
    client.post(reverse("login"), {"username": "mona", "password": "nope"})
    client.force_login(auditor)
    page = client.get(reverse("audit:log"), {"action": "auth.*"}).content.decode()
    assert "auth.login_failed" in page and "login mona" in page and "auth.login</a>" in page
