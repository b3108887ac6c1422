"""What the pages share: what the navigation offers (the oversight pages: approvals, legal holds,
audit log, erasures), the guard decorator, the client's address, links to the job pages.

Every rule, for looking as for acting, is the engine's (chatdata.permissions); the audit chain's
tail is checked by chatdata.audit.verify_chain(last=N).
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.urls import reverse

from chatdata.permissions import (
    can_export_audit,
    can_manage_holds,
    can_view_approvals,
    can_view_audit,
    can_view_erasures,
    can_view_holds,
)


def access(user):
    """What the navigation and the pages offer to `user` (the server checks again on each view)."""
    return {
        "approvals": can_view_approvals(user),
        "holds": can_view_holds(user),
        "manage_holds": can_manage_holds(user),
        "audit": can_view_audit(user),
        "export_audit": can_export_audit(user),
        "erasures": can_view_erasures(user),
    }


def guarded(rule, message):
    """403 (templates/403.html, with `message`) unless `rule(request.user)` holds."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not rule(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def client_ip(request):
    return request.META.get("REMOTE_ADDR") or None


def job_url(pk):
    """The job page of purge request `pk`, or None for an entry that names no request."""
    return reverse("jobs:detail", args=[pk]) if pk is not None else None
