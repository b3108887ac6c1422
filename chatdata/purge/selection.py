"""Selections in progress, kept per staff member and conversation (chatdata.models.selection says
why they exist and why they are not audited). The web ticks and unticks through `change_selection`
and renders boxes ticked from `selected_ids`; a request made from a selection forgets it once it
runs (`forget_used`), and the person can clear it.

What a selection may hold is decided here: ids of messages of that conversation (or of existing
conversations), at most PURGE_MAX_IDS of them, the most one request takes; ids that are gone by the
time they are ticked are dropped silently, as they could not be deleted anyway.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chatdata.models import Conversation, Message, Selection
from chatdata.parsing import InvalidNumber, parse_id
from chatdata.purge import scopes

MESSAGES = Selection.Kind.MESSAGES.value
CONVERSATIONS = Selection.Kind.CONVERSATIONS.value
NOUN = {MESSAGES: "message", CONVERSATIONS: "conversation"}


class SelectionRefused(ValueError):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _where(staff, kind, conversation_id):
    if kind not in NOUN:
        raise ValueError(f"unknown selection kind {kind!r}")
    return {"staff": staff, "kind": kind, "conversation_id": conversation_id if kind == MESSAGES else None}


def selected_ids(staff, kind, conversation_id=None):
    """The ids `staff` has ticked (in the order they were ticked), [] when nothing is."""
    row = Selection.objects.filter(**_where(staff, kind, conversation_id)).values_list("ids", flat=True).first()
    return list(row or [])


def parse_ids(text, kind):
    """Comma-separated ids (as chatsweep.js sends them) to numbers, ASCII digits only."""
    ids = []
    for part in (text or "").split(","):
        part = part.strip(" ")
        if part:
            try:
                ids.append(parse_id(part, NOUN[kind] + " ids"))
            except InvalidNumber as exc:
                raise SelectionRefused(exc.message) from None
    return ids


def _existing(kind, conversation_id, ids):
    if not ids:
        return set()
    if kind == MESSAGES:
        rows = Message.objects.filter(conversation_id=conversation_id, pk__in=ids)
    else:
        rows = Conversation.objects.filter(pk__in=ids)
    return set(rows.values_list("pk", flat=True))


def _locked_row(where):
    row = Selection.objects.select_for_update().filter(**where).first()
    if row is None:
        try:
            with transaction.atomic():
                row = Selection.objects.create(**where)
        except IntegrityError:  # someone else's request made it first: take theirs
            row = Selection.objects.select_for_update().get(**where)
    return row


def change_selection(staff, kind, conversation_id=None, *, add=(), remove=(), clear=False):
    """Tick `add`, untick `remove` (after `clear`, if asked); returns the ids now ticked.
    Refused, changing nothing, when the selection would exceed PURGE_MAX_IDS."""
    where = _where(staff, kind, conversation_id)
    limit = settings.PURGE_MAX_IDS
    with transaction.atomic():
        row = _locked_row(where)
        ids = [] if clear else list(row.ids)
        gone = set(remove)
        ids = [pk for pk in ids if pk not in gone]
        have = set(ids)
        new = [pk for pk in dict.fromkeys(add) if pk not in have and pk not in gone]
        existing = _existing(kind, conversation_id, new)
        ids += [pk for pk in new if pk in existing]
        if len(ids) > limit:
            raise SelectionRefused(
                f"One request takes at most {limit:,} {NOUN[kind]}s; this would select {len(ids):,}. "
                f"Untick {len(ids) - limit:,}{', or choose a time range instead' if kind == MESSAGES else ''}."
            )
        if ids:
            row.ids, row.updated_at = ids, timezone.now()
            row.save()
        else:
            row.delete()
    return ids


def forget(staff, kind, conversation_id=None):
    Selection.objects.filter(**_where(staff, kind, conversation_id)).delete()


def _spec_selection(spec):
    """(kind, conversation id, ids) of the selection `spec` was made from, or None."""
    if spec.kind == scopes.MESSAGES and spec.scope.conversation is not None:
        return MESSAGES, spec.scope.conversation, list(spec.scope.ids)
    if spec.kind == scopes.CONVERSATIONS:
        return CONVERSATIONS, None, list(spec.scope.conversations)
    return None


def remember(staff, spec):
    """A selection was previewed: keep exactly what the preview holds, ticked boxes that never
    reached the store included (a browser without JavaScript), so "Change selection" finds it."""
    found = _spec_selection(spec)
    if found is not None:
        kind, conversation_id, ids = found
        change_selection(staff, kind, conversation_id, add=ids, clear=True)


def forget_used(staff, spec):
    """A request made from a selection has run: the selection it came from is used up."""
    found = _spec_selection(spec)
    if found is not None:
        forget(staff, found[0], found[1])
