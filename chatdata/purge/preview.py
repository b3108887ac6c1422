"""Exact previews: what a spec would change, counted per table, without loading the rows.

`compute_preview(spec)` is read-only (the web UI calls it as the bounds of a range change);
`chatdata.purge.actions.do_preview_purge` stores its result on a PurgeRequest. Every count is a
COUNT query over the same predicate the run uses (chatdata.purge.predicates), at or below the
high-water mark frozen here, so previewed and executed counts agree unless the data moved in
between (the run records its own counts beside these; drift is shown, never hidden).

What the counts mean, per effect:
- delete (delete_for_everyone, delete_conversation for everyone): rows removed from each table;
  `conversations` = conversations that lose messages, or for delete_conversation the conversations
  removed; `members_affected` = members of those conversations (each gets a sync event).
- hide_for_user with MessageHide rows (id lists, ranges with a start): `messages` in scope, `hides`
  = new MessageHide rows, `pending_deliveries` = the member's queued deliveries of them (removed).
- clear (whole history, open-start range, delete_conversation for one member): `messages` = messages
  the member stops seeing (sent before the new `cleared_before`, not before the old one).
- attachments (delete_attachments): `messages` = messages in scope with an attachment (they stay),
  `attachments` = attachment rows removed with their files; `conversations` and `members_affected`
  as for a delete.
`excluded_by_hold` counts messages in scope that legal holds keep (destructive effects only).
"""

from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef
from django.db.models.functions import TruncDate
from django.utils import timezone

from chatdata.models import (
    Conversation,
    Membership,
    Message,
    MessageHide,
    PendingDelivery,
    PurgeRequest,
)
from chatdata.purge.counting import CHILD_COUNTS, SCOPE_CONVERSATIONS, SCOPE_MEMBERS, SCOPE_MESSAGES, count_rows
from chatdata.purge.predicates import active_holds, hold_q, holds_for, scope_messages
from chatdata.purge.scopes import (
    CONVERSATION,
    CONVERSATIONS,
    DELETE_CONVERSATION,
    HIDE_FOR_USER,
    MODE_ATTACHMENTS,
    MODE_CLEAR,
    MODE_DELETE,
    MODE_HIDE_ROWS,
    RANGE,
)

COUNT_KEYS = ("messages", "attachments", "reactions", "hides", "pending_deliveries", "conversations", "members_affected")
SAMPLE_SIZE = 3
SNIPPET = 80
# cleared_before hides what was sent strictly before it; one tick past the last message covers it.
TICK = timedelta(microseconds=1)


@contextmanager
def read_snapshot():
    """Run the preview's queries on one snapshot, so its counts agree with each other and with
    the high-water mark. On PostgreSQL, outside any transaction, that is one REPEATABLE READ
    READ ONLY transaction; inside the caller's transaction (or on SQLite, whose transactions
    are serializable) the caller's snapshot is used as it is.

    That transaction also plans without hash joins: a preview counts a scope's children through
    their `message_id` indexes, and PostgreSQL's default costs would rather read and hash the
    whole child table, which grows with the service while the scope does not. Measured on
    1,000,000 messages (bench/api's database): a month of one conversation, 9,348 messages, 100 ms
    hashing all 167,199 reactions and 49,670 attachments against 18 ms through the indexes (with
    count_rows' WITH query); the whole conversation, 140,000 messages, 350 ms against 250: the
    price, for a scope that is a seventh of the store, of never reading whole child tables."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL enable_hashjoin = off")
            yield
    else:
        yield


def zero_counts():
    return dict.fromkeys(COUNT_KEYS, 0)


def high_water_mark():
    return Message.objects.aggregate(top=Max("id"))["top"] or 0


def units_of(spec):
    """Conversation pks handled one at a time (the PurgeItems of a `conversations` scope), or
    [None] for scopes run as one unit."""
    if spec.kind == CONVERSATIONS:
        return list(spec.scope.conversations)
    return [None]


def unit_conversation(spec, unit):
    """The one conversation a unit works in, or None when it spans several (messages, user)."""
    if unit is not None:
        return unit
    return spec.scope.conversation if spec.kind in (RANGE, CONVERSATION) else None


def clear_bound(spec, conversation_pk, hwm):
    """The new Membership.cleared_before a clear-mode effect sets, or None (no move)."""
    if spec.effect == HIDE_FOR_USER and spec.kind == RANGE:
        return spec.scope.end
    if spec.effect == DELETE_CONVERSATION and not spec.clear_history:
        return None
    last = Message.objects.filter(conversation_id=conversation_pk, id__lte=hwm).aggregate(last=Max("sent_at"))["last"]
    return last + TICK if last is not None else None


def newly_hidden(conversation_pk, old, new):
    """Messages a member stops seeing when cleared_before moves from `old` to `new`."""
    qs = Message.objects.filter(conversation_id=conversation_pk, sent_at__lt=new)
    return qs.filter(sent_at__gte=old) if old is not None else qs


def clear_plan(spec, conversation_pk, bound):
    """What a clear-mode effect changes in one conversation, for `bound` (see clear_bound)."""
    membership = (
        Membership.objects.filter(conversation_id=conversation_pk, user_id=spec.member)
        .values("cleared_before", "hidden")
        .first()
    ) or {"cleared_before": None, "hidden": False}
    old = membership["cleared_before"]
    moves = bound is not None and (old is None or bound > old)
    plan = zero_counts()
    if moves:
        plan["messages"] = newly_hidden(conversation_pk, old, bound).count()
    if bound is not None:
        plan["pending_deliveries"] = PendingDelivery.objects.filter(
            user_id=spec.member, message__conversation_id=conversation_pk, message__sent_at__lt=bound
        ).count()
    hides_conversation = spec.effect == DELETE_CONVERSATION and not membership["hidden"]
    changed = moves or hides_conversation or plan["pending_deliveries"] > 0
    plan["conversations"] = plan["members_affected"] = int(changed)
    return plan, old


def _delete_counts(spec, hwm, holds):
    """The scope, the counts over it (count_rows), and the conversations a delete_conversation
    removes (counted here: they need the ids of those that exist and of those kept)."""
    msgs = scope_messages(spec, hwm=hwm, holds=holds)
    counted = {"messages": SCOPE_MESSAGES, **CHILD_COUNTS}
    known = {}
    if spec.removes_conversations:
        pks = [unit_conversation(spec, unit) for unit in units_of(spec)]
        kept = _kept_conversations(spec, pks, hwm, holds)
        # Those that still exist: a recount (chatdata.purge.staleness) may find one removed since.
        existing = set(Conversation.objects.filter(pk__in=pks).values_list("pk", flat=True))
        known["conversations"] = len(existing - kept)
        counted["members_affected"] = Membership.objects.filter(conversation_id__in=pks).values("user_id").distinct()
    else:
        counted["conversations"] = SCOPE_CONVERSATIONS
        counted["members_affected"] = SCOPE_MEMBERS
    return msgs, counted, known


def _attachment_counts(spec, hwm, holds):
    msgs = scope_messages(spec, hwm=hwm, holds=holds)  # the messages with an attachment
    counted = {
        "messages": SCOPE_MESSAGES,
        "attachments": CHILD_COUNTS["attachments"],
        "conversations": SCOPE_CONVERSATIONS,
        "members_affected": SCOPE_MEMBERS,
    }
    return msgs, counted, {}


def _kept_conversations(spec, pks, hwm, holds):
    """Conversations a delete-for-everyone must keep: under an active conversation hold, or
    still holding messages a hold keeps."""
    kept = {h.conversation_id for h in holds if h.conversation_id in set(pks)}
    held = scope_messages(spec, hwm=hwm, holds=holds, held=True)
    kept.update(held.values_list("conversation_id", flat=True).distinct())
    return kept


def _hide_counts(spec, hwm):
    msgs = scope_messages(spec, hwm=hwm)
    already = MessageHide.objects.filter(message_id=OuterRef("id"), user_id=spec.member)
    counted = {
        "messages": msgs,
        "hides": msgs.filter(~Exists(already)),
        "pending_deliveries": PendingDelivery.objects.filter(user_id=spec.member, message_id__in=msgs.values("id")),
        "conversations": msgs.values("conversation_id").distinct(),
    }
    return None, counted, {}


def _item_previews(spec, hwm, holds, resolved):
    """Per-conversation previews for a `conversations` scope, keyed by conversation pk."""
    previews = {}
    if spec.mode == MODE_CLEAR:
        for pk in units_of(spec):
            if pk in resolved.refused:
                continue
            bound = clear_bound(spec, pk, hwm)
            plan, old = clear_plan(spec, pk, bound)
            plan["cleared_before"] = bound.isoformat() if bound else None
            previews[pk] = plan
        return previews
    by_conversation = dict(
        scope_messages(spec, hwm=hwm, holds=holds).values_list("conversation_id").annotate(n=Count("id"))
    )
    held = dict(
        scope_messages(spec, hwm=hwm, holds=holds, held=True).values_list("conversation_id").annotate(n=Count("id"))
    )
    members = dict(
        Membership.objects.filter(conversation_id__in=list(spec.scope.conversations))
        .values_list("conversation_id")
        .annotate(n=Count("id"))
    )
    for pk in units_of(spec):
        previews[pk] = {
            "messages": by_conversation.get(pk, 0),
            "excluded_by_hold": held.get(pk, 0),
            "members": members.get(pk, 0),
        }
    return previews


def _sample_row(row):
    body = row["body"] or ""
    return {
        "id": row["id"],
        "external_id": row["external_id"],
        "conversation": row["conversation__external_id"],
        "sender": row["sender__external_id"],
        "sent_at": row["sent_at"].isoformat(),
        "body": body if len(body) <= SNIPPET else body[: SNIPPET - 1] + "…",
    }


SAMPLE_FIELDS = ("id", "external_id", "conversation__external_id", "sender__external_id", "sent_at", "body")


def _samples(qs):
    """The first and the last SAMPLE_SIZE messages of `qs`, each in (sent_at, id) order; on
    PostgreSQL by one statement (UNION ALL of both; its raw rows are what .values() gives there)."""
    first = qs.order_by("sent_at", "id").values(*SAMPLE_FIELDS)[:SAMPLE_SIZE]
    last = qs.order_by("-sent_at", "-id").values(*SAMPLE_FIELDS)[:SAMPLE_SIZE]
    if connection.vendor != "postgresql":
        return [_sample_row(r) for r in first], [_sample_row(r) for r in reversed(list(last))]
    try:
        (first_sql, first_params), (last_sql, last_params) = first.query.sql_with_params(), last.query.sql_with_params()
    except EmptyResultSet:
        return [], []
    rows = {0: [], 1: []}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 0, * FROM ({first_sql}) AS head UNION ALL SELECT 1, * FROM ({last_sql}) AS tail",
            [*first_params, *last_params],
        )
        names = [column[0] for column in cursor.description[1:]]
        for part, *values in cursor.fetchall():
            rows[part].append(dict(zip(names, values)))
    return tuple([_sample_row(r) for r in sorted(rows[part], key=lambda r: (r["sent_at"], r["id"]))] for part in (0, 1))


def compute_preview(spec, *, resolved, hwm=None, holds=None):
    """The preview dict (see module docstring) and per-item previews {conversation pk: dict}.

    `resolved` comes from chatdata.purge.validation.check_spec(spec)."""
    hwm = high_water_mark() if hwm is None else hwm
    holds = active_holds() if holds is None else holds
    mode = spec.mode
    items = _item_previews(spec, hwm, holds, resolved) if spec.kind == CONVERSATIONS else {}
    preview = zero_counts()
    sample_qs = scope_messages(spec, hwm=hwm, holds=holds)
    # The counts of the delete, attachments and hide modes, and the messages holds keep, are
    # counted together by one statement (count_rows).
    scope, counted, known = None, {}, {}
    if mode == MODE_DELETE:
        scope, counted, known = _delete_counts(spec, hwm, holds)
    elif mode == MODE_ATTACHMENTS:
        scope, counted, known = _attachment_counts(spec, hwm, holds)
    elif mode == MODE_HIDE_ROWS:
        scope, counted, known = _hide_counts(spec, hwm)
    elif spec.kind == CONVERSATIONS:
        for plan in items.values():
            for key in COUNT_KEYS:
                preview[key] += plan[key]
        preview["members_affected"] = min(preview["members_affected"], 1)
    else:
        pk = unit_conversation(spec, None)
        bound = clear_bound(spec, pk, hwm)
        plan, old = clear_plan(spec, pk, bound)
        preview.update(plan)
        preview["cleared_before"] = bound.isoformat() if bound else None
        if bound is not None:
            sample_qs = newly_hidden(pk, old, bound)
    if scope is not None:
        sample_qs = scope  # the same messages
    preview["excluded_by_hold"], preview["holds"] = 0, []
    if spec.destroys:
        held_qs = scope_messages(spec, hwm=hwm, holds=holds, held=True)
        counted["excluded_by_hold"] = held_qs
    preview.update(count_rows(counted, scope))
    preview.update(known)
    if mode == MODE_HIDE_ROWS:
        preview["members_affected"] = int(preview["messages"] > 0)
    if spec.destroys and preview["excluded_by_hold"]:
        kept = count_rows({index: held_qs.filter(hold_q(hold)) for index, hold in enumerate(holds)})
        for index, hold in enumerate(holds):
            if kept[index]:
                preview["holds"].append({"id": hold.pk, "description": hold.describe(), "messages": kept[index]})
    preview["high_water_mark"] = hwm
    preview["sample_first"], preview["sample_last"] = _samples(sample_qs)
    work = preview["messages"] if mode != MODE_CLEAR else 0
    units = len(units_of(spec))
    preview["runs_inline"] = work <= settings.PURGE_INLINE_LIMIT and units <= max(settings.PURGE_INLINE_LIMIT, 1)
    preview["needs_approval"] = preview["messages"] > settings.PURGE_APPROVAL_THRESHOLD or spec.is_erasure
    preview["mode"] = mode
    preview["computed_at"] = timezone.now().isoformat()
    return preview, items


NOTHING_MATCHES = "Nothing matches: no request was made."


def changes_nothing(spec, preview):
    """True when running `preview` would change nothing, so no request is to be made for it
    (DESIGN.md §3): deleting, no message goes (and, removing conversations for everyone, no
    conversation either); one-way, the member would see exactly what they see now (nothing newly
    hidden, no pending delivery dropped, no conversation hidden from their list)."""
    mode = preview["mode"]
    if mode == MODE_DELETE:
        return preview["messages"] == 0 and not (spec.removes_conversations and preview["conversations"])
    if mode == MODE_ATTACHMENTS:
        return preview["attachments"] == 0
    if mode == MODE_HIDE_ROWS:
        return preview["hides"] == 0 and preview["pending_deliveries"] == 0
    hides_conversation = spec.effect == DELETE_CONVERSATION and preview["conversations"] > 0
    return preview["messages"] == 0 and preview["pending_deliveries"] == 0 and not hides_conversation


def nothing_matches_message(preview):
    """NOTHING_MATCHES, saying how many messages legal holds keep when they keep the whole scope."""
    held = preview.get("excluded_by_hold", 0)
    if held == 1:
        return f"{NOTHING_MATCHES} 1 message in scope is kept under legal hold."
    if held:
        return f"{NOTHING_MATCHES} {held:,} messages in scope are kept under legal hold."
    return NOTHING_MATCHES


def frozen_bound(preview):
    """The cleared_before a previewed clear froze (the stored preview's JSON form), or None."""
    bound = (preview or {}).get("cleared_before")
    return datetime.fromisoformat(bound) if bound else None


def affected_per_day(spec_or_request, *, hwm=None, tzinfo=None):
    """[(date, messages)] of what the preview's `messages` counts, per day in `tzinfo` (default:
    the current time zone), by one GROUP BY query: the preview's histogram. None when no one
    picture matches that count (a one-member clear spread over several conversations).

    For a spec, what a preview at `hwm` (default: now) counts, under the holds active now; for a
    saved PurgeRequest, what its own preview counted (its high-water mark, the holds frozen with
    it, the cleared_before it froze). A clear counts the messages the member stops seeing."""
    if isinstance(spec_or_request, PurgeRequest):
        request = spec_or_request
        spec, hwm = request.purge_spec, request.high_water_mark
    else:
        request, spec = None, spec_or_request
    if spec.mode == MODE_CLEAR:
        pk = unit_conversation(spec, None)
        if pk is None:
            return None
        if request is not None:
            bound = frozen_bound(request.preview)
        else:
            bound = clear_bound(spec, pk, high_water_mark() if hwm is None else hwm)
        if bound is None:
            return []
        old = Membership.objects.filter(conversation_id=pk, user_id=spec.member).values_list("cleared_before", flat=True).first()
        messages = newly_hidden(pk, old, bound)
    else:
        holds = holds_for(request) if request is not None else active_holds()
        messages = scope_messages(spec, hwm=hwm, holds=holds)
    rows = (
        messages.annotate(day=TruncDate("sent_at", tzinfo=tzinfo))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    return [(row["day"], row["n"]) for row in rows]
