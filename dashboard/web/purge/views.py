"""The deletion workflow's pages where a scope is chosen, and the selections kept while it is.

A form on a browse page (or on its own page here, where errors are shown next to their fields)
posts a scope; a valid one becomes a `previewed` PurgeRequest through do_preview_purge, and the
browser goes to that request's page (dashboard.web.purge.request_page), which shows what exactly
this request will do and asks for confirmation. The time-range form also previews live as its
bounds change (htmx); those previews are read-only (compute_preview) and leave nothing behind until
the moderator submits.

Permissions: a view answers 403 when the person's role can request nothing of its kind, or when
they ask for an action their role never has (chatdata.permissions); refusals that depend on the
particular scope (support's cap on selected messages, a legal hold) come back next to the form.
"""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatdata.browse.bodies import shorten, with_short_bodies
from chatdata.models import ChatUser, Conversation, Message
from chatdata.parsing import InvalidNumber, is_id, parse_id
from chatdata.permissions import can_view_purges, request_refusal
from chatdata.purge import selection as selections
from chatdata.purge.actions import PurgeRefused, do_preview_purge
from chatdata.purge.preview import affected_per_day, changes_nothing, compute_preview
from chatdata.purge.scopes import PurgeInvalid
from chatdata.purge.validation import check_spec
from dashboard.web.browse.views import saved_selection
from dashboard.web.guards import client_ip
from dashboard.web.purge.conversation_forms import ConversationForm, RangeForm, SelectionForm
from dashboard.web.purge.forms import BatchForm, UserForm
from dashboard.web.purge.offers import ConversationOffer, may_batch_delete, may_erase
from dashboard.web.purge.panel import approval_note, count_rows, histogram

CONVERSATION_FORMS = {form.action: form for form in (SelectionForm, RangeForm, ConversationForm)}
SHOWN_SELECTION = 200  # selected messages listed again on the form page after an error


def staff_only(request):
    if not can_view_purges(request.user):
        raise PermissionDenied("Your account has no chatsweep role.")


def _preview(request, form):
    """do_preview_purge for a valid form, or None with the reason on the form."""
    if not form.is_valid():
        return None
    spec = form.spec()
    if spec is None:
        return None
    field = getattr(form, "effect_field", None)
    offered = {value for value, _ in form.fields[field].widget.choices} if field else None
    try:
        return do_preview_purge(
            spec, actor=request.user, reason=form.cleaned_data["reason"], ticket=form.cleaned_data["ticket"],
            ip=client_ip(request),
        )
    except PurgeInvalid as exc:
        form.add_engine_error(exc)
    except PurgeRefused as exc:
        if exc.code == PurgeRefused.NOT_PERMITTED and offered is not None and form.cleaned_data[field] not in offered:
            raise PermissionDenied(exc.message) from None  # an action the page never offers this person
        form.add_error(None, exc.message)
        form.hold_refused = exc.code == PurgeRefused.HOLD  # the page offers the way on without the held data
    return None


def _to_preview(request, purge):
    selections.remember(request.user, purge.purge_spec)  # "Change selection" comes back to it
    return redirect("purge:request", purge.pk)


def conversation_forms(conversation, offer, *, bound=None):
    """The forms the person is offered, unbound, except `bound` (the one they posted)."""
    offered = {"messages": offer.selection, "range": offer.range, "conversation": offer.whole}
    forms = {
        action: cls(conversation=conversation, offer=offer) if offered[action] else None
        for action, cls in CONVERSATION_FORMS.items()
    }
    if bound is not None:
        forms[bound.action] = bound
    return forms


def bad_request(request, message):
    """A 400 page naming what is wrong with a hand-edited or damaged URL; nothing is done."""
    return render(request, "400.html", {"message": message}, status=400)


def posted_ids(values):
    """The well-formed ids among raw values (to show a selection again; the form judges it)."""
    parts = (part.strip() for value in values for part in value.split(","))  # chatsweep.js joins them
    return [parse_id(p, "ids") for p in parts if is_id(p)][:SHOWN_SELECTION]


def selected_messages(form):
    """The ticked messages again (after an error), so the moderator sees what they chose."""
    ids = posted_ids(form.data.getlist("ids")) if form.is_bound else []
    rows = Message.objects.filter(conversation=form.conversation, id__in=ids).select_related("sender")
    return shorten(list(with_short_bodies(rows).order_by("-sent_at", "-id")))


@require_http_methods(["GET", "POST"])
def conversation(request, pk):
    chat = get_object_or_404(Conversation, pk=pk)
    offer = ConversationOffer.build(request.user, chat)
    if not offer.anything:
        raise PermissionDenied("Your role cannot request deletions in conversations.")
    bound = None
    if request.method == "POST":
        cls = CONVERSATION_FORMS.get(request.POST.get("action"))
        if cls is None:
            return HttpResponseBadRequest("Unknown action.")
        bound = cls(request.POST, conversation=chat, offer=offer)
        purge = _preview(request, bound)
        if purge is not None:
            return _to_preview(request, purge)
    forms = conversation_forms(chat, offer, bound=bound)
    return render(request, "purge/conversation.html", {
        "section": "conversations",
        "conversation": chat,
        "offer": offer,
        "forms": forms,
        "open": bound.action if bound is not None else "",
        "open_all": bound is None,  # this page is the forms: nothing folded away until one is posted
        "selected": selected_messages(forms["messages"]) if forms["messages"] else [],
        **saved_selection(request.user, selections.MESSAGES, chat.pk),
    })


def live_preview(request, spec):
    """Counts, samples and histogram of a spec, computed now and stored nowhere."""
    context = {"spec": spec}
    try:
        preview, _ = compute_preview(spec, resolved=check_spec(spec))
    except PurgeInvalid as exc:
        context["problem"] = exc.message
        return context
    context.update(
        preview=preview,
        rows=count_rows(spec, preview),
        histogram=histogram(affected_per_day(spec, hwm=preview["high_water_mark"])),
        approval=approval_note(spec, preview),
        refusal=request_refusal(request.user, spec),
        nothing=changes_nothing(spec, preview),
    )
    return context


@require_GET
def range_preview(request, pk):
    """The range form's live preview: a panel for htmx, the form page with it without JS."""
    chat = get_object_or_404(Conversation, pk=pk)
    offer = ConversationOffer.build(request.user, chat)
    if not offer.range:
        raise PermissionDenied("Your role cannot request deletions by time range.")
    form = RangeForm(request.GET, conversation=chat, offer=offer, live=True)
    panel = {}
    if form.is_valid():
        spec = form.spec()
        if spec is not None:
            panel = live_preview(request, spec)
    panel["form"] = form
    if request.htmx:
        return render(request, "purge/live_panel.html", panel)
    return render(request, "purge/conversation.html", {
        "section": "conversations",
        "conversation": chat,
        "offer": offer,
        "forms": conversation_forms(chat, offer, bound=form),
        "open": "range",
        "panel": panel,
        "selected": [],
    })


@require_GET
def whole_preview(request, pk):
    """The whole-conversation form's live preview (htmx): what the chosen action would change."""
    chat = get_object_or_404(Conversation, pk=pk)
    offer = ConversationOffer.build(request.user, chat)
    if not offer.whole:
        raise PermissionDenied("Your role cannot request deletions of whole conversations.")
    form = ConversationForm(request.GET, conversation=chat, offer=offer, live=True)
    spec = form.spec() if form.is_valid() else None
    panel = live_preview(request, spec) if spec is not None else {}
    return render(request, "purge/live_panel.html", {**panel, "form": form})


@require_http_methods(["GET", "POST"])
def conversations(request):
    """Several conversations from the list, deleted each on its own (one PurgeItem each)."""
    if not may_batch_delete(request.user):
        raise PermissionDenied("Only moderators and admins delete conversations in batches.")
    form = BatchForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        purge = _preview(request, form)
        if purge is not None:
            return _to_preview(request, purge)
        ids = posted_ids(request.POST.getlist("conversations"))
    else:
        # The conversation list's "Delete…" button links here with the ticked ids.
        try:
            ids = [parse_id(v, "conversations") for v in request.GET.getlist("conversations") if v.strip()]
        except InvalidNumber as exc:
            return bad_request(request, exc.message)
        ids = ids[:SHOWN_SELECTION]
    chosen = list(Conversation.objects.filter(pk__in=ids).order_by("-last_message_at", "-id"))
    return render(request, "purge/conversations.html", {"section": "conversations", "form": form, "chosen": chosen})


@require_http_methods(["GET", "POST"])
def user(request, pk):
    """Everything a chat user sent (an erasure): compliance officers and admins."""
    chat_user = get_object_or_404(ChatUser, pk=pk)
    if not may_erase(request.user):
        raise PermissionDenied("Only compliance officers and admins may purge a user's data.")
    form = UserForm(request.POST if request.method == "POST" else None, chat_user=chat_user)
    if request.method == "POST":
        purge = _preview(request, form)
        if purge is not None:
            return _to_preview(request, purge)
    return render(request, "purge/user.html", {"section": "users", "chat_user": chat_user, "form": form})


# --- selections kept while they are made ------------------------------------------------------------


def _change_selection(request, kind, conversation_id=None):
    """Tick (`add`), untick (`remove`) or `clear` (chatdata.purge.selection); JSON for chatsweep.js:
    {"count": n}, or 400 {"error": message, "count": n} with nothing changed."""
    try:
        add = selections.parse_ids(request.POST.get("add"), kind)
        remove = selections.parse_ids(request.POST.get("remove"), kind)
        ids = selections.change_selection(
            request.user, kind, conversation_id, add=add, remove=remove, clear=request.POST.get("clear") == "1",
        )
    except selections.SelectionRefused as exc:
        count = len(selections.selected_ids(request.user, kind, conversation_id))
        return JsonResponse({"error": exc.message, "count": count}, status=400)
    return JsonResponse({"count": len(ids)})


@require_POST
def selection(request, pk):
    """The messages ticked in one conversation's timeline, kept until used or cleared."""
    chat = get_object_or_404(Conversation, pk=pk)
    if not ConversationOffer.build(request.user, chat).selection:
        raise PermissionDenied("Your role cannot select messages for deletion.")
    return _change_selection(request, selections.MESSAGES, chat.pk)


@require_POST
def batch_selection(request):
    """The conversations ticked in the conversation list, across its pages."""
    if not may_batch_delete(request.user):
        raise PermissionDenied("Only moderators and admins delete conversations in batches.")
    return _change_selection(request, selections.CONVERSATIONS)
