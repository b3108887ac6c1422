"""The audit log: filter, page, export, verify (DESIGN.md §5).

Filtering uses the log's own indexes: actor (actor, id), action (action, id), a purge request
(purge_request_id, id) and dates (created_at, id); the list is paged by keyset on id, newest
first, so page 1,000 costs what page 1 does. "Target contains" is a substring match over the
rows the other filters leave.

An export is a POST (it writes to the log: DESIGN.md invariant 6) and streams the filtered entries
oldest first through a server-side cursor, so its memory stays flat however long the log is. It is
bounded by the newest entry id at the moment of the request and writes its own `audit.export`
entry (filters, format, that bound, the number of entries) before the first byte goes out
(invariant 4), and the chain's head, that entry included, goes to the witness (chatdata.witness). Every column is exported, hashes included, so the file can be checked against the
chain. CSV cells that a spreadsheet would run as a formula (= + - @ at the start of a text field)
get a leading apostrophe; JSON lines carry every value exactly.
"""

import csv
import json
import time

from django.db.models import Max
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from chatdata.audit import ACTIONS, verify_chain, write_audit
from chatdata.models import AuditEntry
from chatdata.permissions import can_export_audit, can_view_audit
from chatdata.witness import witness_after_commit
from dashboard.web.browse.forms import STALE_CURSOR
from dashboard.web.guards import client_ip, guarded, job_url
from dashboard.web.oversight.forms import SYSTEM_ACTOR, AuditFilterForm

PAGE = 50
CHUNK = 2000
# The newest entries the log page checks on every load; the verify page walks them all.
TAIL = 200
COLUMNS = (
    "id", "created_at", "actor", "actor_id", "role", "action", "target", "purge_request_id",
    "reason", "ticket", "ip", "scope", "counts", "prev_hash", "hash",
)
TEXT_COLUMNS = {"actor", "role", "action", "target", "reason", "ticket"}
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
}

readers_only = guarded(can_view_audit, "Only auditors, compliance officers and admins read the audit log.")
exporters_only = guarded(can_export_audit, "Only compliance officers and admins export the audit log.")


def audit_entries(*, actor=None, actions=(), target="", request=None, start=None, end=None):
    entries = AuditEntry.objects.all()
    if actor == SYSTEM_ACTOR:
        entries = entries.filter(actor__isnull=True)
    elif actor is not None:
        entries = entries.filter(actor=actor)
    if actions:
        entries = entries.filter(action__in=actions)
    if target:
        entries = entries.filter(target__icontains=target)
    if request is not None:
        entries = entries.filter(purge_request_id=request)
    if start is not None:
        entries = entries.filter(created_at__gte=start)
    if end is not None:
        entries = entries.filter(created_at__lt=end)
    return entries


def _bound(request_data):
    form = AuditFilterForm(request_data)
    if form.is_valid():
        return form
    if "after" in form.errors:
        form.errors["after"] = form.error_class([STALE_CURSOR])
    return form


def _log_page(request, form, status=200):
    page, cursor = None, None
    if form.is_valid():
        entries = audit_entries(**form.filters())
        if form.cleaned_data["after"]:
            entries = entries.filter(id__lt=form.cleaned_data["after"])
        page = list(entries.order_by("-id")[: PAGE + 1])
        cursor = page[PAGE - 1].pk if len(page) > PAGE else None
        page = page[:PAGE]
        for entry in page:
            entry.label = ACTIONS.get(entry.action, "")
            counts = entry.counts if isinstance(entry.counts, dict) else {}
            entry.count_items = [(key.replace("_", " "), value) for key, value in counts.items() if value]
            entry.job_url = job_url(entry.purge_request_id)
    filtered = form.is_bound and any(form.data.get(name) for name in form.fields if name != "after")
    return render(request, "audit/log.html", {
        "section": "audit",
        "form": form,
        "page": page,
        "cursor": cursor,
        "filtered": filtered,
        "chain": verify_chain(last=TAIL),
    }, status=status)


@require_GET
@readers_only
def log(request):
    form = _bound(request.GET)
    return _log_page(request, form, status=200 if form.is_valid() else 400)


@require_GET
@readers_only
def verify(request):
    began = time.monotonic()
    report = verify_chain()
    return render(request, "audit/verify.html", {
        "section": "audit",
        "report": report,
        # The head of the chain: noting its hash down lets anyone check later that nothing before it changed.
        "head": AuditEntry.objects.order_by("-id").only("id", "hash", "created_at").first() if report.ok else None,
        "seconds": time.monotonic() - began,
        "checked_at": timezone.now(),
    })


class _Echo:
    """csv.writer writes into this and we hand each line on as it comes."""

    def write(self, value):
        return value


def _cell(name, value):
    if value is None:
        return ""
    if name in ("scope", "counts"):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if name in TEXT_COLUMNS and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _document(entry):
    return {
        "id": entry.pk,
        "created_at": entry.created_at.isoformat(),
        "actor": entry.actor_name,
        "actor_id": entry.actor_id,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "purge_request_id": entry.purge_request_id,
        "reason": entry.reason,
        "ticket": entry.ticket,
        "ip": entry.ip,
        "scope": entry.scope,
        "counts": entry.counts,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def _csv_lines(entries):
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(COLUMNS)  # the BOM makes spreadsheets read UTF-8
    for entry in entries.iterator(chunk_size=CHUNK):
        document = _document(entry)
        yield writer.writerow([_cell(name, document[name]) for name in COLUMNS])


def _json_lines(entries):
    for entry in entries.iterator(chunk_size=CHUNK):
        yield json.dumps(_document(entry), ensure_ascii=False) + "\n"


@require_POST
@exporters_only
def export(request, fmt):
    form = _bound(request.POST)
    if not form.is_valid():
        return _log_page(request, form, status=400)
    newest = AuditEntry.objects.aggregate(top=Max("id"))["top"] or 0
    entries = audit_entries(**form.filters()).filter(id__lte=newest).order_by("id")
    write_audit(
        "audit.export",
        actor=request.user,
        target=f"audit log ({fmt})",
        scope={"format": fmt, "filters": form.described(), "up_to_id": newest},
        counts={"entries": entries.count()},
        ip=client_ip(request),
    )
    witness_after_commit("export")
    content_type, extension = FORMATS[fmt]
    lines = _csv_lines(entries) if fmt == "csv" else _json_lines(entries)
    response = StreamingHttpResponse(lines, content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="chatsweep-audit-{stamp}.{extension}"'
    response["Cache-Control"] = "no-store"
    return response
