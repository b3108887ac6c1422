"""Notices: what became of one's own requests, newest first (issue 14, item 6; chatdata.notices).

Any staff member with a role sees their own; the navigation counts the unread ones. "Mark all as
read" is a POST that moves one's own read cursor up to the newest notice the page showed (a
notice arriving meanwhile stays unread); that is one's own reading state, like a selection, and
is not audited.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from chatdata.notices import mark_read, notices_for
from chatdata.parsing import InvalidNumber, parse_id
from chatdata.permissions import can_view_purges
from dashboard.web.guards import guarded

staff_only = guarded(can_view_purges, "Your account has no chatsweep role, so it makes no requests to be told about.")


def _link(notice):
    if notice.kind == "purge":
        return reverse("jobs:detail", args=[notice.request_id])
    return reverse("erasure:request", args=[notice.request_id]) if notice.request_id else None


@require_GET
@staff_only
def notices(request):
    found = notices_for(request.user)
    for notice in found:
        notice.url = _link(notice)
    return render(request, "notices/list.html", {
        "section": "notices",
        "notices": found,
        "unread": sum(1 for n in found if n.unread),
        "newest": found[0].entry.pk if found else 0,
    })


@require_POST
@staff_only
def read(request):
    try:
        up_to = parse_id(request.POST.get("up_to", ""), "up_to")
    except InvalidNumber as exc:
        messages.error(request, f"Nothing was marked as read: {exc.message}")
        return redirect("notices:list")
    mark_read(request.user, up_to)
    return redirect("notices:list")
