"""Stale previews: a preview is a picture of the data at one moment, and confirming it later must
not confirm something else (DESIGN.md §3). Two rules, asked by do_execute_purge, so the web, the
API and `manage.py purge` all follow them:

1. Expiry. A request left `previewed` for settings.PURGE_PREVIEW_TTL seconds after its preview
   has expired: executing it is refused (PurgeRefused code 'expired', audited) and the way on is
   to preview the same scope again (do_preview_again). Expiry is derived from the preview's age,
   not a stored state: the life cycle of DESIGN.md §3 stays as it is, no job has to sweep old
   previews, the jobs list and the API show them as "expired" the moment they are (and filter on
   it, `filter_state`), and a changed TTL applies at once to every preview.

2. Recount. Confirming first counts again what the run would take now: the same spec, at the
   preview's own high-water mark, under the holds that bind the request (those frozen with it and
   those active now: predicates.holds_for). Messages stored after the preview are above the mark
   and never in the run, so a busy conversation does not make its preview stale; what does is
   what left the scope since (another purge, the chat service's own deletions) or was kept out of
   it (a legal hold placed since). When the recount differs from the preview in what the person
   confirmed (`COMPARED`: messages, conversations, new hides; per conversation for a batch), the
   request is not run: its preview is replaced by the recount (audited as `purge.recount`, with
   the old and new counts), and confirming is asked again, with a typed confirmation of the new
   count where one is typed (PurgeRefused code 'scope_changed'). When nothing would change any
   more, the request is discarded instead. Other counts (reactions, members) move with ordinary
   chat activity and are shown as drift after the run, as before.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from chatdata.models import PurgeRequest
from chatdata.purge.predicates import holds_for
from chatdata.purge.preview import compute_preview, read_snapshot
from chatdata.purge.scopes import CONVERSATIONS, MODE_HIDE_ROWS
from chatdata.purge.validation import Resolved

State = PurgeRequest.State
EXPIRED = "expired"  # the derived state, as the jobs list and the API name it
# The counts a confirmation is about; see rule 2 above.
COMPARED = ("messages", "conversations")


# --- expiry ---------------------------------------------------------------------------------------


def preview_ttl():
    return timedelta(seconds=settings.PURGE_PREVIEW_TTL)


def expires_at(request):
    """When a previewed request expires; None for a request in any other state."""
    if request.state != State.PREVIEWED:
        return None
    return request.created_at + preview_ttl()


def is_expired(request, now=None):
    moment = expires_at(request)
    return moment is not None and (now or timezone.now()) >= moment


def shown_state(request, now=None):
    """The state to show: 'expired' for an expired preview, else the stored state."""
    return EXPIRED if is_expired(request, now) else request.state


def expired_q(now=None):
    return Q(state=State.PREVIEWED, created_at__lte=(now or timezone.now()) - preview_ttl())


def filter_state(queryset, state, now=None):
    """Requests in `state`, a stored state or 'expired'; 'previewed' means not expired yet."""
    if state == EXPIRED:
        return queryset.filter(expired_q(now))
    if state == State.PREVIEWED:
        return queryset.filter(state=State.PREVIEWED).exclude(expired_q(now))
    return queryset.filter(state=state)


def state_choices():
    """Stored states with the derived 'expired' after 'previewed', for filters."""
    choices = []
    for value, label in State.choices:
        choices.append((value, label))
        if value == State.PREVIEWED:
            choices.append((EXPIRED, "Expired preview"))
    return choices


def _duration(seconds):
    seconds = int(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def expiry_message(request):
    return (
        f"This preview expired: previews are good for {_duration(settings.PURGE_PREVIEW_TTL)} "
        "(PURGE_PREVIEW_TTL) and the data may have changed since. Preview it again to see what "
        "would go now, then confirm that."
    )


# --- recount ----------------------------------------------------------------------------------


def recount(request):
    """(preview, item previews) of the request's spec counted now, at its high-water mark and
    under the holds that bind it; read-only, on one snapshot. Items refused at the preview stay
    refused (the spec is not validated again: ids deleted since simply count no more)."""
    spec = request.purge_spec
    refused = {}
    if spec.kind == CONVERSATIONS:
        refused = dict(request.items.filter(status="refused").values_list("conversation_pk", "reason"))
    with read_snapshot():
        holds = holds_for(request)
        preview, items = compute_preview(spec, resolved=Resolved(refused=refused), hwm=request.high_water_mark, holds=holds)
    return preview, items, holds


def _compared_keys(preview):
    return COMPARED + (("hides",) if preview.get("mode") == MODE_HIDE_ROWS else ())


def changes(request, counted, counted_items):
    """[(label, previewed, now)] where the recount differs from the request's preview in what a
    confirmation is about; empty when the preview still holds."""
    old = request.preview or {}
    found = [(key, old.get(key, 0), counted.get(key, 0)) for key in _compared_keys(old) if old.get(key, 0) != counted.get(key, 0)]
    if request.scope_kind == CONVERSATIONS:
        for item in request.items.exclude(status="refused").order_by("position"):
            before = (item.preview or {}).get("messages", 0)
            now = (counted_items.get(item.conversation_pk) or {}).get("messages", 0)
            if before != now:
                found.append((f"messages in {item.conversation_external_id}", before, now))
    return found


def describe_changes(found, limit=4):
    shown = "; ".join(f"{label} {before:,} → {now:,}" for label, before, now in found[:limit])
    return shown + (f"; and {len(found) - limit} more" if len(found) > limit else "")


def replace_preview(request, counted, counted_items, holds, found):
    """Make the recount the request's preview (the caller holds the row lock, and audits)."""
    counted["recount"] = {
        "previous": {key: (request.preview or {}).get(key, 0) for key in ("messages", "conversations", "hides")},
        "changes": [[label, before, now] for label, before, now in found],
        "previewed_at": (request.preview or {}).get("computed_at"),
    }
    request.preview = counted
    request.preview_holds = sorted(set(request.preview_holds or []) | {hold.pk for hold in holds})
    request.total_messages = counted["messages"]
    request.needs_approval = counted["needs_approval"] or request.erasure_id is not None
    request.runs_inline = counted["runs_inline"]
    request.save(update_fields=["preview", "preview_holds", "total_messages", "needs_approval", "runs_inline"])
    for item in request.items.exclude(status="refused"):
        item.preview = counted_items.get(item.conversation_pk, {})
        item.save(update_fields=["preview"])


def changed_message(found, nothing_left):
    if nothing_left:
        return (
            f"Nothing is left to do: the scope changed since the preview ({describe_changes(found)}), deleted "
            "or put under legal hold meanwhile. Nothing was run, and the preview is discarded."
        )
    return (
        f"The scope changed since the preview ({describe_changes(found)}): nothing was run. The new counts "
        "are shown; check them and confirm again."
    )
