"""Throttling failed logins with django-axes (issue 11, item 4): the settings' callables, the
lockout page, and when a lockout ends.

axes keeps one row per (username, address, user agent) with its failures and the time of the
last one, and forgets a row once that time is LOGIN_FAILURE_WINDOW_MINUTES old. An account is
locked while its rows (from any address) still count LOGIN_FAILURE_LIMIT failures or more; an
address likewise (for any username). Because failures during a lockout are not counted
(AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT off), a lockout ends at a time known when it
starts, which the page names, and hammering on a locked account does not prolong it.

Every login goes through django.contrib.auth.authenticate(), so the dashboard's login page and
Django's admin login are both throttled by the backend (settings.AUTHENTICATION_BACKENDS);
dashboard.web.accounts.login_audit writes the audit entries.
"""

from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from django.conf import settings
from django.shortcuts import render
from django.utils import timezone

from dashboard.web.guards import client_ip

USERNAME_MAX = 150  # Django's own limit for usernames; anything longer is cut, never stored whole


def failure_limit(request=None, credentials=None):
    return settings.LOGIN_FAILURE_LIMIT


def window(request=None):
    return timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)


def client_address(request):
    return client_ip(request)  # the same address the audit log records


class DatabaseHandler(AxesDatabaseHandler):
    """axes's database handler (settings.AXES_HANDLER). It stores the request's User-Agent and
    Accept headers with each failure, and PostgreSQL text refuses NUL characters: a header with
    one would turn a failed login into a server error and go uncounted. They are escaped first."""

    HEADERS = ("axes_user_agent", "axes_http_accept", "axes_path_info")

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        for name in self.HEADERS if request is not None else ():
            value = getattr(request, name, None)
            if isinstance(value, str) and "\x00" in value:
                setattr(request, name, value.replace("\x00", "\\x00"))
        return super().user_login_failed(sender, credentials, request, **kwargs)


def attempted_username(request, credentials=None):
    source = credentials if credentials is not None else request.POST
    value = source.get("username") if source is not None else None
    return None if value is None else str(value)[:USERNAME_MAX]


def _unlocks_at(attempts, limit):
    """When a set of attempt rows drops below `limit` failures, or None if it is below already."""
    rows = sorted(attempts.values_list("attempt_time", "failures_since_start"))
    total = sum(failures for _, failures in rows)
    if total < limit:
        return None
    for last_failure, failures in rows:  # the oldest rows age out first
        total -= failures
        if total < limit:
            return last_failure + window()
    return None  # not reached: the loop ends below any limit of at least 1


def lockout_state(request, credentials=None):
    """{"by_account": bool, "by_address": bool, "until": datetime or None, "failures": int}."""
    handler = AxesProxyHandler.get_implementation()
    by_account, by_address = handler.get_user_attempts(request, credentials)  # AXES_LOCKOUT_PARAMETERS' order
    limit = failure_limit()
    account_until, address_until = _unlocks_at(by_account, limit), _unlocks_at(by_address, limit)
    ends = [moment for moment in (account_until, address_until) if moment is not None]
    return {
        "by_account": account_until is not None,
        "by_address": address_until is not None,
        "until": max(ends) if ends else None,
        "failures": handler.get_failures(request, credentials),
    }


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out login gets: 429, when to try again, and a Retry-After header."""
    state = lockout_state(request, credentials)
    until = state["until"] or timezone.now() + window()
    seconds = max(1, int((until - timezone.now()).total_seconds()) + 1)
    response = render(request, "registration/locked_out.html", {
        "until": until,
        "minutes": -(-seconds // 60),
        "by_account": state["by_account"],
        "by_address": state["by_address"],
        "username": get_client_username(request, credentials) or "",
        "limit": failure_limit(),
        "window_minutes": settings.LOGIN_FAILURE_WINDOW_MINUTES,
    }, status=429)
    response["Retry-After"] = str(seconds)
    return response
