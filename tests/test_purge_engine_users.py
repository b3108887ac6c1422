"""The deletion engine, every scope × effect on PostgreSQL (tests/purge_engine.py): what one user sent,
erased after approval, whole or narrowed by time and conversation."""

import pytest

from chatdata.models import Message, SyncEvent
from chatdata.purge.actions import do_approve_purge, do_execute_purge, do_preview_purge
from chatdata.purge.scopes import PurgeSpec, UserScope
from tests.builders import HOUR, T0
from tests.conftest import make_staff
from tests.purge_engine import events, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.django_db


def test_it_erases_what_one_user_sent_after_approval(world, compliance, django_capture_on_commit_callbacks):
    spec = PurgeSpec(UserScope(world.bob.pk), "delete_for_everyone")
    with django_capture_on_commit_callbacks(execute=True):
        request = do_preview_purge(spec, actor=compliance, reason="GDPR art. 17", ticket="DSR-1")
        request = do_execute_purge(request, actor=compliance)
        assert request.state == "awaiting_approval"
        request = do_approve_purge(request, actor=make_staff("cora", "compliance"))

    assert request.state == "done", request.error
    assert request.result["messages"] == 4 + 4  # four in the group, four in the peer chat
    assert not Message.objects.filter(sender=world.bob).exists()
    assert Message.objects.filter(sender=world.alice).count() == 6
    assert {e[1] for e in events()} == {"grp", "peer"}
    assert SyncEvent.objects.first().payload["sender"] == "bob"


def test_it_narrows_a_user_scope_by_time_and_conversation(world, compliance, admin_user, django_capture_on_commit_callbacks):
    spec = PurgeSpec(UserScope(world.bob.pk, start=T0 + HOUR, conversations=[world.peer.pk]), "delete_for_everyone")
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(spec, actor=compliance, reason="x"), actor=compliance)
        request = do_approve_purge(request, actor=admin_user)
    assert request.result["messages"] == 3
    assert list(Message.objects.filter(sender=world.bob, conversation=world.peer).values_list("pk", flat=True)) == [world.p[0].pk]
