"""Removing attachment files from storage, after the rows are gone, without ever losing one.

A batch that deletes attachment rows writes their paths to FileOutbox in the same transaction
(chatdata.purge.effects.delete_messages). A file is removed only once that transaction is
committed *and on disk*, and its outbox row is deleted only once the file is gone. So:
- a crash before the commit rolls back rows and outbox entries together: nothing to remove;
- a crash after it leaves outbox rows, which `process_file_outbox()` (run at the end of every
  purge, by `manage.py purge --process-outbox`, or by anyone, any number of times) finishes;
- a file is never removed while its row could still come back.
Removing a file that is already gone is not an error, so doing it twice is harmless.

"On disk" matters because batch transactions commit asynchronously on PostgreSQL (see
chatdata.purge.execute): after a database crash the last few batches may be undone, rows and
outbox entries together. `wal_flush_barrier()` waits until everything committed so far is
flushed; files wait for it.

During a run, FileRemover threads remove the files of durable batches while the next batch works
in the database (the two wait on different things), and the settled outbox rows are deleted inside
a following batch transaction rather than in one more commit of their own.

Every Attachment row owns its file: Django's storage gives each saved upload a name of its own,
and seed_demo and import_chat write one file per row. So a path in the outbox, written in the
transaction that deleted its row, is never the file of a row that still exists; checking the
attachment table for every path instead would cost a scan per batch (the path is not indexed).
"""

import logging
import queue
import threading
import time

from django.db import connection, transaction
from django.db.models import F

from chatdata.models import Attachment, FileOutbox
from chatdata.purge.statements import batch_cursor, in_ids

log = logging.getLogger(__name__)
CHUNK = 500
FLUSH_POLL = 0.01
THREADS = 4
CHUNK_PER_THREAD = 50


def storage():
    return Attachment._meta.get_field("file").storage


def _lsn(cursor, function):
    cursor.execute(f"SELECT {function}()")
    return cursor.fetchone()[0]


def _flushed(cursor, target):
    cursor.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", [target])
    return cursor.fetchone()[0]


def wal_position():
    """The WAL position every transaction committed so far lies below, or None where there is
    nothing to wait for (not PostgreSQL; inside a transaction, whose work is not committed)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        return _lsn(cursor, "pg_current_wal_insert_lsn")


def wal_flushed(target, *, wait=False):
    """True once the WAL is flushed to disk up to `target` (PostgreSQL's WAL writer does it
    within a few hundred milliseconds of an asynchronous commit); with wait=True, wait for it."""
    if target is None:
        return True
    with connection.cursor() as cursor:
        while not _flushed(cursor, target):
            if not wait:
                return False
            time.sleep(FLUSH_POLL)
    return True


def wal_flush_barrier():
    """Return once everything committed so far is flushed to disk."""
    wal_flushed(wal_position(), wait=True)


def sweep_after_commit(request_pk=None):
    """Once the current transaction commits (at once when there is none), remove every file
    still in the outbox for this request (or for all)."""
    transaction.on_commit(lambda: process_file_outbox(request_pk=request_pk))


def remove_files(entries):
    """Remove each entry's file, then its outbox row; failures stay queued with the error.
    Returns how many entries were settled. The caller makes sure the entries are durable."""
    files = storage()
    done = []
    for pk, path in entries:
        if path:
            try:
                files.delete(path)
            except Exception as exc:  # storage backends raise many kinds; keep the entry to retry
                log.warning("could not remove %s: %s", path, exc)
                FileOutbox.objects.filter(pk=pk).update(attempts=F("attempts") + 1, last_error=str(exc)[:1000])
                continue
        done.append(pk)
    if done:
        FileOutbox.objects.filter(id__in=done)._raw_delete(FileOutbox.objects.db)
    return len(done)


def process_file_outbox(*, request_pk=None):
    """Remove every file still in the outbox (or only one request's); returns how many entries
    were settled. Resumable: it works in chunks and any process may run it at any time."""
    wal_flush_barrier()
    pending = FileOutbox.objects.order_by("id")
    if request_pk is not None:
        pending = pending.filter(request_id=request_pk)
    settled = 0
    last = 0
    while True:
        entries = list(pending.filter(id__gt=last).values_list("id", "path")[:CHUNK])
        if not entries:
            return settled
        last = entries[-1][0]
        settled += remove_files(entries)


class FileRemover:
    """Removes committed batches' files in background threads during a run.

    `hold_after_commit(entries)` keeps a batch's entries once its transaction commits;
    `release()` hands those whose commit is flushed to disk to the threads, without waiting for
    the others (the run calls it about once a second); `wait()` waits for all of them. The threads
    touch storage only; their results go back to the database on the run's own connection:
    `drain()`, called inside a batch transaction, deletes the settled outbox rows and records
    failures. Whatever is unfinished when the run ends stays in the outbox.
    """

    def __init__(self):
        self._todo = queue.Queue()
        self._lock = threading.Lock()
        self._held = []  # entries of committed batches, WAL position not yet taken
        self._flushing = []  # (WAL position, entries) waiting for the flush
        self._settled = []
        self._failed = []
        self._closed = False
        # Removing a file is mostly waiting on the filesystem's journal (0.1-0.25 ms each on a busy
        # disk, measured), so a few threads remove several times as many files per second.
        self._threads = [
            threading.Thread(target=self._work, name=f"chatsweep-file-remover-{n}", daemon=True) for n in range(THREADS)
        ]
        for thread in self._threads:
            thread.start()

    def hold_after_commit(self, entries):
        if entries:
            transaction.on_commit(lambda: self._hold(list(entries)))

    def _hold(self, entries):
        if self._closed:  # the run ended before its transaction committed (tests, nested atomics)
            wal_flush_barrier()
            remove_files(entries)
        else:
            self._held.extend(entries)

    def release(self, *, wait=False):
        """Hand the entries whose batches are on disk to the threads. Without `wait` it only
        looks (two tiny queries): entries not yet flushed are looked at again next time."""
        if self._closed:
            return
        if self._held:
            self._flushing.append((wal_position(), self._held))
            self._held = []
        while self._flushing and wal_flushed(self._flushing[0][0], wait=wait):
            entries = self._flushing.pop(0)[1]
            for start in range(0, len(entries), CHUNK_PER_THREAD):
                self._todo.put(entries[start : start + CHUNK_PER_THREAD])

    def _work(self):
        files = storage()
        while (entries := self._todo.get()) is not None:
            for pk, path in entries:
                try:
                    if path:
                        files.delete(path)
                except Exception as exc:  # storage backends raise many kinds; keep the entry to retry
                    log.warning("could not remove %s: %s", path, exc)
                    with self._lock:
                        self._failed.append((pk, str(exc)[:1000]))
                else:
                    with self._lock:
                        self._settled.append(pk)
            self._todo.task_done()
        self._todo.task_done()

    def wait(self):
        """Release everything held, once flushed, and block until the threads have dealt with it."""
        self.release(wait=True)
        if not self._closed:
            self._todo.join()

    def drain(self):
        """Delete the settled outbox rows and record failures, on the caller's connection."""
        with self._lock:
            settled, self._settled = self._settled, []
            failed, self._failed = self._failed, []
        if settled:
            match, params = in_ids("id", settled)
            with batch_cursor() as cursor:
                cursor.execute(f"DELETE FROM {FileOutbox._meta.db_table} WHERE " + match, params)
        for pk, error in failed:
            FileOutbox.objects.filter(pk=pk).update(attempts=F("attempts") + 1, last_error=error)

    def close(self):
        """Finish the files released so far and drain; held ones stay in the outbox."""
        if not self._closed:
            self._closed = True
            for _ in self._threads:
                self._todo.put(None)
            for thread in self._threads:
                thread.join()
        self.drain()
