"""What the oversight page tests (tests/test_oversight_*.py) share: their chat world (`chat`, a fixture
a module imports), the messages a page flashed, and the audit log's actions."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages

from chatdata.models import AuditEntry
from tests.builders import T0, make_conversation, make_history, make_user


@pytest.fixture
def chat(db):
    """Alice and Bob in "g-team" (six of her messages, then four of his) and in "g-other" (three of his)."""
    alice, bob = make_user("u-alice", "Alice Archer"), make_user("u-bob", "Bob Baker")
    group = make_conversation("group", [alice, bob], external_id="g-team", title="Team")
    other = make_conversation("group", [alice, bob], external_id="g-other", title="Other")
    return {
        "alice": alice, "bob": bob, "group": group, "other": other,
        "history": make_history(group, alice, 6) + make_history(group, bob, 4, start=T0 + timedelta(days=1)),
        "others": make_history(other, bob, 3),
    }


def flashes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def audit_actions():
    """The log's actions, oldest first, without the personas' own staff.* entries (test_staff_audit's)."""
    return list(AuditEntry.objects.exclude(action__startswith="staff.").order_by("id").values_list("action", flat=True))
