"""The expectation model of tests/test_purge_properties.py: what a purge must change, computed in
plain Python over a snapshot of every chat table (tests.purge_snapshot) taken before it ran.

It follows DESIGN.md and the engine's documented semantics (chatdata.purge.scopes,
chatdata.models.compliance), not the engine's query code, and says it as the exact set of row
changes: rows removed, columns changed, rows added (by natural key). Any other difference, in any
chat table, fails the example. A request that is invalid or refused is `Expected(invalid=True)`:
it must change nothing at all. Messages above the high-water mark (sent between preview and
execution) are never in scope.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import event

TICK = timedelta(microseconds=1)  # cleared_before hides what was sent strictly before it


@dataclass
class Expected:
    invalid: bool = False
    removed: dict = field(default_factory=dict)  # table -> set of pks
    changed: dict = field(default_factory=dict)  # table -> {pk: {column: (old, new)}}
    added_hides: set = field(default_factory=set)  # (message, user)
    events: set = field(default_factory=set)  # (user, conversation, kind)
    processed: set = field(default_factory=set)  # message pks deleted or hidden
    # Whether anything would change for anyone (DESIGN.md §3: an empty scope is refused): a message
    # or conversation removed; for one member, a message newly hidden from them, a pending delivery
    # of theirs dropped, or the conversation hidden from their list.
    changes_something: bool = False


MATCHING_TEXTS = ["", "body", "1", "body 0", "body -0", "nothing"]


def matches_words(body, text):
    """A full-text (websearch) match of the words of `text` in `body`, whole words, `-word` excluded."""
    words = set((body or "").lower().split())
    terms = text.lower().split()
    return all((t[1:] not in words) if t.startswith("-") else (t in words) for t in terms)


def in_window(moment, start, end):
    return (start is None or moment >= start) and (end is None or moment < end)


def overlap(a_start, a_end, b_start, b_end):
    """Two half-open windows share an instant (None = open)."""
    return (a_start is None or b_end is None or a_start < b_end) and (b_start is None or a_end is None or b_start < a_end)


def expect(before, spec, hwm):
    """What a purge of `spec` must change in `before` (see the module docstring)."""
    ex = Expected()
    convs, members = before["chatdata_conversation"], before["chatdata_membership"]
    msgs = before["chatdata_message"]
    scope, kind, member = spec.scope, spec.kind, spec.member
    # DESIGN.md §2: only the one-member effects keep rows; MessageHide rows for id lists and
    # ranges with a start, one membership row for the rest.
    destroys = member is None
    removes_conversations = destroys and spec.effect == "delete_conversation"
    only_attachments = spec.effect == "delete_attachments"
    senders = getattr(scope, "senders", ())
    hide_rows = spec.effect == "hide_for_user" and (
        kind == "messages" or (kind == "range" and scope.start is not None) or bool(senders))
    holds = [h for h in before["chatdata_legalhold"].values() if h["released_at"] is None]
    membership = {(m["conversation_id"], m["user_id"]): pk for pk, m in members.items()}

    def members_of(c):
        return sorted(m["user_id"] for m in members.values() if m["conversation_id"] == c)

    def in_scope(m):
        if kind == "messages":
            ok = m["id"] in scope.ids and scope.conversation in (None, m["conversation_id"])
        elif kind == "range":
            ok = m["conversation_id"] == scope.conversation and in_window(m["sent_at"], scope.start, scope.end)
        elif kind == "conversation":
            ok = m["conversation_id"] == scope.conversation
        elif kind == "conversations":
            ok = m["conversation_id"] in scope.conversations
        elif kind == "matching":
            ok = in_window(m["sent_at"], scope.start, scope.end) and matches_words(m["body"], scope.text)
            ok = ok and scope.conversation in (None, m["conversation_id"])
        else:
            ok = m["sender_id"] == scope.user and in_window(m["sent_at"], scope.start, scope.end)
            ok = ok and (not scope.conversations or m["conversation_id"] in scope.conversations)
        if senders and m["sender_id"] not in senders:
            return False
        if only_attachments and not any(a["message_id"] == m["id"] for a in before["chatdata_attachment"].values()):
            return False
        return ok and m["id"] <= hwm

    def held(m):
        return any(
            (m["sender_id"] == h["user_id"] if h["kind"] == "user" else m["conversation_id"] == h["conversation_id"])
            and in_window(m["sent_at"], h["start"], h["end"])
            for h in holds
        )

    # Validation (nothing may change when it fails).
    if kind == "messages":
        involved = {msgs[pk]["conversation_id"] for pk in scope.ids}
        if scope.conversation is not None and involved != {scope.conversation}:
            return Expected(invalid=True)
    elif kind in ("range", "conversation"):
        involved = {scope.conversation}
    elif kind == "conversations":
        involved = set(scope.conversations)
    else:
        involved = set()
    if kind == "matching" and scope.conversation is not None and scope.conversation not in convs:
        return Expected(invalid=True)
    units = sorted(involved)
    if member is not None:
        refused = {c for c in involved if convs[c]["kind"] == "room" or (c, member) not in membership}
        if refused and (kind != "conversations" or refused == involved):
            return Expected(invalid=True)
        units = [c for c in units if c not in refused]
    if kind == "user" and any(
        h["kind"] == "user" and h["user_id"] == scope.user and overlap(h["start"], h["end"], scope.start, scope.end) for h in holds
    ):
        return Expected(invalid=True)  # an erasure of a user under hold is refused, naming it

    def remove(table, pks):
        ex.removed.setdefault(table, set()).update(pks)

    def change(table, pk, column, new):
        old = before[table][pk][column]
        if old != new:
            ex.changed.setdefault(table, {}).setdefault(pk, {})[column] = (old, new)

    children = ["chatdata_reaction", "chatdata_messagehide", "chatdata_pendingdelivery", "chatdata_attachment"]
    if only_attachments:  # the attachments of the messages in scope go; the messages stay
        stripped = {pk for pk, m in msgs.items() if in_scope(m) and not held(m)}
        ex.processed = stripped
        ex.changes_something = bool(stripped)
        remove("chatdata_attachment", {pk for pk, a in before["chatdata_attachment"].items() if a["message_id"] in stripped})
        for c in sorted({msgs[pk]["conversation_id"] for pk in stripped}):
            ex.events |= {(u, c, "attachments_deleted") for u in members_of(c)}
    elif destroys:
        gone = {pk for pk, m in msgs.items() if in_scope(m) and not held(m)}
        if any(in_scope(m) and held(m) for m in msgs.values()):
            event("legal holds keep messages in scope")
        ex.processed = gone
        ex.changes_something = bool(gone)
        remove("chatdata_message", gone)
        for table in children:
            remove(table, {pk for pk, row in before[table].items() if row["message_id"] in gone})
        touched = {msgs[pk]["conversation_id"] for pk in gone}
        left = {c: [m["sent_at"] for pk, m in msgs.items() if m["conversation_id"] == c and pk not in gone] for c in convs}
        for c in sorted(touched | set(units if removes_conversations else [])):
            conversation_hold = any(h["kind"] == "conversation" and h["conversation_id"] == c for h in holds)
            if removes_conversations and not left[c] and not conversation_hold:
                ex.changes_something = True
                remove("chatdata_conversation", {c})
                remove("chatdata_membership", {pk for pk, m in members.items() if m["conversation_id"] == c})
                for pk, h in before["chatdata_legalhold"].items():  # released holds lose the link (SET NULL)
                    if h["conversation_id"] == c:
                        change("chatdata_legalhold", pk, "conversation_id", None)
                ex.events |= {(u, c, "conversation_deleted") for u in members_of(c)}
                continue
            if c in touched:
                change("chatdata_conversation", c, "last_message_at", max(left[c], default=None))
                ex.events |= {(u, c, "messages_deleted") for u in members_of(c)}
    elif hide_rows:
        shown = {pk for pk, m in msgs.items() if in_scope(m)}
        ex.processed = shown
        hidden_already = {(h["message_id"], h["user_id"]) for h in before["chatdata_messagehide"].values()}
        ex.added_hides = {(pk, member) for pk in shown} - hidden_already
        dropped = {
            pk for pk, p in before["chatdata_pendingdelivery"].items() if p["user_id"] == member and p["message_id"] in shown
        }
        remove("chatdata_pendingdelivery", dropped)
        ex.changes_something = bool(ex.added_hides or dropped)
        ex.events |= {(member, msgs[pk]["conversation_id"], "messages_hidden") for pk in shown}
    else:  # one membership row per conversation: cleared_before forward, and/or hidden
        for c in units:
            pk = membership[(c, member)]
            old = members[pk]["cleared_before"]
            if spec.effect == "hide_for_user" and kind == "range":
                bound = scope.end
            elif spec.effect == "delete_conversation" and not spec.clear_history:
                bound = None
            else:
                last = max((m["sent_at"] for m in msgs.values() if m["conversation_id"] == c and m["id"] <= hwm), default=None)
                bound = last + TICK if last else None
            changed = False
            if bound is not None and (old is None or bound > old):
                change("chatdata_membership", pk, "cleared_before", bound)
                changed = True
                ex.changes_something |= any(
                    m["conversation_id"] == c and in_window(m["sent_at"], old, bound) for m in msgs.values()
                )
            if spec.effect == "delete_conversation" and not members[pk]["hidden"]:
                change("chatdata_membership", pk, "hidden", True)
                changed = ex.changes_something = True
            if bound is not None:
                dropped = {
                    d for d, p in before["chatdata_pendingdelivery"].items()
                    if p["user_id"] == member and msgs[p["message_id"]]["conversation_id"] == c
                    and msgs[p["message_id"]]["sent_at"] < bound
                }
                remove("chatdata_pendingdelivery", dropped)
                changed = changed or bool(dropped)
                ex.changes_something |= bool(dropped)
            if changed:
                kind_of_event = "conversation_hidden" if spec.effect == "delete_conversation" else "history_cleared"
                ex.events.add((member, c, kind_of_event))
    return ex
