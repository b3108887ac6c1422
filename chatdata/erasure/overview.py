"""Read helpers for the compliance overview, the home page and `manage.py erasure list`: which
requests are pending, which are due soon or overdue. The rule lives here once.

A request is pending until it is done, rejected or cancelled (a blocked or failed one still has to
be answered); it is due soon when pending and due within DUE_SOON_DAYS, overdue once past due_at.
"""

from datetime import timedelta

from django.utils import timezone

from chatdata.models import ErasureRequest

DUE_SOON_DAYS = 7
OVERDUE, DUE_SOON = "overdue", "due_soon"


def erasure_requests(*, state=None, overdue=False, due_soon=False, pending=False, now=None):
    """Requests, due first (then oldest), optionally of one state, only the pending ones, only
    those due soon (overdue included, as due_soon_count counts them) or only the overdue ones."""
    now = now or timezone.now()
    requests = ErasureRequest.objects.select_related("subject", "requested_by").order_by("due_at", "id")
    if state:
        requests = requests.filter(state=state)
    if pending or overdue or due_soon:
        requests = requests.filter(state__in=ErasureRequest.PENDING_STATES)
    if overdue:
        requests = requests.filter(due_at__lt=now)
    if due_soon:
        requests = requests.filter(due_at__lt=now + timedelta(days=DUE_SOON_DAYS))
    return requests


def urgency(erasure, now=None):
    """OVERDUE, DUE_SOON or None, for highlighting."""
    if erasure.state not in ErasureRequest.PENDING_STATES:
        return None
    now = now or timezone.now()
    if erasure.due_at < now:
        return OVERDUE
    return DUE_SOON if erasure.due_at < now + timedelta(days=DUE_SOON_DAYS) else None


def due_soon_count(now=None):
    """Pending requests due within DUE_SOON_DAYS, overdue ones included (the home page's count)."""
    now = now or timezone.now()
    return ErasureRequest.objects.filter(
        state__in=ErasureRequest.PENDING_STATES, due_at__lt=now + timedelta(days=DUE_SOON_DAYS)
    ).count()
