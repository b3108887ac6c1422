"""Legal holds: what they keep, what they refuse, and the legal_hold command."""

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from chatdata.models import AuditEntry, Conversation, LegalHold, Membership, Message, PurgeRequest
from chatdata.purge.actions import PurgeRefused, do_approve_purge, do_execute_purge, do_preview_purge
from chatdata.purge.holds import HoldRefused, do_add_legal_hold, do_release_legal_hold
from chatdata.purge.scopes import ConversationScope, ConversationsScope, PurgeInvalid, PurgeSpec, UserScope
from tests.builders import T0, make_conversation, make_history, make_user, snapshot_chat

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture
def chat(db):
    class Chat:
        alice, bob = make_user("alice"), make_user("bob")
        group = make_conversation("group", [alice, bob], external_id="grp")
        peer = make_conversation("peer", [alice, bob], external_id="peer")
        g = make_history(group, alice, 6, start=T0)  # T0 .. T0+5h
        p = make_history(peer, bob, 4, start=T0)

    return Chat


def test_it_excludes_held_messages_from_a_deletion_and_counts_them(chat, moderator, compliance, django_capture_on_commit_callbacks):
    hold = do_add_legal_hold(actor=compliance, conversation=chat.group, start=T0 + 2 * HOUR, end=T0 + 4 * HOUR, reason="case 7")
    with django_capture_on_commit_callbacks(execute=True):
        request = do_preview_purge(PurgeSpec(ConversationScope(chat.group.pk), "delete_for_everyone"), actor=moderator, reason="x")
        assert (request.preview["messages"], request.preview["excluded_by_hold"]) == (4, 2)
        assert request.preview["holds"] == [{"id": hold.pk, "description": hold.describe(), "messages": 2}]
        request = do_execute_purge(request, actor=moderator)
    assert request.result["messages"] == 4
    assert list(Message.objects.filter(conversation=chat.group).order_by("sent_at")) == chat.g[2:4]


def test_it_keeps_a_held_conversation_when_deleting_it_for_everyone(chat, moderator, compliance, django_capture_on_commit_callbacks):
    do_add_legal_hold(actor=compliance, conversation=chat.group, end=T0 + HOUR, reason="case 7")
    spec = PurgeSpec(ConversationsScope([chat.group.pk, chat.peer.pk]), "delete_conversation")
    with django_capture_on_commit_callbacks(execute=True):
        request = do_preview_purge(spec, actor=moderator, reason="x")
        assert request.preview["conversations"] == 1
        request = do_execute_purge(request, actor=moderator)
    group_item, peer_item = request.items.order_by("position")
    assert (group_item.status, peer_item.status) == ("held", "ok")
    assert "legal hold" in group_item.reason
    assert list(Message.objects.filter(conversation=chat.group)) == [chat.g[0]]
    assert Membership.objects.filter(conversation=chat.group).count() == 2
    assert not Conversation.objects.filter(pk=chat.peer.pk).exists()


def test_it_refuses_an_erasure_that_meets_a_user_hold_naming_it(chat, compliance):
    hold = do_add_legal_hold(actor=compliance, user=chat.bob, reason="litigation 12")
    before = snapshot_chat()
    with pytest.raises(PurgeRefused) as caught:
        do_preview_purge(PurgeSpec(UserScope(chat.bob.pk), "delete_for_everyone"), actor=compliance, reason="DSR")
    assert caught.value.code == "hold"
    assert f"legal hold #{hold.pk}" in caught.value.message and "litigation 12" in caught.value.message
    assert snapshot_chat() == before
    assert not PurgeRequest.objects.exists()
    assert AuditEntry.objects.order_by("-id").first().action == "purge.refused"


def test_it_keeps_what_a_conversation_hold_covers_in_a_user_scope_and_runs_the_rest(
    chat, compliance, admin_user, django_capture_on_commit_callbacks
):
    """A hold on a conversation keeps its messages out of an erasure, counted and named; the
    subject's other messages go (only a hold on the subject blocks: see chatdata.purge.holds)."""
    other = make_conversation("group", [chat.alice, chat.bob], external_id="oth")
    elsewhere = make_history(other, chat.bob, 2, start=T0)
    hold = do_add_legal_hold(actor=compliance, conversation=chat.peer, start=T0 + HOUR, reason="case 9")
    request = do_preview_purge(PurgeSpec(UserScope(chat.bob.pk), "delete_for_everyone"), actor=compliance, reason="DSR")
    assert (request.preview["messages"], request.preview["excluded_by_hold"]) == (3, 3)
    assert request.preview["holds"] == [{"id": hold.pk, "description": hold.describe(), "messages": 3}]
    with django_capture_on_commit_callbacks(execute=True):
        request = do_approve_purge(do_execute_purge(request, actor=compliance), actor=admin_user)
    assert (request.state, request.result["messages"]) == ("done", 3)
    assert set(Message.objects.filter(sender=chat.bob)) == set(chat.p[1:])
    assert not Message.objects.filter(pk__in=[m.pk for m in elsewhere]).exists()


def test_it_allows_an_erasure_outside_the_hold_window(chat, compliance):
    do_add_legal_hold(actor=compliance, user=chat.bob, end=T0 + HOUR, reason="case 3")
    request = do_preview_purge(PurgeSpec(UserScope(chat.bob.pk, start=T0 + HOUR), "delete_for_everyone"), actor=compliance, reason="DSR")
    assert request.preview["messages"] == 3


def test_it_refuses_an_erasure_held_after_its_preview(chat, compliance, admin_user):
    request = do_execute_purge(
        do_preview_purge(PurgeSpec(UserScope(chat.bob.pk), "delete_for_everyone"), actor=compliance, reason="DSR"), actor=compliance
    )
    do_add_legal_hold(actor=admin_user, user=chat.bob, reason="new subpoena")
    with pytest.raises(PurgeRefused) as caught:
        do_approve_purge(request, actor=admin_user)
    assert caught.value.code == "hold"
    assert PurgeRequest.objects.get(pk=request.pk).state == "awaiting_approval"
    assert Message.objects.filter(sender=chat.bob).count() == 4


def test_it_protects_messages_held_while_a_purge_waits(chat, moderator, compliance, django_capture_on_commit_callbacks):
    request = do_preview_purge(PurgeSpec(ConversationScope(chat.group.pk), "delete_for_everyone"), actor=moderator, reason="x")
    do_add_legal_hold(actor=compliance, user=chat.alice, start=T0 + 5 * HOUR, reason="late hold")
    # Confirming recounts: the hold changed the scope, so the new count is asked for again.
    with pytest.raises(PurgeRefused) as caught:
        do_execute_purge(request, actor=moderator)
    assert caught.value.code == "scope_changed" and "messages 6 → 5" in caught.value.message
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(request, actor=moderator)
    assert list(Message.objects.filter(conversation=chat.group)) == [chat.g[5]]
    assert request.result["messages"] == request.preview["messages"] == 5


def test_it_does_not_restrict_one_way_effects(chat, moderator, compliance, django_capture_on_commit_callbacks):
    do_add_legal_hold(actor=compliance, conversation=chat.group, reason="case 7")
    with django_capture_on_commit_callbacks(execute=True):
        request = do_preview_purge(PurgeSpec(ConversationScope(chat.group.pk), "hide_for_user", member=chat.bob.pk), actor=moderator, reason="x")
        assert request.preview["excluded_by_hold"] == 0
        do_execute_purge(request, actor=moderator)
    assert Membership.objects.get(conversation=chat.group, user=chat.bob).cleared_before is not None
    assert Message.objects.filter(conversation=chat.group).count() == 6


def test_it_lets_a_released_hold_go(chat, compliance, moderator, django_capture_on_commit_callbacks):
    hold = do_add_legal_hold(actor=compliance, conversation=chat.group, reason="case 7")
    hold = do_release_legal_hold(hold, actor=compliance, reason="case closed")
    assert hold.released_by == compliance and not hold.is_active
    with pytest.raises(HoldRefused, match="already released"):
        do_release_legal_hold(hold, actor=compliance)
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(
            do_preview_purge(PurgeSpec(ConversationScope(chat.group.pk), "delete_conversation"), actor=moderator, reason="x"), actor=moderator
        )
    assert request.state == "done"
    assert not Conversation.objects.filter(pk=chat.group.pk).exists()
    hold.refresh_from_db()
    assert hold.conversation is None and hold.subject_external_id == "grp"  # the record outlives it
    assert list(AuditEntry.objects.filter(action__startswith="hold.").values_list("action", flat=True)) == [
        "hold.refused", "hold.release", "hold.add",  # the second release was refused, and audited
    ]


def test_it_lets_only_compliance_manage_holds(chat, moderator, compliance):
    with pytest.raises(HoldRefused):
        do_add_legal_hold(actor=moderator, user=chat.bob, reason="x")
    with pytest.raises(PurgeInvalid, match="reason"):
        do_add_legal_hold(actor=compliance, user=chat.bob, reason=" ")
    with pytest.raises(PurgeInvalid, match="either one user or one conversation"):
        do_add_legal_hold(actor=compliance, user=chat.bob, conversation=chat.group, reason="x")
    with pytest.raises(PurgeInvalid, match="no timezone"):
        do_add_legal_hold(actor=compliance, user=chat.bob, start="2026-01-01T00:00", reason="x")
    assert not LegalHold.objects.exists()


def test_it_manages_holds_from_the_command_line(chat, compliance, moderator, capsys):
    call_command("legal_hold", "add", "--user", "bob", "--start", "2026-01-01T00:00:00Z", "--reason", "case 1", "--actor", "cleo", "--json")
    added = json.loads(capsys.readouterr().out)
    assert (added["kind"], added["subject"], added["start"]) == ("user", "bob", "2026-01-01T00:00:00+00:00")

    call_command("legal_hold", "list", "--json")
    assert [h["hold"] for h in json.loads(capsys.readouterr().out)] == [added["hold"]]

    with pytest.raises(CommandError) as caught:
        call_command("legal_hold", "release", str(added["hold"]), "--actor", "mona")
    assert caught.value.returncode == 3
    with pytest.raises(CommandError) as caught:
        call_command("legal_hold", "add", "--conversation", "nope", "--reason", "x", "--actor", "cleo")
    assert caught.value.returncode == 2

    call_command("legal_hold", "release", str(added["hold"]), "--actor", "cleo", "--reason", "settled")
    assert "released" in capsys.readouterr().out
    call_command("legal_hold", "list")
    assert capsys.readouterr().out.strip() == "No legal holds."
    call_command("legal_hold", "list", "--all", "--json")
    assert json.loads(capsys.readouterr().out)[0]["released_by"] == "cleo"
