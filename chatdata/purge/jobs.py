"""RQ job functions. Jobs take ids, re-read everything from the database, and are enqueued when
the transaction that decided on them commits (django-rq's on_db_commit mode), so a worker never
sees a request before its state is saved.

    purge_job(request_id, attempt)  run one attempt of a purge request
    file_outbox_job()               remove every attachment file still in the outbox
A purge that carries out an erasure enqueues the erasure's job again when it ends
(chatdata.erasure.run.continue_after_purge).
"""

import logging

import django_rq

from chatdata.purge.execute import mark_failed, run_purge
from chatdata.purge.outbox import process_file_outbox

QUEUE = "default"
log = logging.getLogger(__name__)


def purge_job(request_id, attempt):
    try:
        run_purge(request_id, attempt)
    except Exception as exc:
        # Record the failure on the request (audited) before RQ records it on the job.
        mark_failed(request_id, attempt, exc)
        raise
    finally:
        _continue_erasure(request_id)


def _continue_erasure(request_id):
    """A purge that carries out an erasure hands over to the erasure's job when it ends."""
    from chatdata.erasure.run import continue_after_purge

    try:
        continue_after_purge(request_id)
    except Exception:  # never mask the purge's own outcome; the erasure stays resumable
        log.exception("purge #%s: could not continue its erasure", request_id)


def file_outbox_job():
    return process_file_outbox()


def enqueue_purge(request):
    """Enqueue the request's current attempt on commit; returns the job id."""
    job_id = f"purge-{request.pk}-{request.attempt}"
    django_rq.get_queue(QUEUE).enqueue(purge_job, request.pk, request.attempt, job_id=job_id)
    return job_id
