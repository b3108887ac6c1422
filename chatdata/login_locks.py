"""Lifting a login lockout (django-axes, configured in dashboard.settings) is a state change made
by a person, so it is audited: `auth.unlock`, one entry per account or address unlocked, with the
number of failed attempts it cleared. The `axes_reset*` commands of this app replace axes's own
unaudited ones (chatdata comes before axes in INSTALLED_APPS), and axes's admin pages, through
which attempts could be deleted, are switched off (AXES_ENABLE_ADMIN).
"""

import ipaddress

from axes.handlers.proxy import AxesProxyHandler
from django.db import transaction

from chatdata.audit import write_audit

USERNAME_MAX = 150


def check_address(text):
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError(f"{text[:60]!r} is not an IP address.") from None


def check_username(text):
    if not text.strip() or len(text) > USERNAME_MAX:
        raise ValueError(f"A username has 1 to {USERNAME_MAX} characters; {text[:60]!r} does not.")
    return text


def _target(username, ip):
    if username is not None and ip is not None:
        return f"login {username} from {ip}"
    if username is not None:
        return f"login {username}"
    if ip is not None:
        return f"address {ip}"
    return "every locked login and address"


@transaction.atomic
def do_unlock_logins(*, actor, username=None, ip=None, via=""):
    """Clear the failed attempts of `username` (from every address), of `ip` (for every username),
    of the two together when both are given, or of everyone when neither is. Returns the count."""
    cleared = AxesProxyHandler.reset_attempts(ip_address=ip, username=username)
    write_audit(
        "auth.unlock",
        actor=actor,
        target=_target(username, ip),
        scope={"username": username, "address": ip, "via": via},
        counts={"attempts_cleared": cleared},
    )
    return cleared
