"""A PurgeRequest as one JSON object: what `manage.py purge --json` prints and the API returns.

    {"request": 12, "state": "done", "target": "conversation grp", "effect": "delete_for_everyone",
     "preview": {"messages": 10, ..., "excluded_by_hold": 0, "high_water_mark": 9120, ...},
     "result": {"messages": 10, ..., "beyond_preview": 0} | null,
     "items": [{"conversation": "c1", "status": "ok", "reason": "", "preview": {...}, "counts": {...}}],
     "progress": {"processed_messages": 10, "total_messages": 10, "percent": 100, "batches": 1, ...},
     "error": ""}

`result.beyond_preview` counts messages the scope matched past the preview's count (stored after
the preview, below its high-water mark): a run leaves them, never taking more than it previewed.
"""


def _iso(moment):
    return moment.isoformat() if moment else None


def purge_json(request):
    return {
        "request": request.pk,
        "state": request.state,
        # A preview left unconfirmed past PURGE_PREVIEW_TTL: `state` stays "previewed".
        "expired": request.is_expired,
        "expires_at": _iso(request.preview_expires_at),
        "scope": request.spec,
        "target": request.target,
        "effect": request.effect,
        "requested_by": request.requested_by.get_username(),
        "approved_by": request.approved_by.get_username() if request.approved_by_id else None,
        "closed_by": request.closed_by.get_username() if request.closed_by_id else None,
        "reason": request.reason,
        "ticket": request.ticket,
        "needs_approval": request.needs_approval,
        "runs_inline": request.runs_inline,
        "preview": request.preview,
        "result": request.result,
        "items": [
            {
                "conversation": item.conversation_external_id,
                "status": item.status,
                "reason": item.reason,
                "preview": item.preview,
                "counts": item.counts,
            }
            for item in request.items.order_by("position")
        ],
        "progress": {
            "processed_messages": request.processed_messages,
            "total_messages": request.total_messages,
            "percent": request.percent_done,
            "batches": request.batches,
            "longest_batch_ms": request.longest_batch_ms,
            "queued_at": _iso(request.queued_at),
            "started_at": _iso(request.started_at),
            "last_batch_at": _iso(request.last_batch_at),
            "finished_at": _iso(request.finished_at),
            "cancel_requested": request.cancel_requested,
        },
        "error": request.error,
    }
