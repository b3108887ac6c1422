"""Issue 14, "Add": a `matching` scope (what a search finds), ranges and batches narrowed to some
senders, and the `delete_attachments` effect (only the files go, the messages stay), through the
same engine: exact previews at the high-water mark, runs that take exactly that, sync events and
audit entries (tests/test_purge_select_*.py).

What those modules share: their chat world (`World`, and `world`, a fixture a module imports) and
run(), a preview and its execution.
"""

from datetime import timedelta

import pytest

from chatdata.purge.actions import do_execute_purge, do_preview_purge
from tests.builders import T0, add_attachment, make_conversation, make_message, make_user

HOUR = timedelta(hours=1)


class World:
    """Spam from Sam in two groups, ordinary talk from Alice and Bob, files here and there."""

    def __init__(self):
        self.alice, self.bob, self.sam = make_user("u-alice", "Alice"), make_user("u-bob", "Bob"), make_user("u-sam", "Sam Spammer")
        self.group = make_conversation("group", [self.alice, self.bob, self.sam], external_id="g-one")
        self.other = make_conversation("group", [self.alice, self.sam], external_id="g-two")
        self.quiet = make_conversation("group", [self.alice, self.bob], external_id="g-quiet")
        say = make_message
        self.spam = [
            say(self.group, self.sam, T0 + 1 * HOUR, "Buy cheap watches now"),
            say(self.group, self.sam, T0 + 2 * HOUR, "cheap WATCHES, buy today"),
            say(self.other, self.sam, T0 + 3 * HOUR, "buy cheap watches here"),
            say(self.other, self.sam, T0 + 30 * HOUR, "last chance: cheap watches"),
        ]
        self.talk = [
            say(self.group, self.alice, T0 + 4 * HOUR, "are watches cheap there?"),  # matches the words too
            say(self.group, self.bob, T0 + 5 * HOUR, "lunch?"),
            say(self.other, self.alice, T0 + 6 * HOUR, "see the photo"),
            say(self.quiet, self.bob, T0 + 7 * HOUR, "hello"),
        ]
        self.files = {
            "spam": add_attachment(self.spam[0], "watch.png"),
            "alice": add_attachment(self.talk[0], "shop.png"),
            "photo": add_attachment(self.talk[2], "photo.png"),
            "photo2": add_attachment(self.talk[2], "photo2.png"),
            "quiet": add_attachment(self.talk[3], "hello.png"),
        }


@pytest.fixture
def world(db):
    return World()


def run(spec, actor, capture):
    with capture(execute=True):
        request = do_preview_purge(spec, actor=actor, reason="spam wave", ticket="T-14")
        return do_execute_purge(request, actor=actor)
