"""Deleting what a search found: the search page's "Select all N matching" leads here.

The search's filters arrive as the search page has them (its MessageSearchForm judges them, and
names senders and conversations the same way); together they are one `matching` scope
(chatdata.purge.scopes), previewed like every other scope through do_preview_purge. The page
counts live, for the effect chosen (htmx), and stores nothing until "Preview…".
"""

from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dashboard.web.browse.forms import MessageSearchForm
from dashboard.web.browse.views import search_filters
from dashboard.web.purge.forms import MatchingForm
from dashboard.web.purge.offers import matching_effects
from dashboard.web.purge.views import _preview, live_preview


@require_http_methods(["GET", "POST"])
def matching(request):
    """Every message a search finds, as one `matching` scope: the search page's "Select all N
    matching" links here with its filters. GET shows the filters and live counts for the chosen
    effect (htmx refreshes them when it changes); POST previews, like every other form."""
    effects = matching_effects(request.user)
    if not effects:
        raise PermissionDenied("Only moderators and admins delete what a search finds.")
    data = request.POST if request.method == "POST" else request.GET
    if request.method == "GET" and not data.get("effect"):
        data = data.copy()
        data["effect"] = effects[0]  # the counts of the first effect offered, until another is chosen
    search = MessageSearchForm(data)
    form = MatchingForm(data, search=search, offered=effects, live=request.method == "GET")
    panel = {}
    if request.method == "POST":
        purge = _preview(request, form)
        if purge is not None:
            return redirect("purge:request", purge.pk)
    elif form.is_valid():
        spec = form.spec()
        if spec is not None:
            panel = live_preview(request, spec)
    if request.htmx and request.method == "GET":
        return render(request, "purge/live_panel.html", {**panel, "form": form})
    filters = search_filters(data)
    return render(request, "purge/matching.html", {
        "section": "search",
        "form": form,
        "search": search,
        "filters": filters,
        "search_url": reverse("browse:search") + ("?" + urlencode(filters) if filters else ""),
        "panel": panel,
    })
