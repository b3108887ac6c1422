"""The sync feed (issue 15): every SyncEvent exactly once, in order, from a cursor, while other
transactions insert events and commit in any order (chatdata.sync_feed explains why that holds)."""

import random
import threading
import time

import pytest
from django.db import connection, connections, transaction

from chatdata.models import ChatUser, SyncEvent
from tests.api_helpers import call, token_for
from tests.builders import make_conversation, make_user

WRITERS = 6
EVENTS_PER_WRITER = 30


def _write(conversation, user, errors, seed):
    rng = random.Random(seed)
    try:
        for _ in range(EVENTS_PER_WRITER):
            with transaction.atomic():
                SyncEvent.objects.create(
                    user=user, conversation_pk=conversation.pk, conversation_external_id=conversation.external_id,
                    kind="messages_deleted", payload={"scope": {"kind": "messages", "ids": [rng.randrange(1000)]}},
                )
                # Hold the transaction open a while: without commit-order ids, a later id could
                # commit first and a reader would step over this one.
                time.sleep(rng.random() * 0.03)
    except Exception as exc:  # pragma: no cover - reported by the assertion below
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps what migrations wrote for the tests after
def test_it_hands_out_every_event_exactly_once_while_events_commit_concurrently(client, support, settings):
    settings.API_RATE_LIMIT = 0  # the reader polls as fast as it can
    alice, bob = make_user("alice"), make_user("bob")
    chat = make_conversation("group", [alice, bob], external_id="grp")
    secret = token_for(support)
    errors = []
    writers = [threading.Thread(target=_write, args=(chat, [alice, bob][i % 2], errors, i)) for i in range(WRITERS)]
    for writer in writers:
        writer.start()
    seen, cursor = [], 0
    while any(w.is_alive() for w in writers):
        page = call(client, "get", "/sync-events", secret, after=cursor, limit=7).json()
        seen += [event["id"] for event in page["results"]]
        cursor = page["next"]
    for writer in writers:
        writer.join()
    while True:
        page = call(client, "get", "/sync-events", secret, after=cursor, limit=7).json()
        if not page["results"]:
            assert page["next"] == cursor
            break
        seen += [event["id"] for event in page["results"]]
        cursor = page["next"]
    assert not errors
    everything = list(SyncEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(everything) == WRITERS * EVENTS_PER_WRITER
    assert seen == everything  # none missed, none repeated, in order


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps what migrations wrote for the tests after
def test_it_filters_by_user_and_conversation_and_shapes_events_like_their_scope(client, support):
    alice, bob = make_user("alice"), make_user("bob")
    one = make_conversation("group", [alice, bob], external_id="one")
    two = make_conversation("group", [alice, bob], external_id="two")
    for conversation in (one, two):
        for user in (alice, bob):
            SyncEvent.objects.create(user=user, conversation_pk=conversation.pk, conversation_external_id=conversation.external_id,
                                     kind="history_cleared", payload={"scope": {"kind": "range", "end": "2026-01-01T00:00:00+00:00"}})
    secret = token_for(support)
    page = call(client, "get", "/sync-events", secret, user=alice.pk, conversation=two.pk).json()
    assert [(e["user_external_id"], e["conversation_external_id"]) for e in page["results"]] == [("alice", "two")]
    assert page["results"][0]["payload"] == {"scope": {"kind": "range", "end": "2026-01-01T00:00:00+00:00"}}
    assert call(client, "get", "/sync-events", secret, after=-1).status_code == 422


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps what migrations wrote for the tests after
def test_it_draws_event_ids_in_commit_order(support):
    """The database side alone: a transaction that inserted an event holds back every other
    writer's id until it commits (the trigger of migration 0009)."""
    alice = make_user("alice")
    chat = make_conversation("group", [alice], external_id="grp")
    order = []

    def second():
        try:
            with transaction.atomic():
                event = SyncEvent.objects.create(user=alice, conversation_pk=chat.pk, conversation_external_id="grp", kind="k")
                order.append(("second", event.pk))
        finally:
            connections.close_all()

    with transaction.atomic():
        first = SyncEvent.objects.create(user=alice, conversation_pk=chat.pk, conversation_external_id="grp", kind="k")
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        assert order == []  # blocked on the lock, with no id drawn yet
    thread.join()
    assert order[0][1] > first.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = 'syncevent_commit_order'")
        assert cursor.fetchone() == ("A",)
    assert ChatUser.objects.count() == 1
