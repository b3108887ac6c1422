"""Keeping Conversation.last_message_at right after a batch deleted a conversation's latest message.

A batch that deletes messages older than a conversation's latest leaves last_message_at as it
is; one that took the latest needs the new one (chatdata.purge.units decides which). Inside a
single-conversation unit that is found without walking the index entries the run has killed
(refresh_latest_in_unit); otherwise it is recomputed with an index probe per conversation.
"""

from django.db import connection
from django.db.models import Max, Q

from chatdata.models import Conversation, LegalHold, Message
from chatdata.purge.scopes import RANGE
from chatdata.purge.statements import (
    batch_cursor,
    fenced_max_sent_at,
    ids_match,
    recompute_last_message_at,
    run,
    set_latest_or_newer,
)


def refresh_last_message_at(conversation_pks):
    """Recompute Conversation.last_message_at from what is left (an index probe each)."""
    if not conversation_pks:
        return
    with batch_cursor() as cursor:
        run(cursor, *recompute_last_message_at(*ids_match("id", sorted(conversation_pks))))


def refresh_latest_in_unit(spec, conversation_pk, after_id):
    """Set last_message_at after a batch of a range or whole-conversation unit took the
    conversation's latest message, without walking the index entries the run has killed: near
    the end of a big purge a plain MAX(sent_at) steps over a million dead entries (seconds,
    inside a batch transaction). What is left of the conversation lies outside the range, under
    a legal hold (active or since released: what it kept is still there), sent by someone the
    scope is not narrowed to, or above `after_id`
    (the rest of the scope, and whatever arrived after the preview); each region is searched on
    its own, starting where live rows are."""
    messages = Message.objects.filter(conversation_id=conversation_pk)
    regions = []
    if spec.senders:
        # Narrowed to some senders: everyone else's messages stay, wherever they are.
        regions.append(messages.exclude(sender_id__in=spec.senders))
    if spec.kind == RANGE:
        if spec.scope.end is not None:
            regions.append(messages.filter(sent_at__gte=spec.scope.end))
        if spec.scope.start is not None:
            regions.append(messages.filter(sent_at__lt=spec.scope.start))
    by_sender = []
    for hold in LegalHold.objects.filter(Q(conversation_id=conversation_pk) | Q(kind=LegalHold.Kind.USER)):
        held = messages.filter(sender_id=hold.user_id) if hold.kind == LegalHold.Kind.USER else messages
        if hold.start is not None:
            held = held.filter(sent_at__gte=hold.start)
        if hold.end is not None:
            held = held.filter(sent_at__lt=hold.end)
        if hold.kind == LegalHold.Kind.CONVERSATION:
            regions.append(held)
        else:
            by_sender.append(held)
    latest = [qs.aggregate(latest=Max("sent_at"))["latest"] for qs in regions]
    # A user's held messages are found through that user's index, not the conversation's.
    latest += [_fenced_latest(qs) for qs in by_sender]
    if connection.vendor != "postgresql":
        latest.append(messages.filter(id__gt=after_id).aggregate(latest=Max("sent_at"))["latest"])
        value = max((v for v in latest if v is not None), default=None)
        Conversation.objects.filter(pk=conversation_pk).update(last_message_at=value)
        return
    value = max((v for v in latest if v is not None), default=None)
    with connection.cursor() as cursor:
        run(cursor, *set_latest_or_newer(conversation_pk, value, after_id))


def _fenced_latest(qs):
    """MAX(sent_at) of a queryset, computed over its rows as a plain scan: `OFFSET 0` keeps the
    planner from turning it into a backward walk of the (conversation, sent_at) index, where
    this run's dead entries are."""
    if connection.vendor != "postgresql":
        return qs.aggregate(latest=Max("sent_at"))["latest"]
    inner, params = qs.order_by().values("sent_at").query.sql_with_params()
    with connection.cursor() as cursor:
        return run(cursor, *fenced_max_sent_at(inner, params)).fetchone()[0]
