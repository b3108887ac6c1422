"""An empty scope is refused: "Nothing matches: no request was made." (DESIGN.md §3).

Empty means running it would change nothing: no message to delete (and, deleting conversations
for everyone, no conversation to remove), or for a one-member effect nothing new hidden, no
pending delivery dropped, no conversation hidden. The domain refuses it (do_preview_purge), so
the CLI (exit 2), the web (next to the form) and later the API say the same; nothing is written,
not even an audit entry.
"""

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from chatdata.models import AuditEntry, Membership, PurgeRequest
from chatdata.purge.actions import do_preview_purge
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.scopes import (
    ConversationScope,
    ConversationsScope,
    MessagesScope,
    PurgeInvalid,
    PurgeSpec,
    RangeScope,
    UserScope,
)
from tests.builders import HOUR, T0, ChatWorld, add_hide, add_pending, snapshot_chat

pytestmark = pytest.mark.django_db
NOTHING = "Nothing matches: no request was made."


@pytest.fixture
def chat(db):
    chat = ChatWorld().add_users("alice", "bob")
    chat.add_group("group", ["alice", "bob"], external_id="grp", title="Group")
    chat.add_group("empty", ["alice", "bob"], external_id="void", title="Void")
    chat.add_history("group", "alice", 4, start=T0 + 10 * HOUR, name="g")  # T0+10h .. T0+13h
    return chat


def refused_as_empty(spec, actor):
    before = snapshot_chat()
    audit = AuditEntry.objects.count()
    with pytest.raises(PurgeInvalid) as caught:
        do_preview_purge(spec, actor=actor, reason="x")
    assert caught.value.message.startswith(NOTHING)
    assert snapshot_chat() == before
    assert not PurgeRequest.objects.exists()
    assert AuditEntry.objects.count() == audit  # not audited as a preview
    return caught.value.message


EMPTY = {
    "range before the first message": lambda c: PurgeSpec(RangeScope(c.group.pk, end=T0 + 10 * HOUR), "delete_for_everyone"),
    "range between": lambda c: PurgeSpec(RangeScope(c.group.pk, start=T0, end=T0 + HOUR), "delete_for_everyone"),
    "an empty conversation's messages": lambda c: PurgeSpec(ConversationScope(c.empty.pk), "delete_for_everyone"),
    "empty conversations' messages": lambda c: PurgeSpec(ConversationsScope((c.empty.pk,)), "delete_for_everyone"),
    "a user's empty window": lambda c: PurgeSpec(UserScope(c.alice.pk, end=T0), "delete_for_everyone"),
    "a user who sent nothing": lambda c: PurgeSpec(UserScope(c.bob.pk), "delete_for_everyone"),
    "hide before the first message": lambda c: PurgeSpec(RangeScope(c.group.pk, end=T0), "hide_for_user", member=c.bob.pk),
    "hide an empty window": lambda c: PurgeSpec(RangeScope(c.group.pk, start=T0, end=T0 + HOUR), "hide_for_user", member=c.bob.pk),
    "clear an empty conversation": lambda c: PurgeSpec(ConversationScope(c.empty.pk), "hide_for_user", member=c.bob.pk),
}


@pytest.mark.parametrize("case", EMPTY)
def test_it_refuses_a_scope_in_which_nothing_would_change(case, chat, moderator, compliance):
    spec = EMPTY[case](chat)
    refused_as_empty(spec, compliance if spec.is_erasure else moderator)


def test_it_refuses_hiding_messages_the_member_already_does_not_see(chat, moderator):
    for message in chat.g[:2]:
        add_hide(message, chat.bob)
    spec = PurgeSpec(MessagesScope((chat.g[0].pk, chat.g[1].pk), chat.group.pk), "hide_for_user", member=chat.bob.pk)
    refused_as_empty(spec, moderator)


def test_it_still_hides_already_hidden_messages_whose_delivery_is_pending(chat, moderator):
    add_hide(chat.g[0], chat.bob)
    add_pending(chat.g[0], chat.bob)
    spec = PurgeSpec(MessagesScope((chat.g[0].pk,), chat.group.pk), "hide_for_user", member=chat.bob.pk)
    assert do_preview_purge(spec, actor=moderator, reason="x").preview["pending_deliveries"] == 1


def test_it_refuses_clearing_a_history_already_cleared(chat, moderator):
    chat.clear(chat.group, chat.bob, before=T0 + 20 * HOUR)
    refused_as_empty(PurgeSpec(ConversationScope(chat.group.pk), "hide_for_user", member=chat.bob.pk), moderator)


def test_it_refuses_hiding_a_conversation_already_hidden_for_the_member(chat, moderator):
    chat.hide_conversation(chat.group, chat.bob)
    refused_as_empty(PurgeSpec(ConversationScope(chat.group.pk), "delete_conversation", member=chat.bob.pk), moderator)
    # Clearing their history as well still changes something.
    spec = PurgeSpec(ConversationScope(chat.group.pk), "delete_conversation", member=chat.bob.pk, clear_history=True)
    assert do_preview_purge(spec, actor=moderator, reason="x").preview["messages"] == 4


def test_it_still_removes_an_empty_conversation_for_everyone(chat, moderator):
    for spec in (
        PurgeSpec(ConversationScope(chat.empty.pk), "delete_conversation"),
        PurgeSpec(ConversationsScope((chat.empty.pk,)), "delete_conversation"),
    ):
        request = do_preview_purge(spec, actor=moderator, reason="x")
        assert (request.preview["messages"], request.preview["conversations"]) == (0, 1)


def test_it_still_hides_an_empty_conversation_from_a_member(chat, moderator):
    request = do_preview_purge(PurgeSpec(ConversationScope(chat.empty.pk), "delete_conversation", member=chat.bob.pk), actor=moderator, reason="x")
    assert request.preview["conversations"] == 1


def test_it_says_what_legal_holds_keep_when_they_keep_everything(chat, moderator, compliance):
    do_add_legal_hold(actor=compliance, conversation=chat.group, reason="case 7")
    message = refused_as_empty(PurgeSpec(ConversationScope(chat.group.pk), "delete_conversation"), moderator)
    assert "4 messages in scope are kept under legal hold" in message


def test_the_cli_exits_2_on_an_empty_scope(chat, moderator, capsys):
    before, audit = snapshot_chat(), AuditEntry.objects.count()
    with pytest.raises(CommandError) as caught:
        call_command(
            "purge", "--conversation", "grp", "--end", (T0 + 10 * HOUR).isoformat(), "--effect", "delete-for-everyone",
            "--actor", "mona", "--reason", "x", "--execute", "--json",
        )
    assert caught.value.returncode == 2
    out = json.loads(capsys.readouterr().out)
    assert out["error"] == {"code": "invalid", "message": NOTHING, "field": None}
    assert snapshot_chat() == before and not PurgeRequest.objects.exists() and AuditEntry.objects.count() == audit


def test_the_web_says_it_next_to_the_form_and_the_live_preview_still_counts(client, chat, moderator):
    client.force_login(moderator)
    before, audit = snapshot_chat(), AuditEntry.objects.count()
    data = {"action": "range", "bounds": "before", "end": "2026-01-01T12:00", "effect": "delete_for_everyone", "reason": "x"}
    response = client.post(reverse("purge:conversation", args=[chat.group.pk]), data)
    assert response.status_code == 200
    assert NOTHING in response.content.decode()
    assert snapshot_chat() == before and not PurgeRequest.objects.exists() and AuditEntry.objects.count() == audit

    live = client.get(reverse("purge:range_preview", args=[chat.group.pk]), data, headers={"HX-Request": "true"})
    html = live.content.decode()
    assert live.status_code == 200 and 'data-count="messages">0<' in html
    assert "Nothing matches these bounds" in html
