"""Removing attachment files from storage, after the rows are gone, without ever losing one.

A batch that deletes attachment rows writes their paths to FileOutbox in the same transaction
(chatdata.purge.effects.delete_messages). Only after that transaction commits are the files
removed, and each outbox row is deleted only once its file is gone. So:
- a crash before the commit rolls back rows and outbox entries together: nothing to remove;
- a crash after it leaves outbox rows, which `process_file_outbox()` (run at the end of every
  purge, by `manage.py purge --process-outbox`, or by anyone, any number of times) finishes.
Removing a file that is already gone is not an error, so doing it twice is harmless.

During a run, a FileRemover thread deletes each batch's files while the next batch works in the
database (the two wait on different things), and the settled outbox rows are deleted inside the
following batch's transaction rather than in one more commit of their own.

Every Attachment row owns its file: Django's storage gives each saved upload a name of its own,
and seed_demo and import_chat write one file per row. So a path in the outbox, written in the
transaction that deleted its row, is never the file of a row that still exists; checking the
attachment table for every path instead would cost a scan per batch (the path is not indexed).
"""

import logging
import queue
import threading

from django.db import transaction
from django.db.models import F

from chatdata.models import Attachment, FileOutbox

log = logging.getLogger(__name__)
CHUNK = 500


def storage():
    return Attachment._meta.get_field("file").storage


def sweep_after_commit(request_pk=None):
    """Once the current transaction commits (at once when there is none), remove every file
    still in the outbox for this request (or for all)."""
    transaction.on_commit(lambda: process_file_outbox(request_pk=request_pk))


def remove_files(entries):
    """Remove each entry's file, then its outbox row; failures stay queued with the error.
    Returns how many entries were settled."""
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
    """Removes committed batches' files in a background thread during a run.

    The thread touches storage only. Its results go back to the database on the run's own
    connection: `drain()`, called inside the next batch transaction, deletes the settled outbox
    rows and records failures. Whatever the thread has not finished when the run ends stays in
    the outbox for `process_file_outbox()`.
    """

    def __init__(self):
        self._todo = queue.Queue()
        self._lock = threading.Lock()
        self._settled = []
        self._failed = []
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="chatsweep-file-remover", daemon=True)
        self._thread.start()

    def submit_after_commit(self, entries):
        if entries:
            transaction.on_commit(lambda: self._submit(list(entries)))

    def _submit(self, entries):
        if self._closed:  # the run ended before its transaction committed (tests, nested atomics)
            remove_files(entries)
        else:
            self._todo.put(entries)

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
        """Block until every file handed over so far has been dealt with."""
        if not self._closed:
            self._todo.join()

    def drain(self):
        """Delete the settled outbox rows and record failures, on the caller's connection."""
        with self._lock:
            settled, self._settled = self._settled, []
            failed, self._failed = self._failed, []
        if settled:
            FileOutbox.objects.filter(id__in=settled)._raw_delete(FileOutbox.objects.db)
        for pk, error in failed:
            FileOutbox.objects.filter(pk=pk).update(attempts=F("attempts") + 1, last_error=error)

    def close(self):
        """Wait for the files handed over so far, then drain."""
        if not self._closed:
            self._closed = True
            self._todo.put(None)
            self._thread.join()
        self.drain()
