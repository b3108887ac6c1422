"""Issue 14, items 2 and 3: what a cancelled multi-conversation job did and did not do, its rest
resumed (with a new approval where the rest needs one) or closed; and stale previews: expired
after PURGE_PREVIEW_TTL, recounted on confirmation and asked again when the scope changed.

The rules live in chatdata.purge.remainder, .staleness and .refusals; the web, `manage.py purge`
and the API ask them, so each is tested through the domain (tests/test_purge_staleness_cancel.py,
tests/test_purge_staleness_previews.py) and then through each door (tests/test_purge_staleness_pages.py,
tests/test_purge_staleness_commands.py). This module holds what they share: their chat world
(`chat`, a fixture a module imports), the two scopes over it, and requests queued, cancelled
midway or aged.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatdata.models import AuditEntry, PurgeRequest
from chatdata.purge.actions import do_approve_purge, do_cancel_purge, do_execute_purge, do_preview_purge
from chatdata.purge.execute import run_purge
from chatdata.purge.scopes import ConversationScope, ConversationsScope, PurgeSpec
from tests.builders import make_conversation, make_history, make_user


@pytest.fixture
def chat(db):
    from types import SimpleNamespace

    alice, bob = make_user("alice"), make_user("bob")
    # Three conversations of 4, 6 and 5 messages for a batch; a small one for single scopes.
    convs = [make_conversation("group", [alice, bob], external_id=f"c{i}", title=f"Chat {i}") for i in range(3)]
    team = make_conversation("group", [alice, bob], external_id="team", title="Team")
    return SimpleNamespace(
        alice=alice, bob=bob, convs=convs, team=team,
        history=[make_history(conv, alice, n) for conv, n in zip(convs, (4, 6, 5))],
        team_history=make_history(team, bob, 6),
    )


def batch_spec(chat):
    return PurgeSpec(ConversationsScope(tuple(c.pk for c in chat.convs)), "delete_for_everyone")


def team_spec(chat):
    return PurgeSpec(ConversationScope(chat.team.pk), "delete_for_everyone")


def actions_of(request):
    return list(AuditEntry.objects.filter(purge_request_id=request.pk).order_by("id").values_list("action", flat=True))


def queued(spec, actor, settings, *, approver=None):
    """A confirmed request that runs in the background (not yet picked up by a worker)."""
    settings.PURGE_INLINE_LIMIT = 0
    request = do_execute_purge(do_preview_purge(spec, actor=actor, reason="spam wave"), actor=actor)
    if request.state == "awaiting_approval":
        request = do_approve_purge(request, actor=approver)
    assert request.state == "queued"
    return request


def cancelled_midway(chat, actor, settings, *, steps=4, approver=None):
    """The batch of 15 messages, batches of 3: c0 (4) done after 3 steps (two batches and its
    finishing step), c1 (6) 3 of 6 after the fourth; then cancelled at that batch boundary."""
    settings.PURGE_BATCH_SIZE = 3
    request = queued(batch_spec(chat), actor, settings, approver=approver)
    run_purge(request.pk, request.attempt, max_steps=steps, paced=False)
    request = do_cancel_purge(request, actor=actor)
    assert request.cancel_requested
    run_purge(request.pk, request.attempt, paced=False)
    request.refresh_from_db()
    assert request.state == "cancelled"
    return request


def age(request, seconds):
    PurgeRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))
    request.refresh_from_db()
    return request
