"""The life of a PurgeRequest: approval, rejection, cancel, resume, and queued runs on a real worker."""

from datetime import timedelta

import django_rq
import pytest
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.utils import timezone

from chatdata.models import AuditEntry, Message, PurgeRequest, SyncEvent
from chatdata.purge import effects
from chatdata.purge.actions import (
    PurgeRefused,
    do_approve_purge,
    do_cancel_purge,
    do_close_purge,
    do_execute_purge,
    do_preview_purge,
    do_reject_purge,
    do_resume_purge,
)
from chatdata.purge.execute import run_purge
from chatdata.purge.scopes import ConversationScope, PurgeInvalid, PurgeSpec

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(chat):
    """The shared world; every third message of the group has Bob's reaction, every fourth a file."""
    for message in chat.messages[::3]:
        chat.add_reaction(message, "bob")
    chat.files = [chat.add_attachment(m).file.name for m in chat.messages[1::4]]
    return chat


def whole_group(chat):
    return PurgeSpec(ConversationScope(chat.group.pk), "delete_for_everyone")


def actions_of(request):
    return list(AuditEntry.objects.filter(purge_request_id=request.pk).order_by("id").values_list("action", flat=True))


def assert_group_purged(chat, request):
    """The end state of an uninterrupted run: everything in scope gone exactly once, nothing else."""
    request.refresh_from_db()
    assert request.state == "done"
    assert not Message.objects.filter(conversation=chat.group).exists()
    assert Message.objects.filter(conversation=chat.other).count() == 3
    for key in ("messages", "attachments", "reactions", "conversations", "members_affected"):
        assert request.result[key] == request.preview[key], key
    # One event per member, even when the run was interrupted and resumed.
    assert sorted(SyncEvent.objects.values_list("user__external_id", flat=True)) == ["alice", "bob"]
    assert not any(default_storage.exists(name) for name in chat.files)


def test_it_asks_another_staff_member_to_approve_a_large_request(chat, moderator, moderator2, support, settings, django_capture_on_commit_callbacks):
    settings.PURGE_APPROVAL_THRESHOLD = 5
    request = do_preview_purge(whole_group(chat), actor=moderator, reason="spam")
    assert request.needs_approval
    request = do_execute_purge(request, actor=moderator)
    assert request.state == "awaiting_approval"
    assert Message.objects.filter(conversation=chat.group).count() == 10

    with pytest.raises(PurgeRefused) as caught:
        do_approve_purge(request, actor=moderator)
    assert caught.value.code == "not_permitted" and "your own" in caught.value.message
    with pytest.raises(PurgeRefused) as caught:
        do_approve_purge(request, actor=support)
    assert caught.value.code == "not_permitted"
    with pytest.raises(PurgeRefused) as caught:
        do_execute_purge(request, actor=moderator)
    assert caught.value.code == "approval_needed"
    assert PurgeRequest.objects.get(pk=request.pk).state == "awaiting_approval"

    with django_capture_on_commit_callbacks(execute=True):
        request = do_approve_purge(request, actor=moderator2)
    assert request.approved_by == moderator2
    assert_group_purged(chat, request)
    assert actions_of(request) == [
        "purge.preview", "purge.submit", "purge.refused", "purge.refused", "purge.refused",  # the early execute too
        "purge.approve", "purge.start", "purge.complete",
    ]


def test_it_rejects_with_a_reason(chat, moderator, moderator2, settings):
    settings.PURGE_APPROVAL_THRESHOLD = 5
    request = do_execute_purge(do_preview_purge(whole_group(chat), actor=moderator, reason="spam"), actor=moderator)
    with pytest.raises(PurgeInvalid):
        do_reject_purge(request, actor=moderator2, reason="")
    with pytest.raises(PurgeRefused):
        do_reject_purge(request, actor=moderator, reason="I changed my mind")  # the requester cancels instead
    request = do_reject_purge(request, actor=moderator2, reason="too broad")
    assert (request.state, request.rejected_by, request.rejection_reason) == ("rejected", moderator2, "too broad")
    assert Message.objects.filter(conversation=chat.group).count() == 10
    with pytest.raises(PurgeRefused) as caught:
        do_approve_purge(request, actor=moderator2)
    assert caught.value.code == "bad_state"


def test_it_lets_only_the_requester_execute(chat, moderator, moderator2):
    request = do_preview_purge(whole_group(chat), actor=moderator, reason="spam")
    with pytest.raises(PurgeRefused) as caught:
        do_execute_purge(request, actor=moderator2)
    assert caught.value.code == "not_permitted"
    assert PurgeRequest.objects.get(pk=request.pk).state == "previewed"


def test_it_cancels_a_running_purge_at_the_next_batch_boundary(chat, moderator, settings, django_capture_on_commit_callbacks):
    settings.PURGE_INLINE_LIMIT = 0
    settings.PURGE_BATCH_SIZE = 3
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(whole_group(chat), actor=moderator, reason="x"), actor=moderator)
    assert request.state == "queued"
    run_purge(request.pk, request.attempt, max_steps=1)  # one batch done, the worker busy
    request = do_cancel_purge(request, actor=moderator)
    assert request.state == "running" and request.cancel_requested
    with django_capture_on_commit_callbacks(execute=True):
        run_purge(request.pk, request.attempt)
    request.refresh_from_db()
    assert request.state == "cancelled"
    assert request.result["messages"] == 3  # the batch in flight finished; no further one started
    assert Message.objects.filter(conversation=chat.group).count() == 7
    assert actions_of(request)[-2:] == ["purge.cancel_requested", "purge.cancel"]
    # The rest can be resumed or closed (tests/test_purge_staleness_cancel.py); once closed, never resumed.
    do_close_purge(request, actor=moderator)
    with pytest.raises(PurgeRefused) as caught:
        do_resume_purge(request, actor=moderator)
    assert caught.value.code == "bad_state"


def test_it_cancels_a_queued_purge_before_it_starts(chat, moderator, settings):
    settings.PURGE_INLINE_LIMIT = 0
    request = do_execute_purge(do_preview_purge(whole_group(chat), actor=moderator, reason="x"), actor=moderator)
    old_attempt = request.attempt
    request = do_cancel_purge(request, actor=moderator)
    assert request.state == "cancelled"
    run_purge(request.pk, old_attempt)  # the job fires later anyway
    assert Message.objects.filter(conversation=chat.group).count() == 10


def test_it_resumes_a_failed_purge_to_the_same_end_state(chat, moderator, settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.PURGE_BATCH_SIZE = 3
    real = effects.delete_messages
    calls = []

    def flaky(ids, **kwargs):
        calls.append(ids)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(ids, **kwargs)

    monkeypatch.setattr(effects, "delete_messages", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(whole_group(chat), actor=moderator, reason="x"), actor=moderator)
    assert request.state == "failed"
    assert "disk on fire" in request.error
    assert request.result["messages"] == 3 and request.cursor == chat.messages[2].pk
    assert Message.objects.filter(conversation=chat.group).count() == 7

    with django_capture_on_commit_callbacks(execute=True):
        request = do_resume_purge(request, actor=moderator)
    assert_group_purged(chat, request)
    assert actions_of(request) == ["purge.preview", "purge.start", "purge.fail", "purge.resume", "purge.complete"]


def test_it_resumes_a_running_purge_only_once_its_worker_is_silent(chat, moderator, settings, django_capture_on_commit_callbacks):
    settings.PURGE_INLINE_LIMIT = 0
    settings.PURGE_BATCH_SIZE = 4
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(whole_group(chat), actor=moderator, reason="x"), actor=moderator)
    dead_attempt = request.attempt
    with django_capture_on_commit_callbacks(execute=True):
        run_purge(request.pk, dead_attempt, max_steps=1)  # then the worker is killed
    with pytest.raises(PurgeRefused) as caught:
        do_resume_purge(request, actor=moderator)
    assert caught.value.code == "bad_state" and "alive" in caught.value.message

    PurgeRequest.objects.filter(pk=request.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=settings.PURGE_STALE_SECONDS + 1))
    with django_capture_on_commit_callbacks(execute=True):
        request = do_resume_purge(request, actor=moderator)  # queued again with a new attempt
        assert request.state == "queued" and request.attempt == dead_attempt + 1
        run_purge(request.pk, dead_attempt)  # the zombie wakes up: fenced off, changes nothing
        assert Message.objects.filter(conversation=chat.group).count() == 6
        run_purge(request.pk, request.attempt)
    assert_group_purged(chat, request)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the roles come from a data migration
def test_it_runs_a_large_purge_on_an_rq_worker(chat, moderator, settings, redis_conn):
    settings.PURGE_INLINE_LIMIT = 4
    settings.PURGE_BATCH_SIZE = 4
    request = do_execute_purge(do_preview_purge(whole_group(chat), actor=moderator, reason="x"), actor=moderator)
    assert request.state == "queued"
    assert django_rq.get_queue("default").count == 1
    assert Message.objects.filter(conversation=chat.group).count() == 10

    connection.close()  # the worker forks a work-horse: let it open its own connection
    django_rq.get_worker("default").work(burst=True)

    assert_group_purged(chat, request)
    request.refresh_from_db()
    assert request.batches == 3
    assert actions_of(request) == ["purge.preview", "purge.start", "purge.complete"]


def test_it_keeps_a_file_it_could_not_remove_in_the_outbox_until_it_is(chat, moderator, monkeypatch, django_capture_on_commit_callbacks):
    from chatdata.models import FileOutbox
    from chatdata.purge import outbox

    stuck = chat.files[0]

    class ReadOnlyShare:
        def delete(self, name):
            if name == stuck:
                raise PermissionError("read-only share")
            default_storage.delete(name)

    monkeypatch.setattr(outbox, "storage", ReadOnlyShare)
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(whole_group(chat), actor=moderator, reason="x"), actor=moderator)
    assert request.state == "done"
    entry = FileOutbox.objects.get()
    assert (entry.path, entry.request_id, entry.attempts) == (stuck, request.pk, 2)  # during the run, then its final sweep
    assert "read-only share" in entry.last_error
    assert default_storage.exists(stuck)
    assert not any(default_storage.exists(name) for name in chat.files[1:])

    monkeypatch.undo()
    assert outbox.process_file_outbox() == 1
    assert not default_storage.exists(stuck) and not FileOutbox.objects.exists()


def test_it_leaves_rows_and_files_alone_when_a_batch_rolls_back(chat, moderator, monkeypatch, django_capture_on_commit_callbacks):
    from chatdata.models import Attachment, FileOutbox

    real = effects.delete_messages

    def broken(ids, **kwargs):
        real(ids, **kwargs)  # the rows and outbox entries are written, then the batch fails
        raise RuntimeError("lost the connection")

    monkeypatch.setattr(effects, "delete_messages", broken)
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(whole_group(chat), actor=moderator, reason="x"), actor=moderator)
    assert request.state == "failed" and request.result["messages"] == 0
    assert Attachment.objects.count() == len(chat.files) and not FileOutbox.objects.exists()
    assert all(default_storage.exists(name) for name in chat.files)
    assert Message.objects.filter(conversation=chat.group).count() == 10


def test_it_enforces_the_role_matrix(chat, moderator, support, compliance, auditor, admin_user, outsider, settings):
    from chatdata.permissions import can_request
    from chatdata.purge.scopes import MessagesScope, UserScope

    settings.PURGE_SUPPORT_MAX_MESSAGES = 2
    few = PurgeSpec(MessagesScope([m.pk for m in chat.messages[:2]]), "delete_for_everyone")
    many = PurgeSpec(MessagesScope([m.pk for m in chat.messages[:3]]), "delete_for_everyone")
    hide = PurgeSpec(ConversationScope(chat.group.pk), "hide_for_user", member=chat.bob.pk)
    erase = PurgeSpec(UserScope(chat.bob.pk), "delete_for_everyone")
    allowed = {
        staff.username: [can_request(staff, spec) for spec in (few, many, hide, whole_group(chat), erase)]
        for staff in (support, moderator, compliance, auditor, admin_user, outsider)
    }
    assert allowed == {
        "sam": [True, False, True, False, False],
        "mona": [True, True, True, True, False],
        "cleo": [False, False, False, False, True],
        "audrey": [False, False, False, False, False],
        "ada": [True, True, True, True, True],
        "otto": [False, False, False, False, False],
    }
    with pytest.raises(PurgeRefused) as caught:
        do_preview_purge(many, actor=support, reason="spam")
    assert caught.value.code == "not_permitted" and "at most 2" in caught.value.message
    assert not PurgeRequest.objects.exists()


def test_it_lets_a_compliance_officer_approve_only_erasures(chat, compliance, moderator, moderator2, settings):
    settings.PURGE_APPROVAL_THRESHOLD = 5
    request = do_execute_purge(do_preview_purge(whole_group(chat), actor=moderator, reason="spam"), actor=moderator)
    with pytest.raises(PurgeRefused, match="moderator"):
        do_approve_purge(request, actor=compliance)
    assert PurgeRequest.objects.get(pk=request.pk).state == "awaiting_approval"


def test_it_removes_files_only_once_they_are_released(chat, django_capture_on_commit_callbacks):
    from chatdata.models import FileOutbox
    from chatdata.purge.outbox import FileRemover

    entries = [(FileOutbox.objects.create(path=name).pk, name) for name in chat.files]
    remover = FileRemover()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            remover.hold_after_commit(entries)
        assert all(default_storage.exists(name) for name in chat.files)  # committed, maybe not on disk yet
        remover.wait()  # releases after the WAL flush, then waits for the thread
        assert not any(default_storage.exists(name) for name in chat.files)
        assert FileOutbox.objects.count() == len(entries)  # rows go with the next batch transaction
        remover.drain()
        assert not FileOutbox.objects.exists()
    finally:
        remover.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the roles come from a data migration
def test_it_waits_for_the_wal_flush_of_asynchronous_commits():
    from django.db import transaction

    from chatdata.models import FileOutbox
    from chatdata.purge.effects import commit_asynchronously
    from chatdata.purge.outbox import wal_flush_barrier

    with transaction.atomic():
        commit_asynchronously()
        FileOutbox.objects.create(path="attachments/x.png")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()")
        (committed,) = cursor.fetchone()
        wal_flush_barrier()
        cursor.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", [committed])
        assert cursor.fetchone()[0]


def _batch_settings():
    """(synchronous_commit, wal_compression) inside a batch transaction and after it."""
    from django.db import transaction

    from chatdata.purge.effects import commit_asynchronously

    shown = "SELECT current_setting('synchronous_commit'), current_setting('wal_compression')"
    with transaction.atomic(), connection.cursor() as cursor:
        commit_asynchronously()
        cursor.execute(shown)
        inside = cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(shown)
        return inside, cursor.fetchone()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # SET LOCAL ends with a real commit
def test_batch_transactions_compress_their_wal_where_the_role_may(settings):
    connections["default"].__dict__.pop("_chatsweep_wal_compression", None)
    settings.PURGE_WAL_COMPRESSION = "lz4"
    assert _batch_settings() == (("off", "lz4"), ("on", "off"))  # the tests connect as a superuser
    settings.PURGE_WAL_COMPRESSION = "off"
    assert _batch_settings() == (("off", "off"), ("on", "off"))


@pytest.mark.django_db
def test_a_role_that_may_not_set_wal_compression_purges_without_it(settings):
    connections["default"].__dict__.pop("_chatsweep_wal_compression", None)
    settings.PURGE_WAL_COMPRESSION = "zstd"
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE chatsweep_plain_role NOSUPERUSER")  # rolled back with the test
        cursor.execute("SET ROLE chatsweep_plain_role")
        try:
            assert _batch_settings()[0] == ("off", "off")
        finally:
            cursor.execute("RESET ROLE")
            connections["default"].__dict__.pop("_chatsweep_wal_compression", None)
