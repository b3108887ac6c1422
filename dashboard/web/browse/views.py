"""The browse pages: home, chat users, conversations, one conversation, message search.

Read-only pages for every staff member (any chatsweep role; LoginRequiredMiddleware sends the
anonymous to the login page). Views validate the query string through a form and call the read
helpers in chatdata.browse; they build no queries of their own. htmx requests for "older" /
"more" get only the partial that the link appends; the same link without JavaScript loads the
full page at that position.
"""

import json
import re
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from chatdata.browse import counts, directory, naming, search, timeline
from chatdata.browse.keyset import InvalidCursor
from chatdata.erasure.overview import due_soon_count
from chatdata.models import Attachment, ChatUser, Conversation
from chatdata.permissions import can_view_erasures
from chatdata.purge import selection as selections
from chatdata.purge.holds import holds_on_conversation, holds_on_user
from chatdata.purge.predicates import matching_count
from chatdata.purge.scopes import PurgeInvalid
from chatdata.roles import roles_of
from dashboard.web.browse.forms import (
    STALE_CURSOR,
    ConversationFilterForm,
    MessageSearchForm,
    PageForm,
    TimelineForm,
    UserSearchForm,
)
from dashboard.web.purge.forms import matching_scope
from dashboard.web.purge.offers import matching_effects

# The search's filters, as the search page and "Select all N matching" pass them on.
SEARCH_FILTERS = ("q", "sender", "conversation", "start", "end")
# The search page counts the matches up to this many (its page stays fast); past it, it says
# "more than", and the matching page counts them all (chatdata.purge.predicates.matching_count).
MATCHING_COUNTED = 10_000


def staff_view(view):
    """GET only, for staff: a logged-in account without any chatsweep role sees nothing."""

    @require_GET
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not roles_of(request.user):
            raise PermissionDenied("Your account has no chatsweep role.")
        return view(request, *args, **kwargs)

    return wrapped


@staff_view
def home(request):
    return render(request, "browse/home.html", {
        "section": "home",
        "counts": counts.table_counts(),
        "recent": directory.recent_conversations(),
        "user_form": UserSearchForm(),
        # Erasure requests due within a week (overdue included), for those who see them.
        "erasures_due_soon": due_soon_count() if can_view_erasures(request.user) else None,
    })


@staff_view
def users(request):
    form = UserSearchForm(request.GET)
    page = None
    if form.is_valid():
        try:
            page = directory.find_users(q=form.cleaned_data["q"].strip(), after_id=form.cleaned_data["after"])
        except InvalidCursor:
            form.add_error(None, STALE_CURSOR)
    return render(request, "browse/users.html", {"section": "users", "form": form, "page": page})


@staff_view
def user(request, pk):
    chat_user = get_object_or_404(ChatUser, pk=pk)
    form = PageForm(request.GET)
    activity = directory.user_activity(chat_user)
    page = None
    if form.is_valid():
        try:
            page = directory.user_conversations(chat_user, activity, cursor=form.cleaned_data["after"])
        except InvalidCursor:
            form.add_error(None, STALE_CURSOR)
    return render(request, "browse/user.html", {
        "section": "users",
        "chat_user": chat_user,
        "form": form,
        "page": page,
        "activity": activity,
        "sent": directory.sent_count(chat_user, activity),
        "latest": directory.latest_messages(chat_user),
        "conversation_total": directory.membership_count(chat_user),
        "covering": holds_on_user(chat_user),
    })


def saved_selection(staff, kind, conversation_id=None):
    """What `staff` has ticked and not used yet (chatdata.purge.selection), for ticking the boxes
    again (`saved_ids`) and for chatsweep.js (`saved_csv`, which the form sends)."""
    ids = selections.selected_ids(staff, kind, conversation_id)
    return {"saved_ids": set(ids), "saved_csv": ",".join(map(str, ids))}


@staff_view
def conversations(request):
    form = ConversationFilterForm(request.GET)
    page = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            page = directory.find_conversations(
                kind=data["kind"], q=data["q"].strip(), sort=data["sort"], cursor=data["after"]
            )
        except InvalidCursor:
            form.add_error(None, STALE_CURSOR)
    return render(request, "browse/conversations.html", {
        "section": "conversations", "form": form, "page": page,
        **saved_selection(request.user, selections.CONVERSATIONS),
    })


@staff_view
def conversation(request, pk):
    chat = get_object_or_404(Conversation, pk=pk)
    form = TimelineForm(request.GET)
    valid = form.is_valid()
    older_than = form.older_than() if valid else None
    newer_than = form.cleaned_data.get("after") if valid else None
    members_after = form.cleaned_data.get("members_after") if valid else None
    context = {"section": "conversations", "conversation": chat, "form": form}
    context.update(saved_selection(request.user, selections.MESSAGES, chat.pk))

    if request.htmx and valid and members_after is not None:
        context["members"] = timeline.members(chat, after_user_id=members_after)
        return render(request, "browse/conversation.html#member_rows", context)
    context["timeline"] = timeline.timeline(chat, older_than=older_than, newer_than=newer_than)
    if request.htmx and valid and form.cleaned_data.get("before"):
        return render(request, "browse/conversation.html#timeline_page", context)

    context.update(
        covering=holds_on_conversation(chat),
        members=timeline.members(chat, after_user_id=members_after),
        member_summary=timeline.member_summary(chat),
        message_count=timeline.message_count(chat),
        at_newest=not (older_than or newer_than),
    )
    return render(request, "browse/conversation.html", context)


@staff_view
def message(request, pk):
    """One message with its whole body (a list shows at most chatdata.browse.bodies.BODY_SHOWN
    characters of it)."""
    found = timeline.whole_message(pk)
    if found is None:
        raise Http404("No such message.")
    payload = json.dumps(found.payload, ensure_ascii=False, indent=2, sort_keys=True) if found.payload else ""
    return render(request, "browse/message_page.html", {
        "section": "conversations", "message": found, "conversation": found.conversation, "payload": payload,
    })


@staff_view
def attachment(request, pk):
    item = get_object_or_404(Attachment, pk=pk)
    try:
        handle = item.file.open("rb")
    except FileNotFoundError:
        raise Http404("The attachment's file is missing from storage.") from None
    inline = item.content_type in timeline.INLINE_IMAGE_TYPES
    return FileResponse(
        handle,
        as_attachment=not inline,
        filename=item.file.name.rsplit("/", 1)[-1],
        content_type=item.content_type if inline else "application/octet-stream",
    )


@staff_view
def search_messages(request):
    form = MessageSearchForm.for_request(request.GET)
    results = None
    if form.is_valid():
        results = search.search_messages(form.to_query())
        highlight(results.messages, search.query_terms(form.cleaned_data["q"]))
        if request.htmx and form.cleaned_data["before"]:
            return render(request, "browse/search.html#result_page", {"form": form, "results": results})
    return render(request, "browse/search.html", {
        "section": "search",
        "form": form,
        "results": results,
        "scan_window": search.SCAN_WINDOW,
        "select_all": select_all_matching(request, form, results),
        "counted": MATCHING_COUNTED,
    })


def select_all_matching(request, form, results):
    """The "Select all N matching" bar (Django admin's changelist offers the same): for those who
    may delete what a search finds, how many messages match in all ({"total", "url"}), or why the
    search cannot be one scope ({"problem"}); None when there is nothing to offer."""
    if results is None or not results.messages or not matching_effects(request.user):
        return None
    try:
        scope = matching_scope(form)
    except PurgeInvalid as exc:
        return {"problem": exc.message}
    whole = not (results.next_cursor or form.cleaned_data["before"])
    total = len(results.messages) if whole else matching_count(scope, at_most=MATCHING_COUNTED)
    url = reverse("purge:matching") + "?" + urlencode(search_filters(request.GET))
    return {"total": total, "more": total > MATCHING_COUNTED, "url": url}


def search_filters(data):
    """The search's filters as [(name, value)], as typed (the page cursor left out)."""
    return [(name, data[name]) for name in SEARCH_FILTERS if (data.get(name) or "").strip()]


def _typed(request):
    """What the person has typed so far, whichever field asks (htmx sends the input by its name)."""
    return next((request.GET.get(name, "") for name in ("q", "sender", "conversation", "member", "user") if name in request.GET), "")


@staff_view
def suggest_users(request):
    """<option>s for a <datalist>: users whose external id or name starts with what was typed."""
    options = [(u.external_id, u.display_name) for u in naming.suggest_users(_typed(request))]
    return render(request, "browse/suggestions.html", {"options": options})


@staff_view
def suggest_conversations(request):
    options = [(c.external_id, c.title or c.get_kind_display()) for c in naming.suggest_conversations(_typed(request))]
    return render(request, "browse/suggestions.html", {"options": options})


def highlight(messages, terms):
    """Give each message `highlighted_body`: the part of its body a list shows, escaped, with
    `terms` wrapped in <mark>."""
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE) if terms else None
    for message in messages:
        body, pieces, last = message.body_shown, [], 0
        for match in pattern.finditer(body) if pattern else ():
            pieces += [escape(body[last:match.start()]), f"<mark>{escape(match.group())}</mark>"]
            last = match.end()
        pieces.append(escape(body[last:]))
        message.highlighted_body = mark_safe("".join(pieces).replace("\n", "<br>"))


def search_url_for(scope):
    """The search page showing what a matching scope holds (its days in the current time zone),
    or None when the search cannot say it (more than one sender)."""
    if len(scope.get("senders") or []) > 1:
        return None
    params = {"q": scope.get("text") or ""}
    if scope.get("senders"):
        params["sender"] = ChatUser.objects.filter(pk=scope["senders"][0]).values_list("external_id", flat=True).first()
    if scope.get("conversation"):
        params["conversation"] = Conversation.objects.filter(pk=scope["conversation"]).values_list("external_id", flat=True).first()
    zone = timezone.get_current_timezone()
    if scope.get("start"):
        params["start"] = f"{datetime.fromisoformat(scope['start']).astimezone(zone):%Y-%m-%d}"
    if scope.get("end"):
        last = datetime.fromisoformat(scope["end"]).astimezone(zone) - timedelta(microseconds=1)
        params["end"] = f"{last:%Y-%m-%d}"
    return reverse("browse:search") + "?" + urlencode({k: v for k, v in params.items() if v})
