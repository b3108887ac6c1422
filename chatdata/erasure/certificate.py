"""The erasure certificate: a JSON document a data protection officer can hand over, signed.

Issued once, when the residue check passes (chatdata.erasure.run), and stored on the request:
request, ticket, subject pseudonym, dates, requester and approver, counts deleted per table, the
residue check's per-table zeros, what was kept and why, and the audit log's newest hash at
completion (the hash of the `erasure.complete` entry). The signature is HMAC-SHA256 with
settings.ERASURE_CERTIFICATE_KEY over the canonical JSON of everything else (keys sorted, no
whitespace, UTF-8), together with the key's id (a hash of the key, never the key) so that a
certificate signed with another key is told apart from an altered one.

The file form (`render`) is the document pretty-printed in one fixed layout. `verify` checks the
signature over the content and then that the file is exactly that layout: any byte changed is
caught, also one that leaves the content intact (whitespace, key order), and the reason says which.
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.utils import timezone

from chatdata.erasure.residue import RESIDUE_KEYS

KIND = "chatsweep erasure certificate"
VERSION = 1
ALGORITHM = "HMAC-SHA256"


def _iso(moment):
    return moment.isoformat() if moment else None


def canonical(document):
    """The bytes the signature covers: the document without its signature, canonical JSON."""
    unsigned = {key: value for key, value in document.items() if key != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def key_id(key=None):
    key = settings.ERASURE_CERTIFICATE_KEY if key is None else key
    return hashlib.sha256(b"chatsweep certificate key id\0" + key.encode("utf-8")).hexdigest()[:16]


def sign(document):
    key = settings.ERASURE_CERTIFICATE_KEY
    value = hmac.new(key.encode("utf-8"), canonical(document), hashlib.sha256).hexdigest()
    return {**document, "signature": {"algorithm": ALGORITHM, "key_id": key_id(key), "value": value}}


def issue(erasure):
    """The signed certificate of a request that has just passed its residue check."""
    purges = [p.pk for p in erasure.purges.order_by("id")]
    document = {
        "certificate": KIND,
        "version": VERSION,
        "request": erasure.pk,
        "ticket": erasure.ticket,
        "subject": erasure.subject_pseudonym,
        "received_at": _iso(erasure.received_at),
        "due_at": _iso(erasure.due_at),
        "approved_at": _iso(erasure.approved_at),
        "completed_at": _iso(erasure.completed_at),
        "requested_by": erasure.requested_by.get_username(),
        "approved_by": erasure.approved_by.get_username() if erasure.approved_by_id else None,
        "peer_conversations": erasure.peer_conversations,
        "purge_requests": purges,
        "deleted": erasure.counts,
        "residue": {key: (erasure.residue or {}).get(key, 0) for key in RESIDUE_KEYS},
        "kept": erasure.kept,
        "audit_hash_at_completion": erasure.audit_hash_at_completion,
        "issued_at": _iso(timezone.now()),
    }
    return sign(document)


def render(document):
    """The certificate as a file: one fixed pretty-printed layout (what `verify` expects)."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class Verdict:
    UNREADABLE, ALTERED, GENUINE = 2, 1, 0

    def __init__(self, code, message):
        self.code, self.message = code, message

    @property
    def genuine(self):
        return self.code == self.GENUINE


def verify(data):
    """Whether `data` (the bytes of a certificate file) is genuine and unaltered, and why not."""
    try:
        text = data.decode("utf-8")
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        return Verdict(Verdict.UNREADABLE, f"not a readable JSON document ({exc}).")
    if not isinstance(document, dict) or document.get("certificate") != KIND:
        return Verdict(Verdict.UNREADABLE, "not a chatsweep erasure certificate (no \"certificate\" field naming one).")
    signature = document.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        return Verdict(Verdict.ALTERED, "it carries no signature.")
    if signature.get("algorithm") != ALGORITHM:
        return Verdict(Verdict.ALTERED, f"its signature algorithm is {signature.get('algorithm')!r}, not {ALGORITHM}.")
    expected = sign(document)["signature"]
    if not hmac.compare_digest(signature["value"], expected["value"]):
        if signature.get("key_id") != expected["key_id"]:
            return Verdict(
                Verdict.ALTERED,
                f"it was signed with another key (key id {signature.get('key_id')!r}, this installation's is "
                f"{expected['key_id']!r}), or its key id was altered.",
            )
        return Verdict(Verdict.ALTERED, "its signature does not match its content: the content was altered.")
    if signature.get("key_id") != expected["key_id"]:
        return Verdict(Verdict.ALTERED, "its key id was altered (the content and signature are intact).")
    if text != render(document):
        return Verdict(
            Verdict.ALTERED,
            "the content and signature are intact, but the file's layout was changed (whitespace or key order); "
            "the issued file is byte for byte what `manage.py erasure certificate` writes.",
        )
    return Verdict(Verdict.GENUINE, "genuine and unaltered.")


def certificate_context(erasure):
    """What the printable certificate page shows (the web's template renders it): the stored
    document with its dates as datetimes, tables as (name, count) rows, and the file's form."""
    from datetime import datetime

    document = erasure.certificate
    if not document:
        return None

    def when(key):
        return datetime.fromisoformat(document[key]) if document.get(key) else None

    return {
        "document": document,
        "request": document["request"],
        "ticket": document["ticket"],
        "subject": document["subject"],
        "received_at": when("received_at"),
        "due_at": when("due_at"),
        "approved_at": when("approved_at"),
        "completed_at": when("completed_at"),
        "issued_at": when("issued_at"),
        "requested_by": document["requested_by"],
        "approved_by": document["approved_by"],
        "peer_conversations": document["peer_conversations"],
        "purge_requests": document["purge_requests"],
        "deleted": sorted((document["deleted"] or {}).items()),
        "residue": [(key, document["residue"].get(key, 0)) for key in RESIDUE_KEYS],
        "kept_by_holds": [entry for entry in document["kept"] or [] if "hold" in entry],
        "kept_otherwise": [entry for entry in document["kept"] or [] if "hold" not in entry],
        "audit_hash_at_completion": document["audit_hash_at_completion"],
        "signature": document["signature"],
        "json": render(document),
    }


def certificate_refusal(actor, erasure):
    """None if `actor` (None: an operator at the command line) may have the certificate now."""
    from chatdata.permissions import can_view_erasures

    if erasure.certificate is None:
        return f"There is no certificate yet: the request is {erasure.state}; one is issued when its residue check passes."
    if actor is not None and not can_view_erasures(actor):
        return "Only compliance officers, auditors and admins may see erasure certificates."
    return None


def do_issue_certificate(erasure, *, actor, ip=None):
    """The stored certificate, handed out (download, print, CLI): audited as erasure.certificate."""
    from django.db import transaction

    from chatdata.erasure.actions import audit_erasure, refuse_erasure
    from chatdata.purge.actions import PurgeRefused

    if message := certificate_refusal(actor, erasure):
        code = PurgeRefused.BAD_STATE if erasure.certificate is None else PurgeRefused.NOT_PERMITTED
        refuse_erasure(message, code, actor=actor, erasure=erasure, ip=ip)
    with transaction.atomic():
        audit_erasure("erasure.certificate", erasure, actor=actor, ip=ip, reason=erasure.certificate["signature"]["value"])
    return erasure.certificate
