"""The audit log: append-only (database triggers, migrations 0005 and 0006), hash-chained, and
anchored outside the table by a witness of the chain's head (chatdata.witness).

`write_audit(action, actor=..., ...)` appends one entry inside the caller's transaction, so the
entry commits or rolls back with the change it records. Every entry stores `prev_hash`, the hash
of the entry before it, and `hash = sha256(canonical JSON of its own fields + prev_hash)`.
Appends are serialized: on PostgreSQL by a transaction-scoped advisory lock taken before reading
the last hash (held until the caller commits, so ids follow chain order); on SQLite the
database's single writer does it. `verify_chain()` walks the log in id order and reports the
first entry whose hash or link does not match (`verify_chain(last=N)`: among the newest N): an edited, deleted or inserted row. A chain cut
short, a re-hashed newest entry or an emptied table is consistent in itself: the witness shows
those, and `verify_chain()` compares the table with it too. Every commit that appended entries
writes the new head to the witness (`witness_after_commit`).

Actions are dotted names; the ones chatsweep writes are listed in ACTIONS.

Refused attempts are recorded too (DESIGN.md §4, invariant 4): an action that refuses calls
`audit_refusal` once, after leaving its own transaction, so the entry outlives the rollback of
the change it refused. `counting_writes()` tells a caller how many entries were appended inside
it (dashboard.web.middleware's safety net uses it to see whether a refused web request was recorded).
"""

import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from django.db import connection, transaction
from django.utils import timezone

from chatdata import roles
from chatdata.models import AuditEntry

GENESIS = "0" * 64
# Any constant works; it only has to be the same for every writer of the chain.
ADVISORY_LOCK_KEY = 0x63686174_61756474  # "chataudt"

ACTIONS = {
    "purge.preview": "Previewed a purge",
    "purge.refused": "A purge was refused",
    "purge.submit": "Submitted a purge for approval",
    "purge.approve": "Approved a purge",
    "purge.reject": "Rejected a purge",
    "purge.start": "Started a purge",
    "purge.complete": "A purge completed",
    "purge.fail": "A purge failed",
    "purge.cancel_requested": "Asked a running purge to stop",
    "purge.cancel": "A purge was cancelled",
    "purge.resume": "Resumed a purge",
    "hold.add": "Placed a legal hold",
    "hold.release": "Released a legal hold",
    "hold.refused": "A legal hold change was refused",
    "import.chat": "Imported chat data",
    "import.refused": "An import was refused",
    "import.failed": "An import failed and was rolled back",
    # Logins and logouts (dashboard.web.accounts.login_audit), throttled ones too (the audited axes_reset commands).
    "auth.login": "Logged in",
    "auth.login_failed": "A login failed",
    "auth.logout": "Logged out",
    "auth.lockout": "Locked out after repeated failed logins",
    "auth.unlock": "Lifted a login lockout",
    # Exports of the audit log itself (dashboard.web.oversight.audit).
    "audit.export": "Exported the audit log",
    # Staff accounts and roles, wherever they change (chatdata.staff_audit).
    "staff.created": "Created a staff account",
    "staff.deleted": "Deleted a staff account",
    "staff.renamed": "Renamed a staff account",
    "staff.role_added": "Gave a staff member a role",
    "staff.role_removed": "Took a role from a staff member",
    "staff.superuser_granted": "Made a staff member a superuser (the admin role)",
    "staff.superuser_revoked": "Took the superuser flag (the admin role) from a staff member",
    "staff.admin_site_granted": "Let a staff member into Django's admin",
    "staff.admin_site_revoked": "Took Django's admin from a staff member",
    "staff.activated": "Activated a staff account",
    "staff.deactivated": "Deactivated a staff account",
    "staff.password_changed": "Set a staff member's password",
    "erasure.open": "Opened an erasure request",
    "erasure.refused": "An erasure action was refused",
    "erasure.blocked": "An erasure was blocked by a legal hold",
    "erasure.approve": "Approved an erasure",
    "erasure.reject": "Rejected an erasure",
    "erasure.cancel_requested": "Asked a running erasure to stop",
    "erasure.cancel": "An erasure was cancelled",
    "erasure.resume": "Resumed an erasure",
    "erasure.pseudonymise": "Pseudonymised an erased chat user and wrote their tombstone",
    "erasure.complete": "An erasure completed (residue check passed)",
    "erasure.fail": "An erasure failed",
    "erasure.export": "Exported a data subject's data",
    "erasure.certificate": "Issued an erasure certificate",
    # dashboard.web.middleware's safety net: a refused web request that no action recorded.
    "request.refused": "A state-changing web request was refused",
    "api_token.create": "Created an API token",
    "api_token.revoke": "Revoked an API token",
    "api_token.refused": "An API token action was refused",
}

# The name of the API token the current call came through (chatdata.api_tokens); every entry
# written meanwhile carries it, so the API's twins of the web's actions need no extra argument.
_api_token_name = ContextVar("api_token_name", default="")


@contextmanager
def through_api_token(name):
    reset = _api_token_name.set(name or "")
    try:
        yield
    finally:
        _api_token_name.reset(reset)


HASHED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_name",
    "role",
    "action",
    "target",
    "scope",
    "counts",
    "purge_request_id",
    "reason",
    "ticket",
    "ip",
    "prev_hash",
)


def _canonical(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def entry_hash(entry):
    """sha256 over the canonical JSON of the entry's fields (including the previous hash)."""
    document = {name: _canonical(getattr(entry, name)) for name in HASHED_FIELDS}
    if getattr(entry, "api_token", ""):
        # Only when set: entries from before the column (and from the web) hash as they always did.
        document["api_token"] = entry.api_token
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def role_label(user):
    held = roles.roles_of(user) if user is not None else frozenset()
    return ",".join(sorted(held))


def lock_chain():
    """Take the chain's append lock until the transaction ends (PostgreSQL; a no-op on SQLite,
    whose single writer serializes appends anyway). Call inside transaction.atomic() to read the
    log and then append to it without another writer slipping in between."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])


# No savepoint inside the caller's transaction (two round trips less per entry): an entry that
# fails to be written fails the caller's transaction with it, as the action must not commit without it.
@transaction.atomic(savepoint=False)
def write_audit(
    action,
    *,
    actor,
    target="",
    scope=None,
    counts=None,
    purge_request=None,
    reason="",
    ticket="",
    ip=None,
    role=None,
):
    """Append one entry to the chain inside the caller's transaction; returns it.

    `actor` is a staff User, or None for the system (a worker finishing a run).
    """
    lock_chain()
    last = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
    entry = AuditEntry(
        # Microseconds survive both databases, so the hash recomputes exactly from the stored row.
        created_at=timezone.now(),
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "system",
        role=role if role is not None else (role_label(actor) if actor is not None else "system"),
        action=action,
        target=target[:255],
        scope=scope,
        counts=counts,
        purge_request_id=getattr(purge_request, "pk", purge_request),
        reason=reason or "",
        ticket=ticket or "",
        # Normalized as the column will store it, or the hash would not recompute.
        ip=AuditEntry._meta.get_field("ip").get_prep_value(ip or None),
        api_token=_api_token_name.get()[:100],
        prev_hash=last or GENESIS,
    )
    entry.hash = entry_hash(entry)
    entry.save(force_insert=True)
    if (counter := _writes.get()) is not None:
        counter.count += 1
    from chatdata.witness import witness_after_commit  # here: chatdata.witness imports this module

    witness_after_commit()
    return entry


def audit_refusal(action, reason, *, actor, **fields):
    """Record one refused attempt at a state change (`reason`: the sentence the person was
    given). Call it outside the transaction that refused, or its rollback takes the entry along.
    Nothing is written without an actor: an anonymous attempt never reaches an action (the web
    sends it to the login page) and must not let anyone grow the log."""
    if actor is None:
        return None
    with transaction.atomic():
        return write_audit(action, actor=actor, reason=reason, **fields)


@dataclass
class WriteCounter:
    count: int = 0


_writes = ContextVar("audit_writes", default=None)


@contextmanager
def counting_writes():
    """Count the entries this thread appends inside the block (also those whose transaction is
    later rolled back: it counts attempts to record, which is what the safety net asks)."""
    counter = WriteCounter()
    token = _writes.set(counter)
    try:
        yield counter
    finally:
        _writes.reset(token)


def chain_problem(entry, previous_hash):
    """What is wrong with `entry` coming after an entry hashed `previous_hash`, or ""."""
    if entry.prev_hash != previous_hash:
        return f"entry #{entry.pk} does not follow the entry before it (one was removed or inserted)"
    if entry_hash(entry) != entry.hash:
        return f"entry #{entry.pk} was altered: its hash does not match its fields"
    return ""


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""
    witness: object = None  # chatdata.witness.WitnessCheck

    def as_dict(self):
        return {
            "ok": self.ok, "checked": self.checked, "first_bad_id": self.first_bad_id, "problem": self.problem,
            "witness": self.witness.as_dict() if self.witness else None,
        }


def with_witness(report, witness):
    """`report` (of the chain's own links) completed by the comparison with its witness."""
    if witness.ok:
        return replace(report, witness=witness)
    if report.ok:
        return replace(report, ok=False, first_bad_id=witness.first_bad_id, problem=witness.message, witness=witness)
    return replace(report, problem=f"{report.problem}; and {witness.message}", witness=witness)


def verify_chain(chunk_size=2000, *, last=None):
    """Walk the log in id order, then compare it with the newest witness of its head; the report
    names the first entry that breaks the chain, or what the witness saw that is missing.

    `last=N` checks only the newest N entries (the one before them only anchors the first link,
    unless they reach back to the first entry ever): a few milliseconds, for the audit page's
    status line, where the whole walk is for `manage.py verify_audit` and the verify page."""
    from chatdata.witness import check_witness

    previous = GENESIS
    if last is None:
        entries = AuditEntry.objects.order_by("id").iterator(chunk_size=chunk_size)
    else:
        entries = list(AuditEntry.objects.order_by("-id")[: last + 1])
        entries.reverse()
        if len(entries) > last:
            previous = entries.pop(0).hash
    checked = 0
    report = None
    for entry in entries:
        if problem := chain_problem(entry, previous):
            report = ChainReport(False, checked, entry.pk, problem)
            break
        previous = entry.hash
        checked += 1
    return with_witness(report or ChainReport(True, checked), check_witness())
