"""What waits for whom: the requests a staff member could approve now (the navigation's count).

The rule is chatdata.permissions.approval_refusal, asked of each waiting request, so the count
agrees with the buttons of the approvals queue: never one's own request, only the kinds one's
roles may approve, not while a cooling period bars one. Purge requests that carry out an
erasure are not counted: the erasure's approval approved them.
"""

from chatdata.models import ErasureRequest, PurgeRequest
from chatdata.permissions import approval_refusal, can_view_approvals, erasure_approval_refusal

# Beyond this many waiting requests of each kind the count stops looking ("50+").
COUNTED = 50


def awaiting_approval(user):
    """(purge requests, erasure requests) waiting that `user` may approve, each list at most COUNTED long."""
    if user is None or not can_view_approvals(user):
        return [], []
    purges = (
        PurgeRequest.objects.filter(state=PurgeRequest.State.AWAITING_APPROVAL, erasure__isnull=True)
        .exclude(requested_by=user).only("id", "requested_by_id", "scope_kind", "erasure_id").order_by("id")[:COUNTED]
    )
    erasures = (
        ErasureRequest.objects.filter(state=ErasureRequest.State.AWAITING_APPROVAL)
        .exclude(requested_by=user).only("id", "requested_by_id").order_by("id")[:COUNTED]
    )
    return (
        [p for p in purges if approval_refusal(user, p) is None],
        [e for e in erasures if erasure_approval_refusal(user, e) is None],
    )


def awaiting_count(user):
    purges, erasures = awaiting_approval(user)
    return len(purges) + len(erasures)
