"""Logins, failed logins and logouts go into the audit log (DESIGN.md invariant 4).

Hooked on Django's auth signals (connected in DashboardConfig.ready) rather than on the login
view, so every way in is recorded: the login page, Django's admin login, and any later API or
SSO login that calls django.contrib.auth.login(). A failed attempt has no staff account to name,
so its entry is the system's with role "anonymous" and the attempted username in `target`;
the password never reaches the log (Django masks it in the signal's credentials).
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from chatdata.audit import write_audit

USERNAME_MAX = 150


def _ip(request):
    if request is None:  # authenticate() called outside a request, e.g. from a shell
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_login(sender, request, user, **kwargs):
    write_audit("auth.login", actor=user, target=f"login {user.get_username()}", ip=_ip(request))


def record_login_failed(sender, credentials, request=None, **kwargs):
    name = str(credentials.get("username", ""))[:USERNAME_MAX]
    write_audit(
        "auth.login_failed",
        actor=None,
        role="anonymous",
        target=f"login {name}",
        reason="Wrong username or password, or an inactive account.",
        ip=_ip(request),
    )


def record_logout(sender, request, user, **kwargs):
    if user is not None:  # logging out a session that was not logged in sends user=None
        write_audit("auth.logout", actor=user, target=f"logout {user.get_username()}", ip=_ip(request))


def connect():
    user_logged_in.connect(record_login, dispatch_uid="chatsweep.audit.login")
    user_login_failed.connect(record_login_failed, dispatch_uid="chatsweep.audit.login_failed")
    user_logged_out.connect(record_logout, dispatch_uid="chatsweep.audit.logout")
