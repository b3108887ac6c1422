"""What the oversight pages (approvals, legal holds, audit log) share: who may open them, the
guard decorator, links to part A's job pages, and a cheap check of the audit chain's tail and
its witness.

The rules for *acting* (approve, reject, place or release a hold, export) are the engine's, in
chatdata.permissions; the two rules for *looking* that it does not spell out yet live here (asked
for in the brief's engine-feedback.md) and are built from its roles, not invented anew.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.urls import reverse

from chatdata import roles
from chatdata.audit import GENESIS, ChainReport, chain_problem, with_witness
from chatdata.models import AuditEntry
from chatdata.permissions import can_export_audit, can_manage_holds, can_view_audit, can_view_erasures
from chatdata.witness import check_witness

TAIL = 200


def can_view_approvals(user):
    """Whoever may approve some kind of request: moderators (conversation-level requests),
    compliance (erasures) and admins. Each row still says whether *this* user may approve it."""
    return roles.has_role(user, roles.MODERATOR, roles.COMPLIANCE)


def can_view_holds(user):
    """Every staff role: holds are named in every preview and refusal they cause anyway."""
    return bool(roles.roles_of(user))


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


def verify_tail(n=TAIL):
    """Check the newest `n` entries (each hash recomputes from its fields and each links to the one
    before it) and compare the table with the newest witness of its head: a few milliseconds, for
    the audit page's status line. `verify_chain` (the "Verify the whole chain" page and
    `manage.py verify_audit`) walks everything."""
    newest = list(AuditEntry.objects.order_by("-id")[: n + 1])
    newest.reverse()
    # The oldest fetched entry only anchors the link of the next one, unless it is the first ever.
    anchor = newest[0] if len(newest) > n else None
    checked = newest[1:] if anchor else newest
    previous = anchor.hash if anchor else GENESIS
    report = ChainReport(True, len(checked))
    for entry in checked:
        if problem := chain_problem(entry, previous):
            report = ChainReport(False, len(checked), entry.pk, problem)
            break
        previous = entry.hash
    return with_witness(report, check_witness())
