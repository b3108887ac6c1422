"""The chat world the browse page tests share (their `chat`, told with tests.builders.ChatWorld),
and a helper to read a rendered timeline."""

import re
from datetime import timedelta

import pytest

from tests.builders import T0, ChatWorld


@pytest.fixture
def chat(db):
    """Alice and Bob in a group with 120 hourly messages; Carol alone in a room; an empty peer chat."""
    chat = ChatWorld()
    chat.add_user("alice", "Alice Archer")
    chat.add_user("bob", "Bob Baker")
    chat.add_user("carol", "Carol")
    chat.add_group("group", ["alice", "bob"], external_id="g-team", title="Team room")
    chat.add_room("room", ["carol"], external_id="r-lobby", title="Lobby")
    chat.add_peer("peer", ["alice", "carol"], external_id="c2c_alice_carol", title="")
    chat.add_history("group", "alice", 120, name="history")
    chat.add_message("room", "carol", sent_at=T0 - timedelta(days=30), body="welcome to the lobby", name="lobby")
    return chat


def shown_message_ids(response):
    return [int(i) for i in re.findall(r'data-message-id="(\d+)"', response.content.decode())]
