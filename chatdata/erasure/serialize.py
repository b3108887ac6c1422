"""An ErasureRequest as one JSON object: what `manage.py erasure ... --json` prints and the API returns.

    {"request": 7, "state": "done", "subject": "erased-3f…", "subject_pseudonym": "erased-3f…",
     "ticket": "DSR-7", "received_at": "...", "due_at": "...", "days_left": 23, "overdue": false,
     "peer_conversations": "keep", "requested_by": "cleo", "approved_by": "ada", ...,
     "purges": [{"request": 41, "scope": "user", "state": "done", ...}],
     "counts": {"messages": 120, ...}, "residue": {"messages": 0, ...}, "kept": [...],
     "certificate": true, "error": ""}

`subject` is the chat user's external id as it stands: the original until the erasure
pseudonymises the row, the pseudonym after.
"""

from django.utils import timezone

from chatdata.erasure.overview import urgency
from chatdata.erasure.residue import DELETED_KEYS, RESIDUE_KEYS
from chatdata.erasure.run import purges_of


def _iso(moment):
    return moment.isoformat() if moment else None


def _ordered(counts, keys):
    """The stored counts (a jsonb object: its own key order) in the documented order."""
    if counts is None:
        return None
    return {key: counts[key] for key in keys if key in counts} | counts


def _name(user):
    return user.get_username() if user is not None else None


def erasure_summary(erasure, now=None):
    """The fields a listing shows."""
    now = now or timezone.now()
    pending = erasure.state in erasure.PENDING_STATES
    return {
        "request": erasure.pk,
        "state": erasure.state,
        "subject": erasure.subject.external_id,
        "subject_pseudonym": erasure.subject_pseudonym,
        "ticket": erasure.ticket,
        "received_at": _iso(erasure.received_at),
        "due_at": _iso(erasure.due_at),
        "days_left": erasure.days_left(now) if pending else None,
        "overdue": pending and erasure.due_at < now,
        "urgency": urgency(erasure, now),
        "peer_conversations": erasure.peer_conversations,
        "requested_by": _name(erasure.requested_by),
    }


def erasure_json(erasure):
    purges = purges_of(erasure)
    return {
        **erasure_summary(erasure),
        "notes": erasure.notes,
        "created_at": _iso(erasure.created_at),
        "approved_by": _name(erasure.approved_by),
        "approved_at": _iso(erasure.approved_at),
        "rejected_by": _name(erasure.rejected_by),
        "rejected_at": _iso(erasure.rejected_at),
        "rejection_reason": erasure.rejection_reason,
        "cancelled_by": _name(erasure.cancelled_by),
        "cancelled_at": _iso(erasure.cancelled_at),
        "cancel_requested": erasure.cancel_requested,
        "blocked_reason": erasure.blocked_reason,
        "holds": erasure.holds,
        "phase": erasure.phase,
        "started_at": _iso(erasure.started_at),
        "finished_at": _iso(erasure.finished_at),
        "checked_at": _iso(erasure.checked_at),
        "completed_at": _iso(erasure.completed_at),
        "purges": [
            {
                "request": p.pk,
                "scope": p.scope_kind,
                "effect": p.effect,
                "state": p.state,
                "processed_messages": p.processed_messages,
                "total_messages": p.total_messages,
                "percent": p.percent_done,
                "error": p.error,
            }
            for p in purges
        ],
        "counts": _ordered(erasure.counts, DELETED_KEYS),
        "residue": _ordered(erasure.residue, RESIDUE_KEYS),
        "kept": erasure.kept,
        "audit_hash_at_completion": erasure.audit_hash_at_completion,
        "certificate": erasure.certificate is not None,
        "error": erasure.error,
    }
