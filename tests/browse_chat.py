"""The small chat world the browse page tests share, and a helper to read a rendered timeline."""

import re
from datetime import timedelta

import pytest

from tests.builders import T0, make_conversation, make_history, make_message, make_user


@pytest.fixture
def chat(db):
    """Alice and Bob in a group with 120 hourly messages; Carol alone in a room; an empty peer chat."""
    alice, bob, carol = make_user("alice", "Alice Archer"), make_user("bob", "Bob Baker"), make_user("carol", "Carol")
    group = make_conversation("group", [alice, bob], external_id="g-team", title="Team room")
    room = make_conversation("room", [carol], external_id="r-lobby", title="Lobby")
    peer = make_conversation("peer", [alice, carol], external_id="c2c_alice_carol", title="")
    history = make_history(group, alice, 120)
    lobby = make_message(room, carol, sent_at=T0 - timedelta(days=30), body="welcome to the lobby")
    return {"alice": alice, "bob": bob, "carol": carol, "group": group, "room": room, "peer": peer,
            "history": history, "lobby": lobby}


def shown_message_ids(response):
    return [int(i) for i in re.findall(r'data-message-id="(\d+)"', response.content.decode())]
