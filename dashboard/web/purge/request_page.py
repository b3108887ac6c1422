"""A deletion request's page: what exactly it will do, and its confirmation.

The page shows the request's preview (counts frozen with its high-water mark, samples, histogram,
holds) and asks for confirmation, typed when the deletion is large; confirming executes the same
request (do_execute_purge), so nothing can be run that was not previewed. An expired preview is
previewed again as a new request. The approver's review page shows the same preview
(preview_context).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from chatdata.models import ChatUser, Conversation, PurgeRequest
from chatdata.purge import selection as selections
from chatdata.purge.actions import (
    PurgeRefused,
    do_execute_purge,
    do_preview_again,
    execute_refusal,
    preview_again_refusal,
)
from chatdata.purge.preview import affected_per_day
from chatdata.purge.scopes import CONVERSATION, CONVERSATIONS, MATCHING, MESSAGES, RANGE, USER, PurgeInvalid
from dashboard.web.browse.views import search_url_for
from dashboard.web.guards import client_ip
from dashboard.web.purge.confirm import ConfirmForm
from dashboard.web.purge.panel import approval_note, count_rows, histogram
from dashboard.web.purge.views import SHOWN_SELECTION, _to_preview, staff_only

State = PurgeRequest.State


def back_link(purge):
    """Where the request came from: (url, label), or None when that is gone."""
    scope = purge.spec.get("scope", {})
    kind = scope.get("kind")
    if kind in (MESSAGES, RANGE, CONVERSATION) and scope.get("conversation"):
        chat = Conversation.objects.filter(pk=scope["conversation"]).first()
        if chat is not None:
            return reverse("browse:conversation", args=[chat.pk]), str(chat)
    if kind == USER:
        chat_user = ChatUser.objects.filter(pk=scope.get("user")).first()
        if chat_user is not None:
            return reverse("browse:user", args=[chat_user.pk]), chat_user.display_name or chat_user.external_id
    if kind == CONVERSATIONS:
        return reverse("browse:conversations"), "Conversations"
    if kind == MATCHING and (url := search_url_for(scope)):
        return url, "Search"
    return None


def preview_context(purge):
    """What a request's preview shows (counts, samples, histogram, holds, items), from its frozen
    preview: the requester's preview page and the approver's review page show the same."""
    spec = purge.purge_spec
    preview = purge.preview or {}
    # The picture is of rows still in the store: once a run has started, they are going or gone.
    days = affected_per_day(purge) if purge.result is None else None
    return {
        "purge": purge,
        "spec": spec,
        "preview": preview,
        "rows": count_rows(spec, preview),
        "histogram": histogram(days) if days else None,
        "approval": approval_note(spec, preview),
        "items": list(purge.items.all()[:SHOWN_SELECTION]) if spec.kind == CONVERSATIONS else [],
        "senders": list(ChatUser.objects.filter(pk__in=spec.senders).values_list("external_id", flat=True)),
    }


def request_context(request, purge, form):
    return {
        **preview_context(purge),
        "section": "jobs",
        "form": form,
        "may_execute": execute_refusal(purge, request.user) is None,
        "expired": purge.is_expired,
        "may_preview_again": purge.is_expired and preview_again_refusal(purge, request.user) is None,
        "recount": (purge.preview or {}).get("recount"),
        "back": back_link(purge),
        "change_selection": change_selection_link(request, purge),
    }


def change_selection_link(request, purge):
    """Back to the selection this preview was made from (kept by chatdata.purge.selection), while
    the request has not run: for the person who made it, from a messages or conversations scope."""
    if purge.state != State.PREVIEWED or purge.requested_by_id != request.user.pk:
        return None
    scope = purge.spec.get("scope", {})
    if scope.get("kind") == MESSAGES and scope.get("conversation"):
        if Conversation.objects.filter(pk=scope["conversation"]).exists():
            return reverse("browse:conversation", args=[scope["conversation"]]) + "#selection-heading"
    if scope.get("kind") == CONVERSATIONS:
        return reverse("browse:conversations")
    if scope.get("kind") == MATCHING:
        return search_url_for(scope)
    return None


@require_GET
def purge_request(request, pk):
    staff_only(request)
    purge = get_object_or_404(PurgeRequest.objects.select_related("requested_by"), pk=pk)
    return render(request, "purge/request.html", request_context(request, purge, ConfirmForm(purge=purge)))


OUTCOMES = {
    State.DONE: (messages.SUCCESS, "Done: {n} of {total} messages handled."),
    State.QUEUED: (messages.INFO, "Running in the background: follow its progress here."),
    State.RUNNING: (messages.INFO, "Running: follow its progress here."),
    State.AWAITING_APPROVAL: (messages.WARNING, "Submitted for approval: it runs once another staff member with the right role approves it."),
    State.FAILED: (messages.ERROR, "The run failed: {error}"),
}


@require_POST
def execute(request, pk):
    staff_only(request)
    purge = get_object_or_404(PurgeRequest, pk=pk)
    form = ConfirmForm(request.POST, purge=purge)
    # The typed confirmation is asked only of someone the engine would let run it; anyone else
    # gets the engine's refusal (audited there).
    if execute_refusal(purge, request.user) is None and not form.is_valid():
        return render(request, "purge/request.html", request_context(request, purge, form))
    try:
        purge = do_execute_purge(
            purge, actor=request.user, confirmation=request.POST.get("confirmation", ""), ip=client_ip(request)
        )
        selections.forget_used(request.user, purge.purge_spec)
    except PurgeInvalid as exc:  # the preview changed under the form (the engine checks again)
        form.add_error("confirmation", exc.message)
        return render(request, "purge/request.html", request_context(request, purge, form))
    except PurgeRefused as exc:
        if exc.code == PurgeRefused.NOT_PERMITTED:
            raise PermissionDenied(exc.message) from None
        if exc.code == PurgeRefused.SCOPE_CHANGED:
            messages.warning(request, exc.message)
        else:
            messages.error(request, exc.message)
        if exc.code in (PurgeRefused.EXPIRED, PurgeRefused.SCOPE_CHANGED):
            # Back to the preview: "Preview again", or the new counts with a new confirmation.
            return redirect("purge:request", purge.pk)
        return redirect("jobs:detail", purge.pk)
    level, text = OUTCOMES.get(purge.state, (messages.INFO, "The request is {state}."))
    messages.add_message(request, level, text.format(
        n=f"{purge.processed_messages:,}", total=f"{purge.total_messages:,}", error=purge.error, state=purge.state,
    ))
    return redirect("jobs:detail", purge.pk)


@require_POST
def preview_again(request, pk):
    """A new preview of the same scope, reason and ticket (an expired preview's way on)."""
    staff_only(request)
    purge = get_object_or_404(PurgeRequest, pk=pk)
    try:
        new = do_preview_again(purge, actor=request.user, ip=client_ip(request))
    except PurgeRefused as exc:
        if exc.code == PurgeRefused.NOT_PERMITTED:
            raise PermissionDenied(exc.message) from None
        messages.error(request, f"Could not preview #{purge.pk} again: {exc.message}")
        return redirect("purge:request", purge.pk)
    except PurgeInvalid as exc:
        messages.error(request, f"Could not preview #{purge.pk} again: {exc.message}")
        return redirect("purge:request", purge.pk)
    messages.success(request, f"Previewed again as #{new.pk}, counted now; #{purge.pk} is discarded.")
    return _to_preview(request, new)
