"""Removing attachment files from storage, after the rows are gone, without ever losing one.

A batch that deletes attachment rows writes their paths to FileOutbox in the same transaction
(chatdata.purge.effects.delete_messages). Only after that transaction commits are the files
removed, and each outbox row is deleted only once its file is gone. So:
- a crash before the commit rolls back rows and outbox entries together: nothing to remove;
- a crash after it leaves outbox rows, which `process_file_outbox()` (run at the end of every
  purge, by `manage.py purge --process-outbox`, or by anyone, any number of times) finishes;
- a path that another attachment row still uses is left in storage (its outbox row is dropped).
Removing a file that is already gone is not an error, so running it twice is harmless.
"""

import logging

from django.db import transaction
from django.db.models import F

from chatdata.models import Attachment, FileOutbox

log = logging.getLogger(__name__)
CHUNK = 500


def storage():
    return Attachment._meta.get_field("file").storage


def remove_after_commit(*, outbox_ids=None, request_pk=None):
    """Remove these outbox entries' files (or all of a request's) once the current transaction
    commits; immediately when there is no transaction."""
    if outbox_ids is not None and not outbox_ids:
        return
    transaction.on_commit(lambda: process_file_outbox(ids=outbox_ids, request_pk=request_pk))


def process_file_outbox(*, ids=None, request_pk=None):
    """Remove pending files (all, or only `ids`, or only one request's); returns how many
    outbox entries were settled. Failures stay in the outbox with the error, to retry later."""
    pending = FileOutbox.objects.order_by("id")
    if ids is not None:
        pending = pending.filter(id__in=list(ids))
    if request_pk is not None:
        pending = pending.filter(request_id=request_pk)
    files = storage()
    settled = 0
    last = 0
    while True:
        rows = list(pending.filter(id__gt=last).values_list("id", "path")[:CHUNK])
        if not rows:
            return settled
        last = rows[-1][0]
        paths = {path for _, path in rows if path}
        in_use = set(Attachment.objects.filter(file__in=paths).values_list("file", flat=True)) if paths else set()
        done = []
        for pk, path in rows:
            if path and path not in in_use:
                try:
                    files.delete(path)
                except Exception as exc:  # storage backends raise many kinds; keep the entry to retry
                    log.warning("could not remove %s: %s", path, exc)
                    FileOutbox.objects.filter(pk=pk).update(attempts=F("attempts") + 1, last_error=str(exc)[:1000])
                    continue
            done.append(pk)
        FileOutbox.objects.filter(id__in=done)._raw_delete(FileOutbox.objects.db)
        settled += len(done)
