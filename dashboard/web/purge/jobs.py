"""Purge requests as jobs: the list, and one job's page with live progress, cancel and resume.

Cancelling asks first: the cancel button leads to a page (GET) that says what the request has done
and what will stop; its form POSTs the cancel. After a cancel, the job page says per conversation
what was done and what was not (chatdata.purge.remainder), and offers to resume the rest or to
close the request for good.

The job page's live region is re-fetched by htmx every second while the request can still move
on by itself (approved, queued, running) and every ten seconds while it waits for an approver;
the render of a request in any other state carries no trigger, so polling stops by itself when
the job ends. Without JavaScript the page is the same, refreshed by hand.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatdata.models import AuditEntry, PurgeItem, PurgeRequest
from chatdata.parsing import InvalidNumber, parse_count
from chatdata.permissions import manage_refusal
from chatdata.purge import remainder, staleness
from chatdata.purge.actions import (
    PurgeRefused,
    cancel_refusal,
    close_refusal,
    do_cancel_purge,
    do_close_purge,
    do_resume_purge,
    execute_refusal,
)
from chatdata.purge.scopes import CONVERSATIONS, PurgeInvalid
from dashboard.web.browse.forms import IdField
from dashboard.web.purge.panel import cancellable, count_rows, progress_figures, resumable
from dashboard.web.purge.request_page import back_link
from dashboard.web.purge.views import bad_request, client_ip, staff_only

State = PurgeRequest.State
PAGE = 50
ITEMS_PAGE = 100
AUDIT_SHOWN = 100
POLL_FAST = frozenset({State.APPROVED, State.QUEUED, State.RUNNING})


class JobFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False, choices=[("", "All states"), *staleness.state_choices()])
    after = IdField(widget=forms.HiddenInput)


@require_GET
def job_list(request):
    staff_only(request)
    form = JobFilterForm(request.GET, label_suffix="")
    jobs, next_after = None, None
    if form.is_valid():
        qs = PurgeRequest.objects.select_related("requested_by").order_by("-id")
        if form.cleaned_data["state"]:
            # "expired": previews past PURGE_PREVIEW_TTL, a state derived from their age.
            qs = staleness.filter_state(qs, form.cleaned_data["state"])
        if form.cleaned_data["after"]:
            qs = qs.filter(id__lt=form.cleaned_data["after"])
        # Keyset by id through purgerequest_state_idx (state, id) or the primary key.
        jobs = list(qs[: PAGE + 1])
        if len(jobs) > PAGE:
            jobs = jobs[:PAGE]
            next_after = jobs[-1].pk
    return render(request, "jobs/list.html", {"section": "jobs", "form": form, "jobs": jobs, "next_after": next_after})


def detail_context(request, purge):
    """The job page's context; InvalidNumber for a damaged `items_after`."""
    spec = purge.purge_spec
    items, items_next = [], None
    if spec.kind == CONVERSATIONS:
        position = request.GET.get("items_after", "")
        start = parse_count(position, "items_after", maximum=2**31 - 1) if position.strip() else -1
        items = list(purge.items.filter(position__gt=start).order_by("position")[: ITEMS_PAGE + 1])
        if len(items) > ITEMS_PAGE:
            items = items[:ITEMS_PAGE]
            items_next = items[-1].position
    if items and purge.state == State.RUNNING:
        # The conversation the run is in: its counts so far live in the checkpoint until it ends.
        for item in items:
            if item.position == purge.unit and item.status == PurgeItem.Status.PENDING:
                item.live_counts = ((purge.progress or {}).get("unit") or {}).get("counts") or {"messages": 0}
    poll = None
    if purge.state in POLL_FAST:
        poll = "every 1s"
    elif purge.state == State.AWAITING_APPROVAL:
        poll = "every 10s"
    return {
        "section": "jobs",
        "purge": purge,
        "spec": spec,
        "figures": progress_figures(purge),
        "rows": count_rows(spec, purge.preview, purge.result),
        "final": purge.is_final,
        "items": items,
        "items_next": items_next,
        "item_totals": _item_totals(purge) if spec.kind == CONVERSATIONS else None,
        "audit": list(AuditEntry.objects.filter(purge_request_id=purge.pk).order_by("id")[:AUDIT_SHOWN]),
        "may_cancel": cancellable(purge, request.user),
        "may_resume": resumable(purge, request.user),
        "may_close": close_refusal(purge, request.user) is None,
        "picture": remainder.picture(purge) if purge.state in (State.CANCELLED, State.CLOSED) else None,
        "resume_needs_approval": purge.state == State.CANCELLED and remainder.resume_needs_approval(purge),
        "may_confirm": execute_refusal(purge, request.user) is None,
        "poll": poll,
        "back": back_link(purge),
    }


def _item_totals(purge):
    counts = dict(purge.items.order_by().values_list("status").annotate(n=Count("id")))
    return [(label, counts.get(value, 0), value) for value, label in PurgeItem.Status.choices if counts.get(value)]


@require_GET
def job_detail(request, pk):
    staff_only(request)
    purge = get_object_or_404(PurgeRequest.objects.select_related("requested_by", "approved_by", "rejected_by"), pk=pk)
    try:
        context = detail_context(request, purge)
    except InvalidNumber as exc:
        return bad_request(request, exc.message)
    if request.htmx:
        return render(request, "jobs/detail.html#live", context)
    return render(request, "jobs/detail.html", context)


def _act(request, pk, action, verb):
    staff_only(request)
    purge = get_object_or_404(PurgeRequest, pk=pk)
    try:
        return action(purge, actor=request.user, ip=client_ip(request))
    except PurgeRefused as exc:
        if exc.code == PurgeRefused.NOT_PERMITTED:
            raise PermissionDenied(exc.message) from None
        messages.error(request, f"Could not {verb} purge #{purge.pk}: {exc.message}")
        return None


@require_http_methods(["GET", "POST"])
def cancel(request, pk):
    """GET: what cancelling would stop, and a button that POSTs it. POST: cancel (a previewed
    request is discarded)."""
    if request.method == "GET":
        return _cancel_page(request, pk)
    previewed = PurgeRequest.objects.filter(pk=pk, state=State.PREVIEWED).exists()
    purge = _act(request, pk, do_cancel_purge, "cancel")
    if purge is not None:
        if purge.state == State.CANCELLED and previewed:
            messages.success(request, f"Preview #{purge.pk} discarded: nothing was changed.")
            back = back_link(purge)
            if back:
                return redirect(back[0])
        elif purge.state == State.CANCELLED:
            messages.success(request, f"Purge #{purge.pk} cancelled. Below: what was done and what was not.")
        else:
            messages.success(request, f"Purge #{purge.pk} stops at the end of its current batch.")
    return redirect("jobs:detail", pk)


def _cancel_page(request, pk):
    staff_only(request)
    purge = get_object_or_404(PurgeRequest.objects.select_related("requested_by"), pk=pk)
    # Someone who may never cancel this request gets the 403 the POST would give.
    if refusal := manage_refusal(request.user, purge):
        raise PermissionDenied(refusal)
    context = {
        "section": "jobs",
        "purge": purge,
        "spec": purge.purge_spec,
        "refusal": cancel_refusal(purge, request.user),
        "picture": remainder.picture(purge),
        "started": purge.processed_messages > 0 or purge.state == State.RUNNING,
    }
    if request.htmx:
        return render(request, "jobs/cancel.html#confirm", context)
    return render(request, "jobs/cancel.html", context)


@require_POST
def close(request, pk):
    """Give up for good the rest of a cancelled request."""
    staff_only(request)
    purge = get_object_or_404(PurgeRequest, pk=pk)
    try:
        purge = do_close_purge(purge, actor=request.user, reason=request.POST.get("reason", ""), ip=client_ip(request))
    except PurgeInvalid as exc:
        messages.error(request, f"Could not close purge #{purge.pk}: {exc.message}")
        return redirect("jobs:detail", pk)
    except PurgeRefused as exc:
        if exc.code == PurgeRefused.NOT_PERMITTED:
            raise PermissionDenied(exc.message) from None
        messages.error(request, f"Could not close purge #{purge.pk}: {exc.message}")
        return redirect("jobs:detail", pk)
    left = remainder.remaining_messages(purge)
    messages.success(request, f"Purge #{purge.pk} closed: the {left:,} messages it left stay, and it can no longer be resumed.")
    return redirect("jobs:detail", pk)


@require_POST
def resume(request, pk):
    purge = _act(request, pk, do_resume_purge, "resume")
    if purge is not None:
        if purge.state == State.DONE:
            messages.success(request, f"Purge #{purge.pk} resumed and finished.")
        elif purge.state == State.AWAITING_APPROVAL:
            messages.warning(request, f"Purge #{purge.pk} resumed: what is left needs a new approval by another staff member before it runs.")
        elif purge.state == State.FAILED:
            messages.error(request, f"Purge #{purge.pk} failed again: {purge.error}")
        else:
            messages.success(request, f"Purge #{purge.pk} resumed from its last checkpoint.")
    return redirect("jobs:detail", pk)
