"""The approvals queue: purge requests waiting for a second staff member (DESIGN.md §3).

Who may open it is chatdata.permissions.can_view_approvals; who may approve or reject one
request is the engine's rule (chatdata.permissions.approval_refusal: never one's own, moderators
for conversation-level requests, compliance for erasures, admins for both). Each row shows the
requester either the buttons or the sentence saying why not; a POST that the rule refuses gets
that sentence as an error message, never a 500. Approving starts the run at once: inline for small
scopes, on the RQ queue otherwise (the engine decides).

Approving is never one click (issue 14, item 6): each request opens on its review page
(`approvals:review`), which shows the preview its requester saw, with the same templates and the
same frozen counts, samples, histogram and holds (dashboard.web.purge.request_page.preview_context),
and asks for the same typed confirmation (chatdata.purge.confirmation) when the request asks for one.
"""

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatdata.erasure.actions import approve_refusal as erasure_approve_refusal
from chatdata.models import ErasureRequest, PurgeRequest
from chatdata.permissions import approval_refusal, can_view_approvals, can_view_erasures
from chatdata.purge.actions import PurgeRefused, approve_refusal, do_approve_purge, do_reject_purge
from chatdata.purge.scopes import PurgeInvalid
from dashboard.web.guards import client_ip, guarded, job_url
from dashboard.web.oversight.forms import RejectForm
from dashboard.web.purge.confirm import ConfirmForm
from dashboard.web.purge.request_page import preview_context

State = PurgeRequest.State
RECENT = 10
# The oldest first, as a queue; a backlog beyond this is counted, not rendered.
SHOWN = 50
EFFECTS = {
    "hide_for_user": "Hide for one member",
    "delete_for_everyone": "Delete for everyone",
    "delete_conversation": "Delete the conversation",
    "delete_attachments": "Delete only the attachments",
}
# What the approver weighs, from the frozen preview; zero counts other than messages are left out.
COUNTS = (
    ("messages", "Messages"),
    ("attachments", "Attachments"),
    ("reactions", "Reactions"),
    ("hides", "Hides"),
    ("pending_deliveries", "Pending deliveries"),
    ("conversations", "Conversations"),
    ("members_affected", "Members affected"),
    ("excluded_by_hold", "Kept by legal hold"),
)

approvers_only = guarded(
    can_view_approvals, "Only moderators, compliance officers and admins open the approvals queue."
)


def _decorate(requests, user):
    for item in requests:
        preview = item.preview or {}
        item.refusal = approval_refusal(user, item)
        item.job_url = job_url(item.pk)
        item.review_url = reverse("approvals:review", args=[item.pk])
        item.effect_label = EFFECTS.get(item.effect, item.effect)
        if item.effect != "hide_for_user" and (item.spec or {}).get("member"):
            item.effect_label += " for one member"
        item.counts = [(label, preview.get(key, 0)) for key, label in COUNTS if key == "messages" or preview.get(key)]
        item.reject_form = RejectForm(auto_id=f"reject-{item.pk}-%s")
    return requests


def _pending():
    return PurgeRequest.objects.filter(state=State.AWAITING_APPROVAL).select_related("requested_by").order_by("id")


@require_GET
@approvers_only
def queue(request):
    pending = _pending()
    waiting = _decorate(list(pending[:SHOWN]), request.user)
    decided = (
        PurgeRequest.objects.filter(Q(approved_at__isnull=False) | Q(rejected_at__isnull=False))
        .select_related("requested_by", "approved_by", "rejected_by")
        .order_by("-id")[:RECENT]
    )
    return render(request, "approvals/queue.html", {
        "section": "approvals",
        "waiting": waiting,
        "waiting_total": len(waiting) if len(waiting) < SHOWN else pending.count(),
        "decided": _decorate(list(decided), request.user),
        "erasures": _erasures(request.user),
    })


def _erasures(user):
    """Erasure requests awaiting approval (their own page decides them), for those who see them."""
    if not can_view_erasures(user):
        return None
    waiting = list(
        ErasureRequest.objects.filter(state=ErasureRequest.State.AWAITING_APPROVAL)
        .select_related("subject", "requested_by").order_by("due_at", "id")[:SHOWN]
    )
    for erasure in waiting:
        erasure.refusal = erasure_approve_refusal(user, erasure)
    return waiting


def _outcome(purge):
    if purge.state == State.DONE:
        result = purge.result or {}
        return f"Request #{purge.pk} approved and run: {result.get('messages', 0)} messages handled."
    if purge.state in (State.QUEUED, State.RUNNING):
        return f"Request #{purge.pk} approved: it runs in the background; its job page shows the progress."
    return f"Request #{purge.pk} approved; it is now {purge.get_state_display().lower()}."


def _review(request, purge, form, status=200):
    _decorate([purge], request.user)
    return render(request, "approvals/review.html", {
        **preview_context(purge),
        "section": "approvals",
        "form": form,
        "reject_form": purge.reject_form,
    }, status=status)


@require_GET
@approvers_only
def review(request, pk):
    """One request as its approver weighs it: the requester's preview, then approve or reject."""
    purge = get_object_or_404(PurgeRequest.objects.select_related("requested_by", "approved_by", "rejected_by"), pk=pk)
    return _review(request, purge, ConfirmForm(purge=purge))


@require_POST
@approvers_only
def approve(request, pk):
    purge = get_object_or_404(PurgeRequest.objects.select_related("requested_by"), pk=pk)
    form = ConfirmForm(request.POST, purge=purge)
    # The confirmation is asked only of someone the engine would let approve; anyone else gets
    # the engine's refusal (audited there), whatever they typed.
    if approve_refusal(purge, request.user) is None and not form.is_valid():
        return _review(request, purge, form, status=400)
    try:
        purge = do_approve_purge(
            purge, actor=request.user, confirmation=request.POST.get("confirmation", ""), ip=client_ip(request)
        )
    except PurgeInvalid as exc:
        form.add_error("confirmation", exc.message)
        return _review(request, purge, form, status=400)
    except PurgeRefused as exc:
        messages.error(request, f"Request #{pk} was not approved. {exc.message}")
        return redirect("approvals:queue")
    level = messages.ERROR if purge.state == State.FAILED else messages.SUCCESS
    text = _outcome(purge) + (f" Error: {purge.error}" if purge.state == State.FAILED else "")
    messages.add_message(request, level, text)
    return redirect("approvals:queue")


@require_http_methods(["GET", "POST"])
@approvers_only
def reject(request, pk):
    """GET: the reject form alone (for a request opened from a link); POST: reject."""
    purge = get_object_or_404(PurgeRequest.objects.select_related("requested_by"), pk=pk)
    form = RejectForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            do_reject_purge(purge, actor=request.user, reason=form.cleaned_data["reason"], ip=client_ip(request))
        except PurgeInvalid as exc:
            form.add_error("reason", exc.message)
        except PurgeRefused as exc:
            messages.error(request, f"Request #{pk} was not rejected. {exc.message}")
            return redirect("approvals:queue")
        else:
            messages.success(request, f"Request #{pk} rejected. {purge.requested_by.get_username()} sees your reason.")
            return redirect("approvals:queue")
    _decorate([purge], request.user)
    return render(request, "approvals/reject.html", {"section": "approvals", "purge": purge, "form": form},
                  status=400 if form.errors else 200)
