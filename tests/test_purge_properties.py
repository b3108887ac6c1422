"""Property-based tests of the deletion engine (DESIGN.md invariants 1-3), with hypothesis.

Each example builds a small chat world (four users; conversations of every kind with members in
any one-way state; messages with reactions, hides, pending deliveries and attachment files;
maybe legal holds), draws a scope and an effect over it, snapshots every chat table, runs the
purge through the real actions (preview, execute, approval when needed, in batches of two), and
compares the snapshot after with what tests/purge_expectation.py expects: computed in plain Python
from DESIGN.md and the engine's documented semantics, not from the engine's query code, as the exact
set of row changes; any other difference, in any chat table, fails the example. Invalid or refused
requests must change nothing at all. Sometimes a message arrives between preview and execution: it
lies above the high-water mark and must survive.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings as hypothesis_settings, strategies as st

from chatdata.models import Conversation, LegalHold, Message, PurgeRequest
from chatdata.purge.actions import PurgeRefused, do_approve_purge, do_execute_purge, do_preview_purge
from chatdata.purge.scopes import EFFECTS_BY_SCOPE, SCOPE_KINDS, PurgeInvalid, spec_from_dict
from tests.builders import T0, add_attachment, add_hide, add_pending, add_reaction, make_conversation, make_message, make_user
from tests.purge_expectation import MATCHING_TEXTS, Expected, expect
from tests.purge_snapshot import diff, snapshot

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
TIMES = [T0 + h * HOUR for h in range(6)]
BOUNDS = [None] + [T0 + h * HOUR for h in range(7)]  # shares instants with TIMES: ties on purpose
USERS = 4

# --- the world ------------------------------------------------------------------------------

# sender and the children's users are indexes into the conversation's members (modulo its size).
message_st = st.fixed_dictionaries({
    "sender": st.integers(0, USERS - 1),
    "at": st.integers(0, len(TIMES) - 1),
    "reaction": st.none() | st.integers(0, USERS - 1),
    "hide": st.none() | st.integers(0, USERS - 1),
    "pending": st.lists(st.integers(0, USERS - 1), max_size=2, unique=True),
    "attachment": st.booleans(),
})
conversation_st = st.fixed_dictionaries({
    "kind": st.sampled_from(["group", "group", "group", "peer", "peer", "room"]),
    "members": st.sets(st.integers(0, USERS - 1), min_size=1, max_size=USERS),
    "cleared": st.lists(st.sampled_from(BOUNDS), min_size=USERS, max_size=USERS),
    "hidden": st.lists(st.booleans(), min_size=USERS, max_size=USERS),
    "messages": st.lists(message_st, max_size=6),
})
hold_st = st.fixed_dictionaries({
    "kind": st.sampled_from(["user", "conversation"]),
    "subject": st.integers(0, 2),
    "bounds": st.lists(st.sampled_from(BOUNDS), min_size=2, max_size=2),
    "released": st.sampled_from([False, False, False, True]),
})
world_st = st.fixed_dictionaries({
    "conversations": st.lists(conversation_st, min_size=1, max_size=3),
    "holds": st.lists(hold_st, min_size=1, max_size=2),  # released ones too: they must not count
})


def build(world, staff):
    users = [make_user() for _ in range(USERS)]
    conversations = []
    for c in world["conversations"]:
        members = sorted(c["members"])
        conversation = make_conversation(c["kind"], [users[i] for i in members])
        for i in members:
            conversation.memberships.filter(user=users[i]).update(cleared_before=c["cleared"][i], hidden=c["hidden"][i])

        def member(i, members=members):
            return users[members[i % len(members)]]

        for n, m in enumerate(c["messages"]):
            message = make_message(conversation, member(m["sender"]), sent_at=TIMES[m["at"]], body=f"body {n}")
            if m["reaction"] is not None:
                add_reaction(message, member(m["reaction"]))
            if m["hide"] is not None:
                add_hide(message, member(m["hide"]))
            for who in {member(i) for i in m["pending"]}:
                add_pending(message, who)
            if m["attachment"]:
                add_attachment(message, name=f"{message.external_id}.txt", content=message.external_id.encode())
        conversations.append(conversation)
    for h in world["holds"]:
        start, end = h["bounds"]
        if start is not None and end is not None:  # a valid window: start < end
            start, end = min(start, end), (max(start, end) if start != end else None)
        user = users[h["subject"]] if h["kind"] == "user" else None
        conversation = conversations[h["subject"] % len(conversations)] if h["kind"] == "conversation" else None
        LegalHold.objects.create(
            kind=h["kind"], user=user, conversation=conversation, subject_external_id=(user or conversation).external_id,
            start=start, end=end, reason="matter", created_by=staff, released_at=T0 if h["released"] else None,
        )
    return users, conversations


def draw_bounds(data):
    """(start, end) as ISO strings: usually a valid half-open window, now and then not."""
    a, b = data.draw(st.sampled_from(BOUNDS)), data.draw(st.sampled_from(BOUNDS))
    raw = data.draw(st.sampled_from([False] * 9 + [True]), "raw bounds")
    if not raw and a is not None and b is not None:
        a, b = min(a, b), (max(a, b) if a != b else None)
    elif not raw and a is None and b is None:
        a = TIMES[3]
    return tuple(x.isoformat() if x else None for x in (a, b))


def draw_spec(data, users, conversations):
    """A spec dict over the world: mostly valid, sometimes not (which must change nothing).
    Choices lean towards conversations with messages and members who belong, so that most
    examples do something."""
    busy = [c.pk for c in conversations if c.messages.exists()] or [c.pk for c in conversations]
    pick_conv = st.sampled_from(busy) | st.sampled_from([c.pk for c in conversations])
    message_pks = list(Message.objects.filter(conversation_id__in=busy).values_list("id", flat=True))
    kind = data.draw(st.sampled_from([k for k in SCOPE_KINDS if message_pks or k != "messages"]), "kind")
    # Range, batch and matching scopes may be narrowed to what some users sent.
    user_pks = [u.pk for u in users]
    senders = data.draw(st.sampled_from([[]] * 2 + [None]) | st.lists(st.sampled_from(user_pks), max_size=2, unique=True), "senders")
    narrowed = {"senders": senders} if senders else {}
    if kind == "messages":
        ids = data.draw(st.lists(st.sampled_from(message_pks), min_size=1, max_size=5))
        home = Message.objects.get(pk=ids[0]).conversation_id
        scope = {"ids": ids, "conversation": data.draw(st.sampled_from([None, home]) | pick_conv)}
    elif kind == "range":
        start, end = draw_bounds(data)
        scope = {"conversation": data.draw(pick_conv), "start": start, "end": end, **narrowed}
    elif kind == "conversation":
        scope = {"conversation": data.draw(pick_conv)}
    elif kind == "conversations":
        scope = {"conversations": data.draw(st.lists(pick_conv, min_size=1, max_size=3, unique=True)), **narrowed}
    elif kind == "matching":
        # Bodies are "body <n>" (build): words that match all, some or none, or none at all.
        start, end = data.draw(st.sampled_from([(None, None), draw_bounds(data)]), "window")
        scope = {"text": data.draw(st.sampled_from(MATCHING_TEXTS), "text"), "senders": senders or [],
                 "conversation": data.draw(st.none() | pick_conv, "conversation"), "start": start, "end": end}
    else:
        senders = list(Message.objects.filter(conversation_id__in=busy).values_list("sender_id", flat=True))
        start, end = draw_bounds(data)
        scope = {"user": data.draw(st.sampled_from(senders or [u.pk for u in users]) | st.sampled_from([u.pk for u in users])),
                 "start": start, "end": end, "conversations": data.draw(st.lists(pick_conv, max_size=2, unique=True))}
    effect = data.draw(st.sampled_from(EFFECTS_BY_SCOPE[kind]), "effect")
    member, clear_history = None, False
    if effect == "hide_for_user" or (effect == "delete_conversation" and data.draw(st.booleans(), "one member")):
        first = scope.get("conversation") or (scope.get("conversations") or [None])[0] or home
        belong = list(Conversation.objects.get(pk=first).memberships.values_list("user_id", flat=True))
        member = data.draw(st.sampled_from(belong) | st.sampled_from([u.pk for u in users]), "member")
        clear_history = effect == "delete_conversation" and data.draw(st.booleans(), "clear history")
    return {"scope": {"kind": kind, **scope}, "effect": effect, "member": member, "clear_history": clear_history}


# --- the property -------------------------------------------------------------------------------


def run(spec_dict, staff, approver, between):
    """Preview, call `between()` (a message may arrive; it returns the snapshot "before"),
    execute (confirming the recounted scope again if the message changed it), approve if asked. Returns (request, before), or (None, None) if refused."""
    try:
        request = do_preview_purge(spec_from_dict(spec_dict), actor=staff, reason="property")
    except (PurgeInvalid, PurgeRefused) as exc:
        if isinstance(exc, PurgeRefused):
            assert exc.code == PurgeRefused.HOLD, exc.message
        event(f"refused ({type(exc).__name__})")
        return None, None
    before = between()
    try:
        request = do_execute_purge(request, actor=staff)
    except PurgeRefused as exc:
        # A late message changed what the preview counted: the recount is shown and asked again
        # (chatdata.purge.staleness), and confirming the new counts runs them.
        assert exc.code == PurgeRefused.SCOPE_CHANGED, exc.message
        event("scope changed: asked again")
        request.refresh_from_db()
        request = do_execute_purge(request, actor=staff)
    if request.state == PurgeRequest.State.AWAITING_APPROVAL:
        request = do_approve_purge(request, actor=approver)
    return request, before


@pytest.fixture
def small_batches(settings):
    settings.PURGE_BATCH_SIZE = 2  # several batches even in tiny worlds: the keyset and checkpoint at work
    settings.PURGE_INLINE_LIMIT = 1_000
    settings.PURGE_APPROVAL_THRESHOLD = 1_000


@hypothesis_settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=world_st, data=st.data())
def test_it_changes_exactly_the_rows_the_scope_and_effect_say(
    world, data, admin_user, compliance, small_batches, settings, media_root, django_capture_on_commit_callbacks
):
    # Both ways a batch deletes children: itself with the triggers skipped, or the database's cascade.
    settings.PURGE_SKIP_FK_TRIGGERS = data.draw(st.sampled_from(["auto", "off"]), "PURGE_SKIP_FK_TRIGGERS")
    try:
        with transaction.atomic():  # one world per example, rolled back at its end
            users, conversations = build(world, admin_user)
            spec_dict = draw_spec(data, users, conversations)
            late = data.draw(st.none() | st.tuples(st.sampled_from(conversations), st.sampled_from(TIMES)), "late message")

            def late_message():
                if late:
                    conversation, at = late
                    sender = conversation.memberships.first().user
                    message = make_message(Conversation.objects.get(pk=conversation.pk), sender, sent_at=at)
                    add_pending(message, sender)
                    add_attachment(message, name=f"{message.external_id}.txt", content=b"late")
                return snapshot()

            hwm = Message.objects.order_by("-id").values_list("id", flat=True).first() or 0
            untouched = snapshot()
            with django_capture_on_commit_callbacks(execute=True):  # file removals run after "commit"
                request, before = run(spec_dict, admin_user, compliance, late_message)
            after = snapshot()

            try:
                spec = spec_from_dict(spec_dict)
            except PurgeInvalid:
                spec = None
            expected = expect(before or untouched, spec, hwm) if spec else Expected(invalid=True)
            if not expected.invalid and not expect(untouched, spec, hwm).changes_something:
                expected = Expected(invalid=True)  # as the preview saw it, before any late message
            event(f"{spec_dict['scope']['kind']} {spec_dict['effect']}{' for one' if spec_dict['member'] else ''}: "
                  + ("refused" if request is None else "ran" + (", changed rows" if expected.removed or expected.changed else "")))
            if request is None:
                assert expected.invalid, f"refused a valid request: {spec_dict}"
                assert after == untouched
            else:
                assert not expected.invalid, f"ran a request that should be refused: {spec_dict}"
                check(request, expected, before, after, hwm, media_root)
            transaction.set_rollback(True)
    finally:  # stored files are outside the transaction
        for path in sorted(Path(media_root).rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()


def check(request, expected, before, after, hwm, media_root):
    assert request.state == PurgeRequest.State.DONE, (request.state, request.error)
    assert request.high_water_mark == hwm
    changes = diff(before, after)
    for table in set(changes) | set(expected.removed) | set(expected.changed):
        got = changes.get(table, {"removed": [], "added": [], "changed": {}})
        assert set(got["removed"]) == expected.removed.get(table, set()), table
        assert got["changed"] == expected.changed.get(table, {}), table
        if table not in ("chatdata_messagehide", "chatdata_syncevent"):
            assert not got["added"], table
    new_hides = {(after["chatdata_messagehide"][pk]["message_id"], after["chatdata_messagehide"][pk]["user_id"])
                 for pk in changes.get("chatdata_messagehide", {}).get("added", [])}
    assert new_hides == expected.added_hides
    events = [after["chatdata_syncevent"][pk] for pk in changes.get("chatdata_syncevent", {}).get("added", [])]
    assert sorted((e["user_id"], e["conversation_pk"], e["kind"]) for e in events) == sorted(expected.events)
    for sync_event in events:
        assert sync_event["payload"]["purge_request"] == request.pk
        assert sync_event["payload"]["up_to_id"] == hwm
        if request.scope_kind in ("messages", "matching"):
            mine = {before["chatdata_message"][pk]["external_id"] for pk in expected.processed
                    if before["chatdata_message"][pk]["conversation_id"] == sync_event["conversation_pk"]}
            assert set(sync_event["payload"]["message_ids"]) == mine
    # Completeness: no stored file of a deleted attachment row is left, every other one is there.
    on_disk = {str(p.relative_to(media_root)) for p in Path(media_root).rglob("*") if p.is_file()}
    assert on_disk == {a["file"] for a in after["chatdata_attachment"].values()}
