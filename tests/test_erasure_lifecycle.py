"""The life of an ErasureRequest in the domain: intake, approval, the run (its job called directly,
small purges inline), holds, the residue check, cancel and resume. The CLI on a real worker is
tests/test_erasure_cli.py."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from chatdata.erasure import run, steps, tombstones
from chatdata.erasure.actions import (
    ErasureInvalid,
    ErasureRefused,
    approve_refusal,
    cancel_refusal,
    do_approve_erasure,
    do_cancel_erasure,
    do_open_erasure,
    do_reject_erasure,
    do_resume_erasure,
)
from chatdata.erasure.certificate import render, verify
from chatdata.models import (
    AuditEntry,
    ChatUser,
    Conversation,
    ErasureFile,
    ErasureRequest,
    Membership,
    Message,
    MessageHide,
    PendingDelivery,
    PurgeRequest,
    Reaction,
    SyncEvent,
    Tombstone,
)
from chatdata.purge.holds import do_add_legal_hold, do_release_legal_hold
from tests.builders import HOUR, T0, ChatWorld, add_reaction, make_conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(db, redis_conn):
    """Uma is the data subject: she writes in a group with Bob and Carl, in a peer conversation with
    Bob, and reacts to, hides and awaits Bob's messages."""
    chat = ChatWorld()
    chat.add_user("uma", "Uma Subject")
    chat.add_users("bob", "carl")
    chat.add_group("group", ["uma", "bob", "carl"], external_id="grp")
    chat.add_peer("peer", ["uma", "bob"], external_id="peer-ub")
    chat.add_group("bystanders", ["bob", "carl"], external_id="others")
    chat.add_history("group", "uma", 4, name="uma_group")
    chat.add_history("group", "bob", 3, start=T0 + 30 * HOUR, name="bob_group")
    chat.add_history("peer", "uma", 2, name="uma_peer")
    chat.add_history("peer", "bob", 2, start=T0 + 10 * HOUR, name="bob_peer")
    chat.add_history("bystanders", "carl", 2, name="untouched")
    chat.add_reaction(chat.bob_group[0], "uma", "❤️")
    chat.add_reaction(chat.uma_group[0], "bob", "👍")
    chat.add_hide(chat.bob_group[1], "uma")
    chat.add_pending(chat.bob_group[2], "uma")
    chat.add_pending(chat.uma_group[1], "carl")
    chat.files = [chat.add_attachment(m).file.name for m in (chat.uma_group[0], chat.uma_peer[0])]
    chat.bob_file = chat.add_attachment(chat.bob_group[0]).file.name
    return chat


def open_request(chat, compliance, **kwargs):
    return do_open_erasure(actor=compliance, subject="uma", ticket="DSR-1", **kwargs)


def run_job(erasure):
    erasure.refresh_from_db()
    run.erasure_job(erasure.pk, erasure.attempt)
    erasure.refresh_from_db()
    return erasure


@pytest.fixture
def second_officer(db):
    from tests.conftest import make_staff

    return make_staff("cora", "compliance")


def erase(chat, compliance, second_officer, **kwargs):
    erasure = do_approve_erasure(open_request(chat, compliance, **kwargs), actor=second_officer)
    assert erasure.state == "running"
    return run_job(erasure)


def test_it_opens_a_request_due_after_the_deadline_and_waiting_for_approval(chat, compliance, settings):
    settings.ERASURE_DEADLINE_DAYS = 30
    erasure = open_request(chat, compliance, received_at="2026-11-20T09:00:00+01:00", notes="by e-mail")
    assert erasure.state == "awaiting_approval"
    assert erasure.due_at - erasure.received_at == timedelta(days=30)
    assert erasure.received_at.isoformat() == "2026-11-20T08:00:00+00:00"
    assert erasure.subject_pseudonym == tombstones.pseudonym("uma") and erasure.subject_pseudonym.startswith("erased-")
    assert list(AuditEntry.objects.exclude(action__startswith="staff.").values_list("action", "target")) == [("erasure.open", f"erasure #{erasure.pk} of {erasure.subject_pseudonym}")]


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"subject": "nobody"}, "user", "No chat user with id nobody"),
        ({"ticket": "  "}, "ticket", "ticket reference"),
        ({"ticket": "x" * 101}, "ticket", "longer than 100"),
        ({"received_at": "2026-11-20T09:00:00"}, "received", "no timezone"),
        ({"received_at": "yesterday"}, "received", "not an ISO 8601"),
        ({"peer_conversations": "shred"}, "peer_conversations", "keep or delete"),
    ],
)
def test_it_refuses_bad_input_and_writes_nothing(chat, compliance, kwargs, field, words):
    arguments = {"actor": compliance, "subject": "uma", "ticket": "DSR-1", **kwargs}
    with pytest.raises(ErasureInvalid) as caught:
        do_open_erasure(**arguments)
    assert caught.value.field == field and words in caught.value.message
    assert not ErasureRequest.objects.exists() and not AuditEntry.objects.exclude(action__startswith="staff.").exists()


def test_it_refuses_a_request_received_in_the_future_and_a_second_pending_one(chat, compliance):
    with pytest.raises(ErasureInvalid, match="future"):
        open_request(chat, compliance, received_at=timezone.now() + timedelta(days=1))
    first = open_request(chat, compliance)
    with pytest.raises(ErasureRefused) as caught:
        open_request(chat, compliance)
    assert caught.value.code == "bad_state" and f"#{first.pk}" in caught.value.message


def test_only_compliance_officers_and_admins_open_requests(chat, moderator, admin_user):
    with pytest.raises(ErasureRefused) as caught:
        do_open_erasure(actor=moderator, subject="uma", ticket="DSR-1")
    assert caught.value.code == "not_permitted"
    assert AuditEntry.objects.exclude(action__startswith="staff.").get().action == "erasure.refused"
    assert do_open_erasure(actor=admin_user, subject="uma", ticket="DSR-1").state == "awaiting_approval"


def test_nobody_approves_their_own_request_and_only_compliance_or_admins_approve(chat, compliance, moderator, auditor):
    erasure = open_request(chat, compliance)
    for who, words in ((compliance, "your own"), (moderator, "compliance officer"), (auditor, "compliance officer")):
        assert words in approve_refusal(who, erasure)
        with pytest.raises(ErasureRefused) as caught:
            do_approve_erasure(erasure, actor=who)
        assert caught.value.code == "not_permitted" and words in caught.value.message
    erasure.refresh_from_db()
    assert erasure.state == "awaiting_approval" and erasure.approved_by is None
    assert list(AuditEntry.objects.exclude(action__startswith="staff.").order_by("id").values_list("action", flat=True)) == ["erasure.open"] + ["erasure.refused"] * 3
    assert Message.objects.filter(sender=chat.uma).count() == 6


def test_it_erases_the_subject_and_keeps_everyone_elses_messages(chat, compliance, second_officer):
    erasure = erase(chat, compliance, second_officer)
    assert erasure.state == "done", erasure.error

    uma = ChatUser.objects.get(pk=chat.uma.pk)
    assert (uma.external_id, uma.display_name) == (erasure.subject_pseudonym, erasure.subject_pseudonym)
    assert uma.erased_at is not None
    assert not Message.objects.filter(sender=uma).exists()
    assert set(Message.objects.values_list("external_id", flat=True)) == {
        m.external_id for m in chat.bob_group + chat.bob_peer + chat.untouched
    }
    for model in (Reaction, MessageHide, PendingDelivery, Membership, SyncEvent):
        assert not model.objects.filter(user=uma).exists(), model.__name__
    assert not any(default_storage.exists(name) for name in chat.files)
    assert default_storage.exists(chat.bob_file)
    assert Conversation.objects.filter(pk=chat.peer.pk).exists()  # keep: Bob keeps his side
    assert set(Membership.objects.filter(conversation=chat.group).values_list("user__external_id", flat=True)) == {"bob", "carl"}

    erased_events = SyncEvent.objects.filter(kind="member_erased")
    assert sorted(erased_events.values_list("user__external_id", "conversation_external_id")) == [
        ("bob", "grp"), ("bob", "peer-ub"), ("carl", "grp"),
    ]
    assert erased_events.first().payload == {"erasure": erasure.pk, "member": "uma", "removed": ["reactions", "membership"]}

    assert Tombstone.objects.filter(kind="user", keys=[tombstones.key_hash("user", "uma")]).exists()
    assert sum(len(t.keys) for t in Tombstone.objects.filter(kind="message")) == 6
    assert erasure.residue == dict.fromkeys(erasure.residue, 0) and len(erasure.residue) == 12
    assert erasure.counts == {
        "messages": 6, "attachments": 2, "reactions": 2, "hides": 1, "pending_deliveries": 2,
        "memberships": 2, "conversations": 0, "sync_events": 2,
    }
    assert erasure.kept == [{
        "kept": "other people's messages",
        "reason": "Messages other people sent in the subject's conversations are kept: they are not the subject's data.",
        "messages": 5,
    }]
    purges = list(PurgeRequest.objects.filter(erasure=erasure))
    assert [(p.scope_kind, p.state, p.requested_by, p.approved_by) for p in purges] == [("user", "done", compliance, second_officer)]
    # chatsweep's own records keep no sample of what she wrote, nor her id, nor her file names.
    assert (purges[0].preview["sample_first"], purges[0].preview["sample_last"]) == ([], [])
    assert purges[0].preview["messages"] == 6 and purges[0].target == f"user {erasure.subject_pseudonym}"
    assert not ErasureFile.objects.filter(request=erasure).exists()
    assert erasure.audit_hash_at_completion == AuditEntry.objects.get(action="erasure.complete").hash
    actions = list(AuditEntry.objects.exclude(action__startswith="staff.").order_by("id").values_list("action", flat=True))
    assert actions == [
        "erasure.open", "erasure.approve", "purge.preview", "purge.submit", "purge.approve", "purge.start",
        "purge.complete", "erasure.pseudonymise", "erasure.complete",
    ]
    assert verify(render(erasure.certificate).encode()).genuine
    assert erasure.certificate["deleted"] == erasure.counts and erasure.certificate["subject"] == erasure.subject_pseudonym


def test_it_deletes_peer_conversations_on_both_sides_when_asked(chat, compliance, second_officer):
    empty_peer = make_conversation("peer", [chat.uma, chat.carl], external_id="peer-uc")
    erasure = erase(chat, compliance, second_officer, peer_conversations="delete")
    assert erasure.state == "done", erasure.error
    assert not Conversation.objects.filter(pk__in=[chat.peer.pk, empty_peer.pk]).exists()
    assert not Message.objects.filter(conversation_id=chat.peer.pk).exists()
    assert set(Message.objects.values_list("external_id", flat=True)) == {m.external_id for m in chat.bob_group + chat.untouched}
    assert erasure.counts["conversations"] == 2 and erasure.counts["messages"] == 8
    assert [p.scope_kind for p in PurgeRequest.objects.filter(erasure=erasure).order_by("id")] == ["user", "conversations"]
    assert SyncEvent.objects.filter(kind="conversation_deleted", user=chat.bob, conversation_pk=chat.peer.pk).exists()
    assert SyncEvent.objects.filter(kind="conversation_deleted", user=chat.carl, conversation_pk=empty_peer.pk).exists()
    assert erasure.residue["peer_conversations"] == 0


def test_a_hold_on_the_subject_blocks_the_request_until_it_is_released(chat, compliance, second_officer, admin_user):
    hold = do_add_legal_hold(actor=admin_user, user=chat.uma, reason="litigation 12")
    erasure = open_request(chat, compliance)
    assert erasure.state == "blocked"
    assert f"legal hold #{hold.pk}" in erasure.blocked_reason and "litigation 12" in erasure.blocked_reason
    assert erasure.holds == [{"id": hold.pk, "description": hold.describe()}]
    with pytest.raises(ErasureRefused) as caught:
        do_resume_erasure(erasure, actor=compliance)
    assert caught.value.code == "hold"

    do_release_legal_hold(hold, actor=admin_user)
    erasure = do_resume_erasure(erasure, actor=compliance)
    assert erasure.state == "awaiting_approval"

    later = do_add_legal_hold(actor=admin_user, user=chat.uma, start=T0, reason="new subpoena")
    erasure = do_approve_erasure(erasure, actor=second_officer)
    assert erasure.state == "blocked" and erasure.approved_by is None and "new subpoena" in erasure.blocked_reason
    assert Message.objects.filter(sender=chat.uma).count() == 6
    actions = list(AuditEntry.objects.filter(action__startswith="erasure.").order_by("id").values_list("action", flat=True))
    assert actions == ["erasure.open", "erasure.blocked", "erasure.refused", "erasure.resume", "erasure.blocked"]

    do_release_legal_hold(later, actor=admin_user)
    erasure = do_approve_erasure(do_resume_erasure(erasure, actor=compliance), actor=second_officer)
    assert run_job(erasure).state == "done"


def test_a_hold_placed_while_it_runs_blocks_it_before_the_next_step(chat, compliance, second_officer, admin_user, monkeypatch):
    erasure = do_approve_erasure(open_request(chat, compliance), actor=second_officer)
    real = steps.STEPS["sent"]

    def hold_then_purge(erasure, attempt):
        do_add_legal_hold(actor=admin_user, user=chat.uma, reason="late subpoena")
        return real(erasure, attempt)

    monkeypatch.setitem(steps.STEPS, "sent", hold_then_purge)
    erasure = run_job(erasure)
    assert erasure.state == "blocked" and "late subpoena" in erasure.blocked_reason
    assert Message.objects.filter(sender=chat.uma).count() == 6


def test_a_conversation_hold_keeps_its_messages_and_the_certificate_says_so(chat, compliance, second_officer, admin_user):
    hold = do_add_legal_hold(actor=admin_user, conversation=chat.group, end=T0 + 2 * HOUR, reason="case 9")
    erasure = erase(chat, compliance, second_officer)
    assert erasure.state == "done", erasure.error
    assert set(Message.objects.filter(sender=chat.uma)) == set(chat.uma_group[:2])
    assert Membership.objects.filter(user=chat.uma, conversation=chat.group).exists()  # the hold keeps the conversation as it is
    assert erasure.residue["messages"] == 0 and erasure.residue["memberships"] == 0
    assert erasure.kept[0] == {
        "hold": hold.pk, "description": hold.describe(), "messages": 2, "reactions": 0, "hides": 0,
        "pending_deliveries": 0, "memberships": 1,
    }
    assert erasure.certificate["kept"] == erasure.kept
    assert default_storage.exists(chat.files[0])  # its message is held
    assert not default_storage.exists(chat.files[1])


def test_residue_planted_behind_the_engines_back_fails_the_request_then_resume_finishes_it(
    chat, compliance, second_officer, monkeypatch
):
    real_verify = steps.STEPS["verify"]

    def plant_then_verify(erasure, attempt):
        add_reaction(chat.bob_group[0], chat.uma, "🙈")  # the chat service, meanwhile
        default_storage.save(chat.files[0], __import__("io").BytesIO(b"written back"))
        return real_verify(erasure, attempt)

    monkeypatch.setitem(steps.STEPS, "verify", plant_then_verify)
    erasure = erase(chat, compliance, second_officer)
    assert erasure.state == "failed"
    assert erasure.residue["reactions"] == 1 and erasure.residue["files"] == 1
    assert sum(erasure.residue.values()) == 2
    assert "reactions 1" in erasure.error and "files 1" in erasure.error
    assert erasure.certificate is None
    assert AuditEntry.objects.order_by("-id").first().action == "erasure.fail"

    monkeypatch.undo()
    erasure = run_job(do_resume_erasure(erasure, actor=compliance))
    assert erasure.state == "done", erasure.error
    assert not Reaction.objects.filter(user=chat.uma).exists()
    assert not default_storage.exists(chat.files[0])
    assert erasure.counts["reactions"] == 3


def test_it_cancels_before_and_during_the_run(chat, compliance, second_officer, settings):
    erasure = open_request(chat, compliance)
    erasure = do_cancel_erasure(erasure, actor=compliance)
    assert erasure.state == "cancelled" and erasure.cancelled_by == compliance

    chat.uma.refresh_from_db()
    settings.PURGE_INLINE_LIMIT = 0  # the purge is queued: no worker runs it here
    erasure = do_approve_erasure(do_open_erasure(actor=compliance, subject="uma", ticket="DSR-2"), actor=second_officer)
    erasure = run_job(erasure)
    purge = PurgeRequest.objects.get(erasure=erasure)
    assert (erasure.state, purge.state) == ("running", "queued")
    erasure = do_cancel_erasure(erasure, actor=second_officer)
    purge.refresh_from_db()
    assert (erasure.state, erasure.cancel_requested, purge.state) == ("running", True, "cancelled")
    assert "already asked" in cancel_refusal(compliance, erasure)

    from chatdata.purge.jobs import purge_job

    purge_job(purge.pk, purge.attempt - 1)  # the queued job fires anyway: fenced off, hands back to the erasure
    erasure = run_job(erasure)
    assert erasure.state == "cancelled"
    assert Message.objects.filter(sender=chat.uma).count() == 6
    assert AuditEntry.objects.filter(action="erasure.cancel").count() == 2


def test_it_rejects_with_a_reason_by_a_second_officer(chat, compliance, second_officer):
    erasure = open_request(chat, compliance)
    with pytest.raises(ErasureInvalid):
        do_reject_erasure(erasure, actor=second_officer, reason=" ")
    with pytest.raises(ErasureRefused):
        do_reject_erasure(erasure, actor=compliance, reason="mine")
    erasure = do_reject_erasure(erasure, actor=second_officer, reason="not the account holder")
    assert (erasure.state, erasure.rejected_by, erasure.rejection_reason) == ("rejected", second_officer, "not the account holder")
    with pytest.raises(ErasureRefused) as caught:
        do_approve_erasure(erasure, actor=second_officer)
    assert caught.value.code == "bad_state"


def test_an_erased_subject_cannot_be_requested_again(chat, compliance, second_officer):
    assert erase(chat, compliance, second_officer).state == "done"
    with pytest.raises(ErasureInvalid, match="already erased on"):
        do_open_erasure(actor=compliance, subject="uma", ticket="DSR-9")


def test_only_a_running_erasures_requester_makes_its_purges_and_only_compliance_approves_them(
    chat, compliance, second_officer, moderator
):
    from chatdata.purge.actions import PurgeRefused, do_approve_purge, do_execute_purge, do_preview_purge
    from chatdata.purge.scopes import ConversationsScope, PurgeSpec

    peers = PurgeSpec(ConversationsScope([chat.peer.pk]), "delete_conversation")
    with pytest.raises(PurgeRefused, match="cannot request"):  # a conversation-level deletion, outside an erasure
        do_preview_purge(peers, actor=compliance, reason="x")
    erasure = open_request(chat, compliance)
    with pytest.raises(PurgeRefused, match="is awaiting_approval"):
        do_preview_purge(peers, actor=compliance, reason="x", erasure=erasure)
    erasure = do_approve_erasure(erasure, actor=second_officer)
    with pytest.raises(PurgeRefused, match="Only the requester of erasure"):
        do_preview_purge(peers, actor=second_officer, reason="x", erasure=erasure)
    purge = do_execute_purge(do_preview_purge(peers, actor=compliance, reason="x", erasure=erasure), actor=compliance)
    assert (purge.state, purge.needs_approval) == ("awaiting_approval", True)
    with pytest.raises(PurgeRefused, match="compliance officer"):
        do_approve_purge(purge, actor=moderator)
    assert do_approve_purge(purge, actor=second_officer).state == "done"


def test_the_overview_counts_what_is_due_soon_and_overdue(chat, compliance, second_officer, capsys, settings):
    from django.core.management import call_command

    from chatdata.erasure.overview import due_soon_count, erasure_requests, urgency

    settings.ERASURE_DEADLINE_DAYS = 30
    now = timezone.now()
    overdue = do_open_erasure(actor=compliance, subject="uma", ticket="OLD", received_at=now - timedelta(days=31))
    soon = do_open_erasure(actor=compliance, subject="bob", ticket="SOON", received_at=now - timedelta(days=25))
    later = do_open_erasure(actor=compliance, subject="carl", ticket="NEW", received_at=now - timedelta(days=1))
    assert [urgency(e, now) for e in (overdue, soon, later)] == ["overdue", "due_soon", None]
    assert (overdue.days_left(now), soon.days_left(now), later.days_left(now)) == (-1, 5, 29)
    assert due_soon_count(now) == 2
    assert [e.ticket for e in erasure_requests(overdue=True, now=now)] == ["OLD"]
    do_reject_erasure(overdue, actor=second_officer, reason="duplicate")
    assert due_soon_count(now) == 1 and not erasure_requests(overdue=True).exists()
    call_command("erasure", "list", "--state", "awaiting_approval")
    out = capsys.readouterr().out
    assert "SOON" in out and "4 days left (due soon)" in out and "NEW" in out and "OLD" not in out
