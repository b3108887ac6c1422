"""What the deletion engine's tests (tests/test_purge_engine_*.py: every scope × effect on PostgreSQL,
exact previews, executed counts, side effects, nothing else) share: their chat world (`world`, a
fixture a module imports), run() (a preview and its execution), and readers of what changed."""

import pytest

from chatdata.models import SyncEvent
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from tests.builders import HOUR, T0, ChatWorld, snapshot_chat

snapshot = snapshot_chat


def changed_rows(before, after):
    return {name: (before[name] - after[name], after[name] - before[name]) for name in before if before[name] != after[name]}


@pytest.fixture
def world(db):
    """Alice, Bob and Carol in a group, a peer chat and a room; Dan elsewhere as a control."""
    world = ChatWorld().add_users("alice", "bob", "carol", "dan")
    world.add_group("group", ["alice", "bob", "carol"], external_id="grp")
    world.add_peer("peer", ["alice", "bob"])
    world.add_room("room", ["alice", "bob", "carol"])
    world.add_group("other", ["carol", "dan"])
    world.add_history("group", "alice", 6, name="g")  # T0 .. T0+5h
    world.g += world.add_history("group", "bob", 4, start=T0 + 6 * HOUR)  # +6h..+9h
    world.add_history("peer", "bob", 4, name="p")
    world.add_history("room", "carol", 3, name="r")
    world.add_history("other", "dan", 3, name="o")
    world.add_reaction(world.g[1], "bob")
    world.add_reaction(world.g[1], "carol", "🎉")
    world.add_hide(world.g[1], "carol")
    world.add_pending(world.g[1], "carol")
    world.add_pending(world.g[2], "bob")
    world.file = world.add_attachment(world.g[2]).file.name
    world.kept_file = world.add_attachment(world.o[0]).file.name
    return world


def run(spec, actor, capture, **kwargs):
    with capture(execute=True):
        request = do_preview_purge(spec, actor=actor, reason="test", **kwargs)
        request = do_execute_purge(request, actor=actor)
    return request


def events(kind=None):
    qs = SyncEvent.objects.order_by("conversation_pk", "user_id")
    if kind:
        qs = qs.filter(kind=kind)
    return [(e.user.external_id, e.conversation_external_id, e.kind) for e in qs]


def counts(request, *keys):
    return {key: request.result[key] for key in keys}
