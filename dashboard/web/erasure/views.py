"""Erasure requests on the web: the compliance overview, opening a request, its page with live
progress, the approval page, the certificate and the subject's export (issue 13, DESIGN.md §5).

Every rule is the domain's (chatdata.erasure, chatdata.permissions): the views ask the `*_refusal`
helpers which actions to offer and call the `do_*` actions, which refuse by the same helpers and
audit. Looking is for compliance officers, auditors and admins (can_view_erasures); a refusal
for a person who may look is an error message on the page they came from, and nothing changes.
The request page's live region is re-fetched by htmx every two seconds while the request runs or
verifies (its purges' progress with it) and carries no trigger otherwise, so polling stops when
the run ends.
"""

from datetime import timedelta

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatdata.erasure import overview
from chatdata.erasure.actions import (
    ErasureInvalid,
    ErasureRefused,
    approve_refusal,
    cancel_refusal,
    do_approve_erasure,
    do_cancel_erasure,
    do_open_erasure,
    do_reject_erasure,
    do_erase_outside_holds,
    do_resume_erasure,
    outside_holds_refusal,
    reject_refusal,
    resume_refusal,
)
from chatdata.erasure.certificate import certificate_context, certificate_refusal, do_issue_certificate, render as render_json
from chatdata.erasure.export import export_filename, export_refusal, stream_export
from chatdata.erasure.forecast import erasure_forecast
from chatdata.erasure.residue import DELETED_KEYS, RESIDUE_KEYS
from chatdata.erasure.run import purges_of
from chatdata.models import ErasureRequest
from chatdata.permissions import can_view_erasures, erasure_open_refusal
from dashboard.web.erasure.forms import ErasureFilterForm, OpenErasureForm, RejectForm
from dashboard.web.guards import client_ip, guarded
from dashboard.web.purge.confirm import ConfirmForm

State = ErasureRequest.State
SHOWN = 200
LIVE = frozenset({State.RUNNING, State.VERIFYING})
LABELS = {
    "messages": "Messages", "attachments": "Attachments", "files": "Files in storage", "file_outbox": "Files queued for removal",
    "reactions": "Reactions", "hides": "Hides", "pending_deliveries": "Pending deliveries", "memberships": "Memberships",
    "conversations": "Conversations", "sync_events": "Sync events", "chat_user": "Chat user row (not pseudonymised)",
    "peer_conversations": "Peer conversations", "purge_samples": "Samples in purge previews",
}

viewers_only = guarded(can_view_erasures, "Only compliance officers, auditors and admins see erasure requests.")
openers_only = guarded(lambda user: erasure_open_refusal(user) is None, "Only compliance officers and admins take erasure requests.")


def _request(pk):
    return get_object_or_404(
        ErasureRequest.objects.select_related("subject", "requested_by", "approved_by", "rejected_by", "cancelled_by"), pk=pk
    )


def _decorate(erasure, now):
    erasure.urgency = overview.urgency(erasure, now)
    erasure.days = erasure.days_left(now) if erasure.state in ErasureRequest.PENDING_STATES else None
    # Whole days past due (0 on the first day overdue); days_left rounds the other way.
    erasure.days_overdue = (now - erasure.due_at) // timedelta(days=1) if erasure.urgency == overview.OVERDUE else None
    return erasure


def _rows(counts, keys):
    if counts is None:
        return None
    return [(key, LABELS.get(key, key), counts.get(key, 0)) for key in dict.fromkeys([*keys, *counts])]


# --- the overview and intake ---------------------------------------------------------------------


@require_GET
@viewers_only
def erasure_overview(request):
    form = ErasureFilterForm(request.GET)
    now = timezone.now()
    requests, total = None, 0
    if form.is_valid():
        found = overview.erasure_requests(now=now, **form.filters())
        requests = [_decorate(e, now) for e in found[:SHOWN]]
        total = len(requests) if len(requests) < SHOWN else found.count()
    return render(request, "erasure/overview.html", {
        "section": "erasure",
        "form": form,
        "requests": requests,
        "total": total,
        "due_soon": overview.due_soon_count(now),
        "overdue": overview.erasure_requests(overdue=True, now=now).count(),
        "may_open": erasure_open_refusal(request.user) is None,
    }, status=200 if form.is_valid() else 400)


@require_http_methods(["GET", "POST"])
@openers_only
def open_request(request):
    if request.method == "POST":
        form = OpenErasureForm(request.POST)
        if form.is_valid():
            try:
                erasure = do_open_erasure(actor=request.user, ip=client_ip(request), **form.open_arguments())
            except ErasureInvalid as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            except ErasureRefused as exc:
                form.add_error(None, exc.message)
            else:
                if erasure.state == State.BLOCKED:
                    messages.warning(request, f"Erasure #{erasure.pk} opened, and blocked: {erasure.blocked_reason}")
                else:
                    messages.success(request, f"Erasure #{erasure.pk} opened: it waits for a second compliance officer's approval.")
                return redirect("erasure:request", erasure.pk)
    else:
        # The user page's hold refusal links here with the subject and "erase everything not held".
        form = OpenErasureForm(initial={"user": request.GET.get("user", "")[:191],
                                        "outside_holds": request.GET.get("outside_holds") == "1"})
    return render(request, "erasure/open.html", {"section": "erasure", "form": form}, status=400 if form.errors else 200)


# --- one request -----------------------------------------------------------------------------------


def _actions(user, erasure):
    """What `user` may do to the request now: None for each action open to them, else why not."""
    return {
        "approve": approve_refusal(user, erasure),
        "reject": reject_refusal(user, erasure),
        "cancel": cancel_refusal(user, erasure),
        "resume": resume_refusal(user, erasure),
        "outside_holds": outside_holds_refusal(user, erasure),
        "export": export_refusal(user, erasure),
        "certificate": certificate_refusal(user, erasure),
    }


def request_context(request, erasure):
    now = timezone.now()
    _decorate(erasure, now)
    purges = purges_of(erasure)
    return {
        "section": "erasure",
        "erasure": erasure,
        "purges": purges,
        "counts": _rows(erasure.counts, DELETED_KEYS),
        "residue": _rows(erasure.residue, RESIDUE_KEYS),
        "residue_left": sum((erasure.residue or {}).values()),
        "kept_by_holds": [k for k in erasure.kept or [] if "hold" in k],
        "kept_otherwise": [k for k in erasure.kept or [] if "hold" not in k],
        "refusals": _actions(request.user, erasure),
        "poll": erasure.state in LIVE or any(p.state in ("queued", "running", "approved") for p in purges),
    }


@require_GET
@viewers_only
def request_page(request, pk):
    erasure = _request(pk)
    context = request_context(request, erasure)
    if request.htmx:
        return render(request, "erasure/request.html#live", context)
    return render(request, "erasure/request.html", context)


def _act(request, pk, action, verb, **kwargs):
    """Run a do_* action; a refusal or bad input becomes an error message. The request or None."""
    erasure = _request(pk)
    try:
        return action(erasure, actor=request.user, ip=client_ip(request), **kwargs)
    except (ErasureRefused, ErasureInvalid) as exc:
        messages.error(request, f"Erasure #{pk} was not {verb}. {exc.message}")
        return None


def _said(request, erasure, done):
    if erasure.state == State.BLOCKED:
        messages.warning(request, f"Erasure #{erasure.pk} is blocked: {erasure.blocked_reason}")
    elif erasure.state == State.RUNNING:
        messages.success(request, f"Erasure #{erasure.pk} {done}: it runs on the worker; this page shows its progress.")
    else:
        messages.success(request, f"Erasure #{erasure.pk} {done}; it is now {erasure.get_state_display().lower()}.")


@require_http_methods(["GET", "POST"])
@viewers_only
def approve(request, pk):
    """GET: the approval page (what will be erased, approve or reject); POST: approve."""
    if request.method == "POST":
        erasure = _request(pk)
        confirm = ConfirmForm(request.POST, erasure=erasure)
        # The typed id is asked only of someone the rules let approve; anyone else gets the
        # domain's refusal (audited there), whatever they typed.
        if approve_refusal(request.user, erasure) is None and not confirm.is_valid():
            return _approval_page(request, erasure, RejectForm(auto_id="reject-%s"), status=400, confirm=confirm)
        erasure = _act(request, pk, do_approve_erasure, "approved", confirmation=request.POST.get("confirmation", ""))
        if erasure is None:
            return redirect("erasure:approve", pk)
        _said(request, erasure, "approved")
        return redirect("erasure:request", pk)
    return _approval_page(request, _request(pk), RejectForm(auto_id="reject-%s"))


def _approval_page(request, erasure, form, status=200, confirm=None):
    _decorate(erasure, timezone.now())
    forecast = erasure_forecast(erasure) if erasure.state == State.AWAITING_APPROVAL else None
    return render(request, "erasure/approve.html", {
        "section": "erasure",
        "erasure": erasure,
        "forecast": forecast,
        "sent_rows": _rows(forecast["sent"], ()) if forecast else None,
        "elsewhere_rows": _rows(forecast["elsewhere"], ()) if forecast else None,
        "refusals": _actions(request.user, erasure),
        "reject_form": form,
        "confirm_form": confirm or ConfirmForm(erasure=erasure),
    }, status=status)


@require_POST
@viewers_only
def reject(request, pk):
    form = RejectForm(request.POST, auto_id="reject-%s")
    if not form.is_valid():
        return _approval_page(request, _request(pk), form, status=400)
    erasure = _act(request, pk, do_reject_erasure, "rejected", reason=form.cleaned_data["reason"])
    if erasure is None:
        return redirect("erasure:approve", pk)
    messages.success(request, f"Erasure #{pk} rejected. {erasure.requested_by.get_username()} sees your reason.")
    return redirect("erasure:request", pk)


@require_POST
@viewers_only
def cancel(request, pk):
    erasure = _act(request, pk, do_cancel_erasure, "cancelled")
    if erasure is not None:
        if erasure.state == State.CANCELLED:
            messages.success(request, f"Erasure #{pk} cancelled.")
        else:
            messages.success(request, f"Erasure #{pk} stops at its next step; its purges stop at their next batch.")
    return redirect("erasure:request", pk)


@require_POST
@viewers_only
def resume(request, pk):
    erasure = _act(request, pk, do_resume_erasure, "resumed")
    if erasure is not None:
        _said(request, erasure, "resumed")
    return redirect("erasure:request", pk)


@require_POST
@viewers_only
def outside_holds(request, pk):
    """A blocked request goes on without what its hold keeps, back to approval (chatdata.erasure)."""
    erasure = _act(request, pk, do_erase_outside_holds, "sent on without the held data")
    if erasure is not None:
        messages.success(request, f"Erasure #{pk} now erases everything the legal hold does not keep; it waits for a second compliance officer's approval.")
    return redirect("erasure:request", pk)


# --- what it hands out -------------------------------------------------------------------------------


@require_POST
@viewers_only
def export(request, pk):
    """The subject's data as a ZIP, streamed; refused (and audited, by the domain) with a message."""
    erasure = _request(pk)
    try:
        chunks = stream_export(erasure, actor=request.user, ip=client_ip(request))
    except ErasureRefused as exc:
        messages.error(request, f"The export of erasure #{pk} was refused. {exc.message}")
        return redirect("erasure:request", pk)
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(erasure)}"'
    return response


def _certificate(request, pk):
    erasure = _request(pk)
    try:
        document = do_issue_certificate(erasure, actor=request.user, ip=client_ip(request))
    except ErasureRefused as exc:
        messages.error(request, f"No certificate for erasure #{pk}. {exc.message}")
        return erasure, None
    return erasure, document


@require_GET
@viewers_only
def certificate(request, pk):
    """The printable certificate: one A4 document (the print stylesheet leaves the page's frame out)."""
    erasure, document = _certificate(request, pk)
    if document is None:
        return redirect("erasure:request", pk)
    cert = certificate_context(erasure)
    return render(request, "erasure/certificate.html", {
        "section": "erasure",
        "erasure": erasure,
        "cert": cert,
        "deleted": _rows(dict(cert["deleted"]), DELETED_KEYS),
        "residue": _rows(dict(cert["residue"]), RESIDUE_KEYS),
    })


@require_GET
@viewers_only
def certificate_json(request, pk):
    """The signed JSON, byte for byte what `manage.py erasure certificate` writes."""
    erasure, document = _certificate(request, pk)
    if document is None:
        return redirect("erasure:request", pk)
    response = HttpResponse(render_json(document).encode("utf-8"), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="erasure-{erasure.pk}-certificate.json"'
    return response
