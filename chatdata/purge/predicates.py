"""The messages a spec covers, as one predicate on the message table itself.

Preview counts, samples, the per-day histogram and every execution batch start from
`scope_messages()`, so what is counted is what is run. The predicate only uses the message
table's own columns (id, conversation, sender, sent_at, and for a `matching` scope the body, through
the search's own full-text index): PERF_NOTES.md measured joins in a bulk
delete's predicate at 1.5x the time and 2.8x the WAL, and these columns are what the
(conversation, sent_at, id) and (sender, sent_at) indexes serve. `delete_attachments` adds one
EXISTS on the attachment table (its message_id index): its scope is the messages that have one.

Legal holds are read fresh for every query that needs them (a handful of rows), so a hold placed
while a purge runs protects its messages from the very next batch. Once a request is previewed,
the holds that bind it are `holds_for(request)`: those active now and those in force at its
preview, even if released since. Releasing a hold must not let a run take what its preview (and
its confirmation, and its approval) left out.
"""

from django.db.models import Exists, OuterRef, Q

from chatdata.browse.search import matching_text_q
from chatdata.models import Attachment, LegalHold, Message
from chatdata.purge.scopes import CONVERSATION, CONVERSATIONS, MATCHING, MESSAGES, MODE_ATTACHMENTS, RANGE, USER


def _window(start, end):
    q = Q()
    if start is not None:
        q &= Q(sent_at__gte=start)
    if end is not None:
        q &= Q(sent_at__lt=end)
    return q


def _senders(senders):
    return Q(sender_id__in=senders) if senders else Q()


def scope_q(spec, *, conversation=None):
    """Q on Message for the spec's scope, optionally narrowed to one conversation (one unit)."""
    q = scope_only_q(spec.scope)
    if conversation is not None:
        q &= Q(conversation_id=conversation)
    return q


def scope_only_q(scope):
    """Q on Message for a scope value, whatever the effect."""
    kind = scope.kind
    if kind == MESSAGES:
        q = Q(id__in=scope.ids)
        if scope.conversation is not None:
            q &= Q(conversation_id=scope.conversation)
    elif kind == RANGE:
        q = Q(conversation_id=scope.conversation) & _window(scope.start, scope.end) & _senders(scope.senders)
    elif kind == CONVERSATION:
        q = Q(conversation_id=scope.conversation)
    elif kind == CONVERSATIONS:
        q = Q(conversation_id__in=scope.conversations) & _senders(scope.senders)
    elif kind == USER:
        q = Q(sender_id=scope.user) & _window(scope.start, scope.end)
        if scope.conversations:
            q &= Q(conversation_id__in=scope.conversations)
    elif kind == MATCHING:
        q = _senders(scope.senders) & _window(scope.start, scope.end)
        if scope.conversation is not None:
            q &= Q(conversation_id=scope.conversation)
        q &= matching_text_q(scope.text, narrowed=scope.narrowed)
    else:  # pragma: no cover - PurgeSpec refuses other kinds
        raise ValueError(kind)
    return q


def matching_count(scope, *, at_most=None):
    """How many messages a scope matches now, holds and high-water mark aside: the N of the
    search page's "Select all N matching" (the preview then counts exactly, at its mark). With
    `at_most`, counting stops past it (the answer is then at_most + 1): a common word matches a
    tenth of the table, and a results page must not pay for counting all of it."""
    rows = Message.objects.filter(scope_only_q(scope))
    if at_most is not None:
        rows = rows[: at_most + 1]
    return rows.count()


def active_holds():
    return list(LegalHold.objects.filter(released_at__isnull=True).order_by("id"))


def holds_for(request):
    """The holds binding a previewed PurgeRequest: active now, or in force at its preview. Every
    query made for a request after its preview (batches, the held counts, keeping a conversation,
    its histogram, the hold check before a run) uses these, so they all agree."""
    frozen = Q(pk__in=request.preview_holds or [])
    return list(LegalHold.objects.filter(Q(released_at__isnull=True) | frozen).order_by("id"))


def hold_q(hold):
    """Q on Message for what one hold covers (see chatdata.models.compliance)."""
    subject = Q(sender_id=hold.user_id) if hold.kind == LegalHold.Kind.USER else Q(conversation_id=hold.conversation_id)
    return subject & _window(hold.start, hold.end)


def held_q(holds):
    """Q on Message for everything under any of `holds`, or None when there are none."""
    q = None
    for hold in holds:
        if hold.kind == LegalHold.Kind.CONVERSATION and hold.conversation_id is None:
            continue
        q = hold_q(hold) if q is None else q | hold_q(hold)
    return q


def scope_messages(spec, *, hwm=None, holds=None, conversation=None, held=False):
    """Messages in scope at or below `hwm`: those the effect applies to, or with held=True, those
    a legal hold keeps out. Holds only matter for effects that remove rows (see compliance.py)."""
    qs = Message.objects.filter(scope_q(spec, conversation=conversation))
    if spec.mode == MODE_ATTACHMENTS:
        # Only attachments go: the scope is the messages that have one.
        qs = qs.filter(Exists(Attachment.objects.filter(message_id=OuterRef("id"))))
    if hwm is not None:
        qs = qs.filter(id__lte=hwm)
    hq = held_q(holds) if (holds and spec.destroys) else None
    if held:
        return qs.filter(hq) if hq is not None else qs.none()
    if hq is not None:
        qs = qs.exclude(hq)
    return qs.order_by()
