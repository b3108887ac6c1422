"""The audit log over the API: the web's filters (the same form, so the same messages), newest
first, paged by cursor (an entry id: the page holds entries older than it)."""

from datetime import date, datetime
from typing import Any

from ninja import Router, Schema

from chatdata.permissions import can_view_audit
from dashboard.api.common import Id, Invalid, allow, page_limit, responses
from dashboard.web.oversight.audit import audit_entries
from dashboard.web.oversight.forms import AuditFilterForm

router = Router(tags=["audit log"])


class EntryOut(Schema):
    id: int
    created_at: datetime
    actor: str
    actor_id: int | None
    role: str
    action: str
    target: str
    purge_request_id: int | None
    reason: str
    ticket: str
    ip: str | None
    api_token: str
    scope: Any
    counts: Any
    prev_hash: str
    hash: str


class EntryPage(Schema):
    results: list[EntryOut]
    next: int | None


@router.get("", response=responses(EntryPage), summary="Query the audit log (the web's filters), newest first")
def query(
    request,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    purge_request: Id | None = None,
    since: date | None = None,
    until: date | None = None,
    before: Id | None = None,
    limit: int | None = None,
):
    allow(None if can_view_audit(request.auth.owner) else "Only auditors, compliance officers and admins read the audit log.")
    limit = page_limit(limit)
    data = {
        "actor": actor or "", "action": action or "", "target": target or "",
        "request": "" if purge_request is None else str(purge_request),
        "since": since.isoformat() if since else "", "until": until.isoformat() if until else "",
    }
    form = AuditFilterForm(data)
    if not form.is_valid():
        field, messages = next(iter(form.errors.items()))
        raise Invalid(messages[0], {"request": "purge_request", "__all__": None}.get(field, field))
    entries = audit_entries(**form.filters())
    if before is not None:
        entries = entries.filter(id__lt=before)
    page = list(entries.order_by("-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "results": [
            {
                "id": e.pk, "created_at": e.created_at, "actor": e.actor_name, "actor_id": e.actor_id, "role": e.role,
                "action": e.action, "target": e.target, "purge_request_id": e.purge_request_id, "reason": e.reason,
                "ticket": e.ticket, "ip": e.ip, "api_token": e.api_token, "scope": e.scope, "counts": e.counts,
                "prev_hash": e.prev_hash, "hash": e.hash,
            }
            for e in page
        ],
        "next": page[-1].pk if more else None,
    }
