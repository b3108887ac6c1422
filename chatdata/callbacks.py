"""Signed callbacks: when a purge or erasure request made through the API ends (done, failed,
rejected, cancelled, and for a purge closed after its cancel), chatsweep POSTs a JSON notice to the callback URL of the token that made it.

Signing. The body is signed with HMAC-SHA256 over `<timestamp>.<body>`, keyed by the sha256 hex
of the token's secret (what chatsweep stores, and what the receiver derives from the token it
holds), and sent as

    X-Chatsweep-Signature: t=<unix seconds>,v1=<hex digest>
    X-Chatsweep-Delivery: <id, the same for every retry of one notice>

The timestamp is inside the signed content, so a replayed notice is recognised by its age
(`verify` refuses one older than `tolerance` seconds) and a changed body or timestamp by its digest;
the delivery id lets a receiver drop a retry of a notice it already took.

Delivery. A post_save receiver sees a request reach a final state and enqueues `deliver` on the
RQ queue once the transaction commits (a rolled-back end sends nothing). `deliver` re-reads the
request, POSTs, records the attempt (`CallbackAttempt`, shown on the request's page and in the
API) and, on a failure (no answer, or a status outside 2xx), enqueues the next attempt after a
backoff that doubles (API_CALLBACK_BACKOFF_SECONDS, 2x, 4x ...) up to API_CALLBACK_ATTEMPTS tries.
Delayed retries need a worker that runs RQ's scheduler (`rqworker --with-scheduler`); with a
backoff of 0 they are enqueued at once. `(notified_state, notified_attempt)` on the origin keeps a
notice from being sent twice for the same end, while a resumed request that ends again notifies again.
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone

from chatdata.models import ApiRequestOrigin, CallbackAttempt, ErasureRequest, PurgeRequest

QUEUE = "default"
TIMEOUT_SECONDS = 10
ERASURE_FINAL = frozenset({"done", "failed", "rejected", "cancelled"})


def sign(key, timestamp, body):
    message = f"{timestamp}.".encode() + body
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def signature_header(key, body, timestamp=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={sign(key, timestamp, body)}"


def verify(key, header, body, *, tolerance=300, now=None):
    """True if `header` signs `body` with `key` and is at most `tolerance` seconds old."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        digest = parts["v1"]
    except (ValueError, KeyError, AttributeError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(key, timestamp, body), digest)


def key_for_token_secret(secret):
    """What a receiver computes from its token to check signatures."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _document(origin):
    if origin.purge_request_id:
        request = PurgeRequest.objects.get(pk=origin.purge_request_id)
        return "purge_request", {
            "id": request.pk, "state": request.state, "target": request.target, "ticket": request.ticket,
            "previewed": request.preview and {k: v for k, v in request.preview.items() if isinstance(v, int)},
            "result": request.result, "error": request.error,
            "finished_at": request.finished_at.isoformat() if request.finished_at else None,
        }
    erasure = ErasureRequest.objects.get(pk=origin.erasure_id)
    return "erasure_request", {
        "id": erasure.pk, "state": erasure.state, "subject": erasure.subject_pseudonym, "ticket": erasure.ticket,
        "counts": erasure.counts, "residue": erasure.residue, "error": erasure.error,
        "finished_at": erasure.finished_at.isoformat() if erasure.finished_at else None,
    }


def deliver(origin_id, delivery, number=1):
    """One attempt; schedules the next one on failure."""
    origin = ApiRequestOrigin.objects.select_related("token").get(pk=origin_id)
    url = origin.token.callback_url
    if not url:
        return
    kind, document = _document(origin)
    event = f"{kind}.{document['state']}"
    body = json.dumps({"event": event, "delivery": delivery, kind: document}, sort_keys=True, separators=(",", ":")).encode()
    attempt = CallbackAttempt(origin=origin, delivery=delivery, number=number, url=url, event=event)
    started = time.monotonic()
    try:
        http = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": "chatsweep-callbacks",
            "X-Chatsweep-Signature": signature_header(origin.token.secret_hash, body),
            "X-Chatsweep-Delivery": delivery,
            "X-Chatsweep-Event": event,
        })
        with urllib.request.urlopen(http, timeout=TIMEOUT_SECONDS) as response:
            attempt.status_code = response.status
    except urllib.error.HTTPError as exc:
        attempt.status_code = exc.code
        attempt.error = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        attempt.error = str(getattr(exc, "reason", exc))[:1000]
    attempt.ok = attempt.status_code is not None and 200 <= attempt.status_code < 300
    attempt.duration_ms = int((time.monotonic() - started) * 1000)
    attempt.at = timezone.now()
    attempt.save()
    if not attempt.ok and number < settings.API_CALLBACK_ATTEMPTS:
        delay = settings.API_CALLBACK_BACKOFF_SECONDS * 2 ** (number - 1)
        queue = django_rq.get_queue(QUEUE)
        if delay:
            queue.enqueue_in(timedelta(seconds=delay), deliver, origin_id, delivery, number + 1)
        else:
            queue.enqueue(deliver, origin_id, delivery, number + 1)
    return attempt


def _ended(origin_filter, state, attempt):
    origin = ApiRequestOrigin.objects.select_related("token").filter(**origin_filter).first()
    if origin is None or not origin.token.callback_url:
        return
    if (origin.notified_state, origin.notified_attempt) == (state, attempt):
        return
    origin.notified_state, origin.notified_attempt = state, attempt
    origin.save(update_fields=["notified_state", "notified_attempt"])
    delivery = uuid.uuid4().hex
    transaction.on_commit(lambda: django_rq.get_queue(QUEUE).enqueue(deliver, origin.pk, delivery))


def _purge_saved(sender, instance, update_fields=None, **kwargs):
    if instance.state in PurgeRequest.FINAL_STATES and (update_fields is None or "state" in update_fields):
        _ended({"purge_request_id": instance.pk}, instance.state, instance.attempt)


def _erasure_saved(sender, instance, update_fields=None, **kwargs):
    if instance.state in ERASURE_FINAL and (update_fields is None or "state" in update_fields):
        _ended({"erasure_id": instance.pk}, instance.state, instance.attempt)


def connect():
    post_save.connect(_purge_saved, sender=PurgeRequest, dispatch_uid="chatsweep-callbacks-purge")
    post_save.connect(_erasure_saved, sender=ErasureRequest, dispatch_uid="chatsweep-callbacks-erasure")
