"""Failed logins are throttled per account and per address (django-axes), the lockout is audited
once, and a burst of failures leaves one entry, not one per attempt (issue 11, item 4)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from chatdata.models import AuditEntry
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LOGIN = "/login/"
ADMIN_LOGIN = "/admin/login/"


def attempt(client, username, password, ip="192.0.2.10", url=LOGIN):
    return client.post(url, {"username": username, "password": password, "next": "/"}, REMOTE_ADDR=ip)


def auth_entries(*actions):
    entries = AuditEntry.objects.filter(action__startswith="auth.").order_by("id")
    if actions:
        entries = entries.filter(action__in=actions)
    return list(entries)


def logged_in(client):
    return "_auth_user_id" in client.session


def test_it_locks_an_account_out_after_ten_failures_and_logs_two_entries_for_fifty(client, moderator):
    answers = [attempt(client, "mona", f"guess-{n}").status_code for n in range(50)]
    assert answers[:9] == [200] * 9  # the login form again, "wrong username or password"
    assert set(answers[9:]) == {429}
    response = attempt(client, "mona", PASSWORD)
    assert response.status_code == 429 and not logged_in(client)
    entries = auth_entries()
    assert [entry.action for entry in entries] == ["auth.login_failed", "auth.lockout"]
    lockout = entries[1]
    assert (lockout.actor, lockout.role, lockout.target, lockout.ip) == (None, "anonymous", "login mona", "192.0.2.10")
    assert lockout.counts == {"failures": 10}
    assert lockout.scope["by_account"] is True


def test_it_tells_the_locked_out_person_when_to_try_again(client, moderator, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    for n in range(10):
        response = attempt(client, "mona", f"guess-{n}")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page and "Try again after" in page
    assert 840 <= int(response["Retry-After"]) <= 900
    # The time is shown in the server's zone, like every other time in chatsweep.
    assert "CET" in page or "CEST" in page
    assert "guess-9" not in page


def test_it_locks_an_address_out_that_tries_many_accounts(client, moderator, moderator2):
    for n in range(10):
        attempt(client, f"nobody-{n}", "x", ip="198.51.100.7")
    assert attempt(client, "max", PASSWORD, ip="198.51.100.7").status_code == 429
    assert not logged_in(client)
    lockout = auth_entries("auth.lockout")
    assert len(lockout) == 1 and lockout[0].scope["by_address"] is True
    # The same account from another address is not locked: the address was.
    assert attempt(client, "max", PASSWORD, ip="198.51.100.8").status_code == 302


def test_it_locks_an_account_out_that_many_addresses_try(client, moderator):
    for n in range(10):
        attempt(client, "mona", "x", ip=f"203.0.113.{n + 1}")
    response = attempt(client, "mona", PASSWORD, ip="203.0.113.200")
    assert response.status_code == 429 and not logged_in(client)
    # Each address's first failure is one entry, but the tenth is the lockout's; the refused right
    # password adds nothing.
    assert [e.action for e in auth_entries()] == ["auth.login_failed"] * 9 + ["auth.lockout"]
    assert auth_entries("auth.lockout")[0].counts == {"failures": 10}


def test_it_throttles_django_admins_login_too(client, admin_user):
    admin_user.is_staff = True
    admin_user.save()
    for n in range(10):
        response = attempt(client, "ada", f"guess-{n}", url=ADMIN_LOGIN)
    assert response.status_code == 429
    assert attempt(client, "ada", PASSWORD, url=ADMIN_LOGIN).status_code == 429
    assert client.get("/admin/").status_code == 302  # still sent to the login page
    assert [e.action for e in auth_entries()] == ["auth.login_failed", "auth.lockout"]


def test_the_lockout_ends_when_the_window_has_passed(client, moderator):
    from axes.models import AccessAttempt

    for n in range(10):
        attempt(client, "mona", f"guess-{n}")
    assert attempt(client, "mona", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert attempt(client, "mona", PASSWORD).status_code == 302 and logged_in(client)


def test_the_limit_and_window_come_from_the_settings(client, moderator, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for n in range(3):
        response = attempt(client, "mona", f"guess-{n}")
    assert response.status_code == 429
    assert auth_entries("auth.lockout")[0].counts == {"failures": 3}


def test_a_successful_login_is_still_one_entry_and_failures_below_the_limit_keep_working(client, moderator):
    for n in range(3):
        attempt(client, "mona", f"guess-{n}")
    assert attempt(client, "mona", PASSWORD).status_code == 302
    assert [e.action for e in auth_entries()] == ["auth.login_failed", "auth.login"]


def test_axes_reset_unlocks_and_is_audited(client, moderator, capsys):
    for n in range(10):
        attempt(client, "mona", f"guess-{n}")
    call_command("axes_reset", "--username", "mona")
    assert "mona" in capsys.readouterr().out
    unlock = auth_entries("auth.unlock")
    assert len(unlock) == 1
    assert (unlock[0].actor, unlock[0].target) == (None, "login mona")
    assert unlock[0].scope["via"] == "manage.py axes_reset" and unlock[0].counts == {"attempts_cleared": 1}
    assert attempt(client, "mona", PASSWORD).status_code == 302


def test_axes_reset_by_address_and_the_axes_spellings_are_audited_too(client, moderator):
    for n in range(10):
        attempt(client, f"nobody-{n}", "x", ip="198.51.100.7")
    call_command("axes_reset_ip", "198.51.100.7")
    call_command("axes_reset_username", "nobody-1", "nobody-2")
    call_command("axes_reset")
    unlocks = auth_entries("auth.unlock")
    assert [(e.target, e.counts["attempts_cleared"]) for e in unlocks] == [
        ("address 198.51.100.7", 10),
        ("login nobody-1", 0),
        ("login nobody-2", 0),
        ("every locked login and address", 0),
    ]
    assert attempt(client, "mona", PASSWORD, ip="198.51.100.7").status_code == 302


def test_the_lockout_page_and_login_form_show_in_the_log_page(client, moderator, auditor):
    for n in range(10):
        attempt(client, "mona", f"guess-{n}")
    client.force_login(auditor)
    page = client.get(reverse("audit:log"), {"action": "auth.*"}).content.decode()
    assert "Locked out after repeated failed logins" in page


def test_hostile_usernames_get_the_form_back_not_an_error(client, moderator):
    for username in ("mo\x00na", "m" * 5000, "", "²"):
        response = attempt(client, username, "x")
        assert response.status_code == 200, username[:20]
    # A name in markup is shown as text on the lockout page.
    for n in range(10):
        response = attempt(client, "<b>mona</b>", f"guess-{n}", ip="192.0.2.99")
    assert response.status_code == 429
    page = response.content.decode()
    assert "&lt;b&gt;mona&lt;/b&gt;" in page and "<b>mona</b>" not in page


def test_axes_reset_refuses_a_bad_address_and_changes_nothing(client, moderator):
    from django.core.management import CommandError

    for n in range(10):
        attempt(client, "mona", f"guess-{n}")
    with pytest.raises(CommandError, match="'not-an-ip' is not an IP address. Nothing was unlocked.") as caught:
        call_command("axes_reset", "--username", "mona", "--ip", "not-an-ip")
    assert caught.value.returncode == 2
    assert auth_entries("auth.unlock") == []
    assert attempt(client, "mona", PASSWORD).status_code == 429


@pytest.mark.parametrize("headers", [
    {"HTTP_USER_AGENT": "u" * 5000, "HTTP_ACCEPT": "a" * 5000},
    {"HTTP_USER_AGENT": "curl\x00/8"},
    {"HTTP_ACCEPT": "text/html\x00"},
], ids=["long", "nul-agent", "nul-accept"])
def test_hostile_headers_on_a_failed_login_are_counted_not_a_server_error(client, moderator, headers):
    from axes.models import AccessAttempt

    response = client.post(LOGIN, {"username": "mona", "password": "x"}, REMOTE_ADDR="192.0.2.10", **headers)
    assert response.status_code == 200
    assert AccessAttempt.objects.get().failures_since_start == 1
