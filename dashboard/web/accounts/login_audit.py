"""Logins, failed logins, lockouts and logouts go into the audit log (DESIGN.md invariant 4).

Hooked on Django's auth signals (connected in DashboardConfig.ready) rather than on the login
view, so every way in is recorded: the login page, Django's admin login, and any later API or
SSO login that calls django.contrib.auth.login(). A failed attempt has no staff account to name,
so its entry is the system's with role "anonymous" and the attempted username in `target`;
the password never reaches the log (Django masks it in the signal's credentials).

Anyone can fail a login, so failures must not grow the log one entry per attempt. They come in
bursts, and each burst leaves one entry (issue 11, item 4):
- `auth.login_failed` for the first failure of a username from an address, unless that pair
  already has one within LOGIN_FAILURE_WINDOW_MINUTES;
- `auth.lockout` when django-axes locks the account or the address (dashboard.web.accounts.login_throttle),
  carrying the failure count, once per locked account and once per locked address within the
  window; the attempts refused during the lockout write nothing more.
The check and the append run under the audit log's own lock (chatdata.audit), so two
simultaneous failures cannot both be "the first". A username tried from many addresses thus
leaves at most LOGIN_FAILURE_LIMIT entries per window, and so does an address trying many names.
"""

from datetime import timedelta

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.utils import timezone

from chatdata.audit import lock_chain, write_audit
from chatdata.models import AuditEntry
from dashboard.web.accounts.login_throttle import USERNAME_MAX, lockout_state


def _ip(request):
    if request is None:  # authenticate() called outside a request, e.g. from a shell
        return None
    return request.META.get("REMOTE_ADDR") or None


def _target(username):
    return f"login {str(username or '')[:USERNAME_MAX]}"


def _recent(action):
    since = timezone.now() - timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)
    return AuditEntry.objects.filter(action=action, created_at__gte=since)


def record_login(sender, request, user, **kwargs):
    write_audit("auth.login", actor=user, target=f"login {user.get_username()}", ip=_ip(request))


def record_login_failed(sender, credentials, request=None, **kwargs):
    if request is not None and getattr(request, "axes_locked_out", False):
        return  # refused by a lockout (or the failure that caused it): record_lockout's to write
    target, ip = _target(credentials.get("username")), _ip(request)
    with transaction.atomic():
        lock_chain()
        if _recent("auth.login_failed").filter(target=target, ip=ip).exists():
            return
        write_audit(
            "auth.login_failed",
            actor=None,
            role="anonymous",
            target=target,
            reason=(
                "Wrong username or password, or an inactive account. Further failures of this login "
                f"from this address within {settings.LOGIN_FAILURE_WINDOW_MINUTES} minutes are not "
                "written one by one: a lockout entry counts them."
            ),
            ip=ip,
        )


def record_lockout(sender, request, username, ip_address, **kwargs):
    target, ip = _target(username), _ip(request)
    state = lockout_state(request, getattr(request, "axes_credentials", None))
    with transaction.atomic():
        lock_chain()
        recent = _recent("auth.lockout")
        new_account = state["by_account"] and not recent.filter(target=target, scope__by_account=True).exists()
        new_address = state["by_address"] and not recent.filter(ip=ip, scope__by_address=True).exists()
        if not (new_account or new_address):
            return
        write_audit(
            "auth.lockout",
            actor=None,
            role="anonymous",
            target=target,
            scope={
                "by_account": state["by_account"],
                "by_address": state["by_address"],
                "until": state["until"].isoformat() if state["until"] else None,
            },
            counts={"failures": state["failures"]},
            reason=(
                f"{state['failures']} failed logins with less than {settings.LOGIN_FAILURE_WINDOW_MINUTES} "
                "minutes between them: further logins are refused until the time in scope.until."
            ),
            ip=ip,
        )


def record_logout(sender, request, user, **kwargs):
    if user is not None:  # logging out a session that was not logged in sends user=None
        write_audit("auth.logout", actor=user, target=f"logout {user.get_username()}", ip=_ip(request))


def connect():
    user_logged_in.connect(record_login, dispatch_uid="chatsweep.audit.login")
    user_login_failed.connect(record_login_failed, dispatch_uid="chatsweep.audit.login_failed")
    user_locked_out.connect(record_lockout, dispatch_uid="chatsweep.audit.lockout")
    user_logged_out.connect(record_logout, dispatch_uid="chatsweep.audit.logout")
