"""Legal holds: the list (what each hold covers right now), placing one, releasing one.

Every staff role may look (chatdata.permissions.can_view_holds); placing and releasing are
for compliance officers and admins (chatdata.permissions.holds_refusal), through the engine's
do_add_legal_hold / do_release_legal_hold, which audit the change in the same transaction.
"How many messages it covers" is the engine's chatdata.purge.holds.covered_messages, one COUNT
per active hold on the page.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from chatdata.models import LegalHold
from chatdata.permissions import can_manage_holds, can_view_holds
from chatdata.purge.holds import HoldRefused, covered_messages, do_add_legal_hold, do_release_legal_hold
from chatdata.purge.scopes import PurgeInvalid
from dashboard.web.browse.forms import STALE_CURSOR
from dashboard.web.guards import client_ip, guarded
from dashboard.web.oversight.forms import HoldFilterForm, HoldForm, ReleaseForm

PAGE = 50

staff_only = guarded(can_view_holds, "Your account has no chatsweep role.")
managers_only = guarded(can_manage_holds, "Only compliance officers and admins place or release legal holds.")


def _page(state, after):
    holds = LegalHold.objects.select_related("user", "conversation", "created_by", "released_by").order_by("-id")
    if state == "active":
        holds = holds.filter(released_at__isnull=True)
    elif state == "released":
        holds = holds.filter(released_at__isnull=False)
    if after:
        holds = holds.filter(id__lt=after)
    page = list(holds[: PAGE + 1])
    cursor = page[PAGE - 1].pk if len(page) > PAGE else None
    page = page[:PAGE]
    for hold in page:
        hold.covered = covered_messages(hold)
    return page, cursor


@require_GET
@staff_only
def holds(request):
    form = HoldFilterForm(request.GET)
    page, cursor = None, None
    if form.is_valid():
        page, cursor = _page(form.cleaned_data["state"], form.cleaned_data["after"])
    elif "after" in form.errors:
        form.errors["after"] = form.error_class([STALE_CURSOR])
    return render(request, "holds/list.html", {
        "section": "holds",
        "form": form,
        "page": page,
        "cursor": cursor,
        "state": form.cleaned_data.get("state") or "active",
        "release_form": ReleaseForm(),
    }, status=200 if form.is_valid() else 400)


@require_http_methods(["GET", "POST"])
@managers_only
def create(request):
    if request.method == "POST":
        form = HoldForm(request.POST)
        if form.is_valid():
            try:
                hold = do_add_legal_hold(actor=request.user, ip=client_ip(request), **form.hold_arguments())
            except PurgeInvalid as exc:
                form.add_engine_error(exc)
            except HoldRefused as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Legal hold #{hold.pk} placed on {hold.kind} {hold.subject_external_id}: "
                                          f"{covered_messages(hold)} messages are kept from every deletion.")
                return redirect("holds:list")
    else:
        # Prefilled from a link on a user or conversation page (?user=u-alice / ?conversation=g-1).
        kind = LegalHold.Kind.CONVERSATION if request.GET.get("conversation") else LegalHold.Kind.USER
        form = HoldForm(initial={"kind": kind, "external_id": request.GET.get(kind, "")[:191]})
    return render(request, "holds/create.html", {"section": "holds", "form": form},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@managers_only
def release(request, pk):
    """GET: the release form for one hold; POST: release it (a reason is required)."""
    hold = get_object_or_404(LegalHold.objects.select_related("user", "conversation", "created_by", "released_by"), pk=pk)
    form = ReleaseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            do_release_legal_hold(hold, actor=request.user, reason=form.cleaned_data["reason"], ip=client_ip(request))
        except HoldRefused as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Legal hold #{hold.pk} on {hold.kind} {hold.subject_external_id} released.")
        return redirect("holds:list")
    hold.covered = covered_messages(hold)
    return render(request, "holds/release.html", {"section": "holds", "hold": hold, "form": form},
                  status=400 if form.errors else 200)
