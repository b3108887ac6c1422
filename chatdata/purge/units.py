"""One step of a purge inside its current unit: a batch of messages, or the unit's finishing work.

chatdata.purge.execute runs the protocol (one transaction per step, the checkpoint, fencing,
cancel); `UnitRun` is what a step does inside it. A batch takes the next messages by keyset
(`id > cursor AND id <= high_water_mark AND <scope> AND NOT <held>`), deletes or hides them with
their children (chatdata.purge.effects) and counts what it did. The unit's finishing work writes
its sync events, moves a member's `cleared_before`, or removes a conversation.

What binds every step is the preview: the holds are `holds_for(request)` (in force at the preview,
or active now) and a batch never takes more than the preview's count still allows (`allowance`).
"""

import time
from dataclasses import replace
from functools import cached_property

from django.db import connection
from django.utils import timezone

from chatdata.models import Conversation, Message, PurgeItem, SyncEvent
from chatdata.purge import effects
from chatdata.purge.latest import refresh_last_message_at, refresh_latest_in_unit
from chatdata.purge.predicates import holds_for, scope_messages
from chatdata.purge.preview import COUNT_KEYS, frozen_bound, unit_conversation, zero_counts
from chatdata.purge.scopes import DELETE_CONVERSATION, MESSAGES, MODE_ATTACHMENTS, MODE_CLEAR, MODE_DELETE, MODE_HIDE_ROWS
from chatdata.purge.sync import event_for_unit, lists_ids

Status = PurgeItem.Status


def _add(total, counts):
    for key, value in counts.items():
        if key in COUNT_KEYS:
            total[key] = total.get(key, 0) + value
    return total


def _fetch(queryset):
    """The rows of a values_list queryset of plain columns, in one fetch: the ORM's row iterator
    (chunks of 100, a converter pass per row) added about an eighth to each batch's SELECT."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class UnitRun:
    """One step inside the current unit: a batch, or the unit's finishing work."""

    def __init__(self, request, spec, unit, remover):
        self.request = request
        self.remover = remover
        self.spec = spec
        self.conversation = unit_conversation(spec, unit)
        self.item = request.items.get(position=request.unit) if unit is not None else None
        self.state = request.progress.setdefault("unit", {"touched": [], "ids": {}, "counts": zero_counts()})
        self.now = timezone.now()
        # How long the batch's writes took (deleting or hiding the messages with their children
        # and tombstones): what the pause after it is a share of (execute.BatchSizer).
        self.writing_seconds = None

    @cached_property
    def holds(self):
        # Read in this step's transaction: a hold placed a moment ago protects from this batch on.
        return holds_for(self.request)

    def advance(self, size):
        """Run a batch of at most `size` messages, or the unit's finishing work. Returns how many
        messages the batch took (0: no batch ran), for the timing figures and the BatchSizer."""
        if self.item is not None:
            if self.item.status == Status.REFUSED:
                return self._next_unit()
            if self.request.cursor == 0 and not Conversation.objects.filter(pk=self.conversation).exists():
                self._set_item(Status.NOT_FOUND, "The conversation no longer exists.")
                return self._next_unit()
        mode = self.spec.mode
        if mode == MODE_CLEAR:
            self._finish_clear()
            return self._next_unit()
        allowed = self.allowance()
        if allowed:
            rows, cursor, exhausted = self._next_batch(size, allowed)
        else:
            rows, cursor, exhausted = [], self.request.cursor, True
            self._note_beyond_preview()
        if rows:
            self._apply(rows, mode, cursor)
        self.request.cursor = cursor
        if exhausted:
            self._finish_batched(mode)
            self._next_unit()
        return len(rows)

    def allowance(self):
        """How many more messages this run may take: what the preview counted (for the request,
        and for this unit's conversation) less what it has taken. Holds frozen at the preview
        keep the scope from growing; this is the backstop for the other way it can grow, a
        message at or below the high-water mark that committed after the preview (ids are handed
        out in one order, transactions commit in another)."""
        allowed = self.request.total_messages - self.request.processed_messages
        if self.item is not None:
            allowed = min(allowed, self.item.preview.get("messages", 0) - self.state["counts"].get("messages", 0))
        return max(allowed, 0)

    def _note_beyond_preview(self):
        """The preview's count is reached: what still matches in this unit stays, counted as
        `beyond_preview` beside the executed counts (drift, shown, never taken)."""
        qs = scope_messages(self.spec, hwm=self.request.high_water_mark, holds=self.holds, conversation=self.conversation)
        left = qs.filter(id__gt=self.request.cursor).count()
        if left:
            for counts in (self.request.result, self.state["counts"]):
                counts["beyond_preview"] = counts.get("beyond_preview", 0) + left

    def _next_batch(self, size, allowed):
        """The next rows (at most `size`, and never more than `allowed`), the new cursor, and
        whether the unit is exhausted."""
        hwm = self.request.high_water_mark
        # External ids only where the sync events list them (an id list, what a search matched).
        fields = ("id", "conversation_id", "external_id") if lists_ids(self.spec) else ("id", "conversation_id")
        holds = self.holds
        if self.spec.kind == MESSAGES:
            # The ids are known: walk them in order instead of scanning the table.
            remaining = sorted(pk for pk in self.spec.scope.ids if self.request.cursor < pk <= hwm)
            chunk = remaining[:size]
            if not chunk:
                return [], self.request.cursor, True
            spec = replace(self.spec, scope=replace(self.spec.scope, ids=tuple(chunk)))
            rows = _fetch(scope_messages(spec, hwm=hwm, holds=holds).order_by("id").values_list(*fields))
            if len(rows) > allowed:
                # Cut the rows, not the chunk: held ids in the chunk must not shrink the steps.
                rows = rows[:allowed]
                return rows, rows[-1][0], False
            return rows, chunk[-1], len(remaining) <= size
        size = min(size, allowed)
        qs = scope_messages(self.spec, hwm=hwm, holds=holds, conversation=self.conversation)
        rows = _fetch(qs.filter(id__gt=self.request.cursor).order_by("id").values_list(*fields)[:size])
        cursor = rows[-1][0] if rows else self.request.cursor
        return rows, cursor, len(rows) < size

    def _apply(self, rows, mode, cursor):
        ids = [row[0] for row in rows]
        began = time.monotonic()
        if mode == MODE_DELETE:
            counts, outbox, deleted = effects.delete_messages(ids, request_pk=self.request.pk, now=self.now)
            self.writing_seconds = time.monotonic() - began
            self._refresh_latest(deleted, cursor)
            self.remover.hold_after_commit(outbox)
            touched = set(deleted)
        elif mode == MODE_ATTACHMENTS:
            counts, outbox = effects.delete_attachments(ids, request_pk=self.request.pk, now=self.now)
            self.remover.hold_after_commit(outbox)
            touched = {row[1] for row in rows}
        else:
            counts = effects.hide_messages(ids, member=self.spec.member, now=self.now)
            self.writing_seconds = time.monotonic() - began
            touched = {row[1] for row in rows}
        self.state["touched"] = sorted(set(self.state["touched"]) | touched)
        if lists_ids(self.spec):
            for pk, conversation, external_id in rows:
                self.state["ids"].setdefault(str(conversation), []).append(external_id)
        self._count(counts)

    def _refresh_latest(self, deleted, cursor):
        """Keep last_message_at right. Deleting older messages leaves it as it is; a batch that
        took a conversation's latest message needs the new latest, found in a single-conversation
        unit without walking the run's dead index entries (chatdata.purge.latest)."""
        stale = [pk for pk, (_, latest, last) in deleted.items() if last is None or latest >= last]
        if self.conversation is not None:
            for pk in stale:
                refresh_latest_in_unit(self.spec, pk, cursor)
        elif stale:
            refresh_last_message_at(stale)

    def _count(self, counts):
        _add(self.state["counts"], counts)
        _add(self.request.result, counts)
        self.request.processed_messages += counts.get("messages", 0)

    def _finish_batched(self, mode):
        touched = self.state["touched"]
        if mode == MODE_DELETE and self.spec.removes_conversations:
            self._finish_conversation_removal()
            return
        kind = {
            MODE_DELETE: SyncEvent.Kind.MESSAGES_DELETED,
            MODE_ATTACHMENTS: SyncEvent.Kind.ATTACHMENTS_DELETED,
        }.get(mode, SyncEvent.Kind.MESSAGES_HIDDEN)
        member = self.spec.member if mode == MODE_HIDE_ROWS else None
        self._notify(touched, kind, member=member)
        self._count({"conversations": len(touched)})
        kept = self._kept_by_holds() if self.spec.destroys and self.item is not None else 0
        if kept:
            self._set_item(Status.HELD, f"{kept} messages kept under legal hold.")
        else:
            self._set_item(Status.OK, "")

    def _kept_by_holds(self):
        """Messages of this unit's conversation that legal holds keep."""
        held = scope_messages(
            self.spec, hwm=self.request.high_water_mark, holds=self.holds, conversation=self.conversation, held=True
        )
        return held.count()

    def _finish_conversation_removal(self):
        pk = self.conversation
        held_by = [h for h in self.holds if h.conversation_id == pk]
        left = Message.objects.filter(conversation_id=pk)
        kept_held = self._kept_by_holds()
        if not held_by and not left.exists():
            self._notify([pk], SyncEvent.Kind.CONVERSATION_DELETED)
            effects.remove_conversation(pk)
            self._count({"conversations": 1})
            self._set_item(Status.OK, "")
            return
        self._notify(self.state["touched"], SyncEvent.Kind.MESSAGES_DELETED)
        if held_by or kept_held:
            names = "; ".join(h.describe() for h in held_by) or f"{kept_held} messages under legal hold"
            self._set_item(Status.HELD, f"Kept under {names}; the conversation stays.")
        else:
            self._set_item(Status.OK, f"{left.count()} messages the preview did not count are left; the conversation stays.")

    def _finish_clear(self):
        spec = self.spec
        preview = self.item.preview if self.item is not None else (self.request.preview or {})
        bound = frozen_bound(preview)
        counts, changed = effects.clear_for_member(
            conversation_pk=self.conversation,
            member=spec.member,
            bound=bound,
            hide_conversation=spec.effect == DELETE_CONVERSATION,
        )
        if counts is None:
            self._set_item(Status.REFUSED, "The member is no longer in this conversation.")
            return
        if changed:
            kind = (
                SyncEvent.Kind.CONVERSATION_HIDDEN if spec.effect == DELETE_CONVERSATION else SyncEvent.Kind.HISTORY_CLEARED
            )
            self._notify([self.conversation], kind, member=spec.member, extra={"cleared_before": preview.get("cleared_before")})
            counts["conversations"] = 1
        self._count(counts)
        self._set_item(Status.OK, "" if changed else "Nothing to change: already hidden or cleared.")

    def _notify(self, conversation_pks, kind, *, member=None, extra=None):
        written = 0
        for pks, payload in event_for_unit(self.request, self.spec, conversation_pks, kind, self.state["ids"], extra):
            written += effects.write_events(conversation_pks=pks, kind=kind, payload=payload, now=self.now, member=member)
        # Per unit this is exact; across units _end() counts distinct members instead.
        self._count({"members_affected": written})

    def _set_item(self, status, reason):
        if self.item is None:
            return
        self.item.status = status
        self.item.reason = reason
        self.item.counts = dict(self.state["counts"])
        self.item.save(update_fields=["status", "reason", "counts"])

    def _next_unit(self):
        self.request.unit += 1
        self.request.cursor = 0
        self.request.progress.pop("unit", None)
        return 0
