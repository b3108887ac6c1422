"""Notices: what became of one's own requests, newest first (issue 14, item 6).

A requester is told when their purge request was approved, rejected, cancelled by someone else,
finished or failed, and when their erasure request was approved, rejected, blocked by a legal
hold, completed or failed. Each notice is an entry of the audit log: every one of those changes
already writes one, in the same transaction as the change, so a notice can neither be missed
nor disagree with what happened, requests made before this existed have theirs, and neither
the engine nor the jobs know about notices. What one did oneself is left out (one was there).
The purges an erasure makes for itself are left out too: the erasure's own notices tell it.

Read or unread: chatdata.models.NoticeCursor keeps the newest entry a person has marked as read;
marking is one's own reading state, not a change to chat data or to a request, and is not
audited.
"""

from django.db.models import BigIntegerField, Q, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from chatdata.models import AuditEntry, ErasureRequest, NoticeCursor, PurgeRequest

PURGE_EVENTS = {
    "purge.approve": "approved",
    "purge.reject": "rejected",
    "purge.cancel": "cancelled",
    "purge.complete": "finished",
    "purge.fail": "failed",
}
ERASURE_EVENTS = {
    "erasure.approve": "approved",
    "erasure.reject": "rejected",
    "erasure.blocked": "blocked by a legal hold",
    "erasure.complete": "completed",
    "erasure.fail": "failed",
}
SHOWN = 100


def _entries(staff):
    """One query, whatever the page: the header counts these on every page."""
    purges = PurgeRequest.objects.filter(requested_by=staff, erasure__isnull=True).values("id")
    erasures = ErasureRequest.objects.filter(requested_by=staff).values("id")
    # An erasure's entries name it in their scope ({"erasure": id, ...}: chatdata.erasure.actions).
    erasure_of = Cast(KeyTextTransform("erasure", "scope"), BigIntegerField())
    q = Q(action__in=list(PURGE_EVENTS), purge_request_id__in=purges)
    q |= Q(action__in=list(ERASURE_EVENTS), erasure_of__in=erasures)
    # Someone else, or the system (a worker ending a run): never what one did oneself.
    return AuditEntry.objects.alias(erasure_of=erasure_of).filter(q).exclude(actor=staff)


def _cursor(staff):
    return NoticeCursor.objects.filter(staff=staff).values("read_up_to")[:1]


def read_up_to(staff):
    return NoticeCursor.objects.filter(staff=staff).values_list("read_up_to", flat=True).first() or 0


class Notice:
    def __init__(self, entry, unread):
        self.entry = entry
        self.at = entry.created_at
        self.unread = unread
        self.by = None if entry.actor_id is None else entry.actor_name
        if entry.action in PURGE_EVENTS:
            self.kind, self.request_id, self.what = "purge", entry.purge_request_id, PURGE_EVENTS[entry.action]
        else:
            self.kind, self.request_id, self.what = "erasure", (entry.scope or {}).get("erasure"), ERASURE_EVENTS[entry.action]
        self.outcome = entry.action.split(".", 1)[1]
        self.target = entry.target
        self.reason = entry.reason if entry.action.endswith(("reject", "fail", "blocked")) else ""

    @property
    def title(self):
        noun = "Purge request" if self.kind == "purge" else "Erasure"
        by = f" by {self.by}" if self.by else ""
        return f"{noun} #{self.request_id} {self.what}{by}"


def notices_for(staff, limit=SHOWN):
    """The newest `limit` notices of `staff`, newest first."""
    seen = read_up_to(staff)
    return [Notice(entry, entry.pk > seen) for entry in _entries(staff).order_by("-id")[:limit]]


def unread_count(staff):
    return _entries(staff).filter(id__gt=Coalesce(Subquery(_cursor(staff)), 0)).count()


def mark_read(staff, up_to):
    """Mark as read every notice up to entry `up_to` (the newest the person saw); never moves
    back, nor past their newest notice (a made-up number cannot hide notices still to come)."""
    newest = _entries(staff).order_by("-id").values_list("id", flat=True).first() or 0
    up_to = min(up_to, newest)
    cursor, _ = NoticeCursor.objects.get_or_create(staff=staff)
    if up_to > cursor.read_up_to:
        cursor.read_up_to = up_to
        cursor.updated_at = timezone.now()
        cursor.save(update_fields=["read_up_to", "updated_at"])
    return cursor
