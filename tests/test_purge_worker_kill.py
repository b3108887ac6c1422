"""A worker killed with SIGKILL in the middle of a purge, then resumed, ends in the same state as
an uninterrupted run (DESIGN.md invariant 5).

The workers are real `manage.py rqworker --burst` subprocesses (RQ's forking worker) on the test
database, with batches of 5 messages. Each test runs the same purge twice on identical data (the
chat tables are emptied and rebuilt with the same ids in between): once uninterrupted, once
killed and resumed with a fresh worker, and compares every chat table and every stored file.
Two places to die (the worker and its work horse killed together):
- `between_batches`: they are killed as soon as the checkpoint shows
  progress, wherever it happens to be (a batch, its file removals, the gap between two);
- `inside_batch`: the test holds a lock that blocks the worker's next DELETE of messages, waits
  until the worker is stuck inside that batch's transaction (children and outbox rows already
  written), and kills it there.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psutil
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from chatdata.models import Attachment, FileOutbox, PurgeRequest
from chatdata.purge.actions import do_execute_purge, do_preview_purge, do_resume_purge
from chatdata.purge.transitions import counts_of
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import T0, add_attachment, add_hide, add_pending, add_reaction, make_conversation, make_message, make_user
from tests.polling import wait_for
from tests.purge_snapshot import CHAT_MODELS, snapshot, stored_files

# serialized_rollback: the flush after each test also empties the role groups made by a migration.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(__file__).resolve().parent.parent
BATCH_SIZE = 5
MESSAGES = 400
WORKER_APP = "chatsweep-test-kill-worker"
# Columns filled from the wall clock when the row is written: they differ between two builds.
WALL_CLOCK = {"chatdata_messagehide": ("created_at",), "chatdata_pendingdelivery": ("queued_at",), "chatdata_syncevent": ("created_at",)}


@pytest.fixture
def purge_settings(settings, redis_conn):
    settings.PURGE_BATCH_SIZE = BATCH_SIZE
    settings.PURGE_INLINE_LIMIT = 10  # everything here runs in the worker
    settings.PURGE_STALE_SECONDS = 1  # a killed worker's request becomes resumable quickly
    return settings


def build_chat(media_root):
    """The same chat data with the same ids every time (the chat tables and the media root are
    emptied first): a group of four with MESSAGES messages (the scope) and a second
    conversation that must survive."""
    empty_chat_tables(media_root)
    users = [make_user(external_id=f"k-u{i}", name=f"K user {i}") for i in range(4)]
    big = make_conversation("group", members=users, external_id="k-big", title="Big")
    other = make_conversation("group", members=users[:2], external_id="k-other", title="Other")
    for i in range(MESSAGES + 20):
        conversation, people = (big, users) if i < MESSAGES else (other, users[:2])
        message = make_message(conversation, people[i % len(people)], sent_at=T0 + timedelta(minutes=i), external_id=f"k-m{i}", body=f"m{i}")
        if i % 3 == 0:
            add_reaction(message, people[(i + 1) % len(people)])
        if i % 7 == 0:
            add_attachment(message, name=f"k-m{i}.txt", content=f"file of message {i}".encode(), content_type="text/plain")
        if i % 5 == 0:
            add_pending(message, people[(i + 2) % len(people)])
        if i % 11 == 0:
            add_hide(message, people[(i + 3) % len(people)])
    return big


def empty_chat_tables(media_root):
    tables = ", ".join(model._meta.db_table for model in CHAT_MODELS)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    for path in sorted(Path(media_root).rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()


def database_url():
    db = connection.settings_dict  # NAME is the test database here
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker():
    env = dict(
        os.environ,
        DATABASE_URL=database_url(),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        PURGE_BATCH_SIZE=str(BATCH_SIZE),
        PGAPPNAME=WORKER_APP,  # libpq's application_name: how the test finds the worker's backends
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "--burst", "default"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def run_worker_to_end():
    worker = start_worker()
    output, _ = worker.communicate(timeout=180)
    assert worker.returncode == 0, output.decode()[-3000:]


def queued_purge(moderator, conversation):
    spec = PurgeSpec(ConversationScope(conversation.pk), "delete_for_everyone")
    request = do_preview_purge(spec, actor=moderator, reason="kill test", ticket="T-1")
    request = do_execute_purge(request, actor=moderator)
    assert request.state == PurgeRequest.State.QUEUED
    return request


def final_state(request):
    """Snapshot of every chat table and stored file after a finished run, checked for doneness."""
    request.refresh_from_db()
    assert request.state == PurgeRequest.State.DONE, (request.state, request.error)
    assert counts_of(request.result) == counts_of(request.preview)
    assert not FileOutbox.objects.filter(request=request).exists()
    state = snapshot(skip={m: WALL_CLOCK.get(m._meta.db_table, ()) for m in CHAT_MODELS})
    for event in state["chatdata_syncevent"].values():
        assert event["payload"].pop("purge_request") == request.pk  # the only id that differs between runs
    return state, stored_files(settings.MEDIA_ROOT)



def processed(request):
    return PurgeRequest.objects.values_list("processed_messages", flat=True).get(pk=request.pk)


def worker_backends(cursor, waiting=False):
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        + (" AND wait_event_type = 'Lock'" if waiting else ""),
        [WORKER_APP],
    )
    return cursor.fetchone()[0]


def kill_group(worker):
    """SIGKILL the worker's process group and its work horse's: RQ's horse calls setpgrp(), so
    killing the worker's group alone leaves the horse to finish the job."""
    groups = {os.getpgid(child.pid) for child in psutil.Process(worker.pid).children(recursive=True)}
    assert groups, "the worker has no work horse to kill"
    for group in groups | {worker.pid}:
        os.killpg(group, signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL


def kill_inside_a_batch(worker):
    db = connection.settings_dict
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"]) as blocker:
        cursor = blocker.cursor()
        cursor.execute("LOCK TABLE chatdata_message IN SHARE MODE")  # blocks DELETE, not SELECT
        wait_for(lambda: worker_backends(cursor, waiting=True), "the worker to block inside a batch")
        kill_group(worker)
        blocker.rollback()


def test_it_needs_the_worker_to_run_this_purge(moderator, purge_settings, media_root):
    """The premise of the test below: the purge is queued, not run inline, and takes many batches."""
    big = build_chat(media_root)
    request = queued_purge(moderator, big)
    assert request.preview["messages"] == MESSAGES
    assert request.preview["attachments"] == len(range(0, MESSAGES, 7))
    assert big.messages.count() == MESSAGES


@pytest.mark.parametrize("where", ["between_batches", "inside_batch"])
def test_it_resumes_a_killed_worker_to_the_same_end_state(where, moderator, purge_settings, media_root):
    reference_request = queued_purge(moderator, build_chat(media_root))
    run_worker_to_end()
    reference, reference_files = final_state(reference_request)
    assert any(name.endswith("k-m406.txt") for name in reference_files)  # the other conversation's file stays
    assert not any(name.endswith("k-m0.txt") for name in reference_files)

    big = build_chat(media_root)
    files_before = stored_files(media_root)
    request = queued_purge(moderator, big)
    assert counts_of(request.preview) == counts_of(reference_request.preview)
    worker = start_worker()
    try:
        wait_for(lambda: processed(request) >= 2 * BATCH_SIZE, "the worker to make progress")
        if where == "inside_batch":
            kill_inside_a_batch(worker)
        else:
            kill_group(worker)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    with connection.cursor() as cursor:
        wait_for(lambda: worker_backends(cursor) == 0, "the killed worker's database sessions to end")

    request.refresh_from_db()
    assert request.state == PurgeRequest.State.RUNNING
    assert 0 < request.processed_messages < MESSAGES, "the worker was not killed in the middle"
    assert big.messages.count() == MESSAGES - request.processed_messages  # the batch in flight rolled back
    # The outbox at the crash point: no row lost its file, and every file whose row is gone is
    # either already removed or still listed for removal (nothing orphaned).
    on_disk = set(stored_files(media_root))
    rows = set(Attachment.objects.values_list("file", flat=True))
    assert rows <= on_disk
    assert on_disk - rows <= set(FileOutbox.objects.filter(request=request).values_list("path", flat=True))
    assert on_disk <= set(files_before)

    time.sleep(1.1)  # PURGE_STALE_SECONDS without a heartbeat: the worker is presumed dead
    do_resume_purge(request, actor=moderator)
    run_worker_to_end()
    resumed, resumed_files = final_state(request)

    assert resumed == reference
    assert resumed_files == reference_files
    request.refresh_from_db()
    assert request.attempt == 2
    assert counts_of(request.result) == counts_of(reference_request.result)
