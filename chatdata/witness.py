"""The witness of the audit chain's head: what makes cutting the chain short detectable.

The hash chain (chatdata.audit) shows an entry edited, removed or inserted *inside* the chain, not
one taken from its *end*: delete the newest entries, or rewrite the newest one and compute its hash
afresh, and what remains is a consistent chain; empty the table and nothing is left to disagree.
So the head of the chain (its newest id and hash) is written down, as it moves, where the
database cannot reach it, and verification compares the table with the newest record: the
witnessed entry must still be there with the witnessed hash (and by the chain, all before it).

When the head is written:
- after every commit that appended entries (write_audit calls `witness_after_commit`). A failure
  is logged, never raised: the action the entry records has happened;
- every minute by `witness_job`, even when idle (`manage.py rqcron chatdata.cron` enqueues it, a
  worker runs it), catching up a write that failed and dating when the head was still the same;
- with every export of the log, and by `witness_head("certificate")`, which returns the record an
  erasure certificate prints.

Where: in two places, because each survives what the other may not.
- A file (settings.AUDIT_WITNESS_FILE), JSON lines `{"at", "id", "hash", "reason"}`, opened for
  appending only and fsync'd. It lives on the application's host, owned by its OS user: the
  database role, however privileged inside PostgreSQL, cannot rewrite it, and it survives losing
  Redis. It does not survive losing that disk, and several hosts each keep their own.
- Redis (the list REDIS_KEY, newest first, a week of minutes), when REDIS_URL names a server:
  shared by every host of a deployment, outside the database as well; a FLUSHDB or a restart
  without persistence loses it.
Verification checks the newest record of each. Whoever holds the application's OS account or
Redis can rewrite them: ship the file off the host (README) where that matters.

A witness never follows a chain that lost what it saw. Before recording a new head, `witness_head`
checks the newest record of each witness against the table (the entry is there with that hash and
the entries after it link up to the head); otherwise whoever cut the tail would only wait a minute
for the cut head to be witnessed. It refuses (WitnessRefused, logged as an error, failing the
minute job) until an operator moves the contradicted witness aside after a deliberate restore.

Only committed heads are witnessed: `witness_head` refuses to run inside a transaction (a durable
atomic block checks) and the on-commit write runs after the commit. write_audit's advisory lock
makes ids follow the chain, so the head only grows; two processes may still append their records
in the other order, so the newest record is the highest id among the last ones, not the last line.
"""

import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry

from chatdata.audit import chain_problem
from chatdata.models import AuditEntry

logger = logging.getLogger(__name__)

REDIS_KEY = "chatsweep:audit-witness"
REDIS_KEEP = 7 * 24 * 60
RECENT = 16  # records looked at for the newest: more than processes appending at once
PAGE = 500
TAIL_BYTES = RECENT * 160
HASH = re.compile(r"[0-9a-f]{64}")


class WitnessUnreadable(Exception):
    pass


class WitnessRefused(Exception):
    """The table contradicts a witness: recording its head now would hide that."""


@dataclass(frozen=True)
class Witness:
    at: datetime
    id: int
    hash: str
    reason: str
    source: str

    @classmethod
    def parse(cls, text, source):
        document = json.loads(text)
        at, pk, digest = datetime.fromisoformat(document["at"]), document["id"], document["hash"]
        if type(pk) is not int or not 1 <= pk < 2**63 or not HASH.fullmatch(digest) or at.tzinfo is None:
            raise ValueError("not a witness record")
        return cls(at, pk, digest, str(document.get("reason", "")), source)

    def line(self):
        document = {"at": self.at.isoformat(), "id": self.id, "hash": self.hash, "reason": self.reason}
        return json.dumps(document, separators=(",", ":"))

    def describe(self):
        return f"{self.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, {self.source}"

    def as_dict(self):
        return {"at": self.at.isoformat(), "id": self.id, "hash": self.hash, "source": self.source}


def _newest(texts, source):
    records, unparsed = [], 0
    for text in texts:
        try:
            records.append(Witness.parse(text, source))
        except (ValueError, KeyError, TypeError, AttributeError):
            unparsed += 1
    if not records and unparsed:
        raise WitnessUnreadable(f"{source} could not be read: none of its last {unparsed} records is a witness record")
    return max(records, key=lambda record: record.id, default=None)


class FileWitness:
    def __init__(self, path):
        self.path = Path(path)
        self.name = f"the audit witness file {self.path}"

    def newest(self):
        try:
            with open(self.path, "rb") as file:
                size = file.seek(0, os.SEEK_END)
                file.seek(max(0, size - TAIL_BYTES))
                lines = file.read().split(b"\n")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise WitnessUnreadable(f"{self.name} could not be read ({exc.strerror})") from None
        if size > TAIL_BYTES:
            lines = lines[1:]  # the first one is cut
        return _newest([line for line in lines if line.strip()][-RECENT:], self.name)

    def append(self, record):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)  # read: its last byte
        try:
            size = os.fstat(fd).st_size
            # A record cut short by a crash must not swallow this one.
            start = b"\n" if size and os.pread(fd, 1, size - 1) != b"\n" else b""
            os.write(fd, start + record.line().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)


_clients = {}


class RedisWitness:
    name = f"Redis (key {REDIS_KEY})"

    def _client(self):
        url = settings.REDIS_URL
        if url not in _clients:
            # Short timeouts and no retries: a Redis that is down must not hold up the request that
            # just committed for long; the file still takes the record, the minute job catches up.
            _clients[url] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        return _clients[url]

    def newest(self):
        try:
            raw = self._client().lrange(REDIS_KEY, 0, RECENT - 1)
        except redis.RedisError as exc:
            raise WitnessUnreadable(f"{self.name} could not be read ({exc})") from None
        return _newest(raw, self.name)

    def append(self, record):
        with self._client().pipeline() as pipeline:
            pipeline.lpush(REDIS_KEY, record.line()).ltrim(REDIS_KEY, 0, REDIS_KEEP - 1).execute()


def witnesses():
    return [FileWitness(settings.AUDIT_WITNESS_FILE)] + ([RedisWitness()] if settings.REDIS_URL else [])


def _read(sources):
    """{source: its newest record or None}; the records among them, the same one from several
    witnesses named once with all its sources; the messages of those that could not be read."""
    newest, unreadable, distinct = {}, [], {}
    for source in sources:
        try:
            newest[source] = record = source.newest()
        except WitnessUnreadable as exc:
            unreadable.append(str(exc))
            continue
        if record is not None:
            key = (record.id, record.hash)
            if key in distinct:
                record = Witness(record.at, record.id, record.hash, record.reason, f"{distinct[key].source} and {record.source}")
            distinct[key] = record
    return newest, sorted(distinct.values(), key=lambda record: record.id), unreadable


def contradiction(record):
    """None while the table holds the witnessed entry with its hash; else (first id missing or
    changed, or None for an empty table; a sentence naming what is missing)."""
    found = AuditEntry.objects.filter(pk=record.id).values_list("hash", flat=True).first()
    if found == record.hash:
        return None
    seen = f"the newest witness ({record.describe()}) saw the chain up to #{record.id} with hash {record.hash[:16]}…"
    if found is not None:
        return record.id, f"entry #{record.id}'s hash differs from the witness: {seen}, the table has {found[:16]}…"
    before = AuditEntry.objects.filter(pk__lt=record.id).aggregate(top=Max("id"))["top"]
    if before is None:
        if not AuditEntry.objects.exists():
            return None, f"the audit log is empty, but {seen}: every entry up to #{record.id} is missing"
        return None, f"every entry up to #{record.id} is missing: {seen}"
    missing = f"entry #{record.id} is missing" if before + 1 == record.id else f"entries #{before + 1} to #{record.id} are missing"
    return before + 1, f"{missing}: {seen}"


def _walk_from(records):
    """The table from the oldest of `records` (the newest record of each witness) to its head, in
    one pass: (what contradicts the records, the head as (id, hash) or None). One query while the
    witness is a few entries behind, as after a commit; more only to name what went wrong."""
    if not records:
        return [], AuditEntry.objects.order_by("-id").values_list("id", "hash").first()
    wanted = {record.id for record in records}
    found, problems, previous, head, after = {}, [], None, None, records[0].id - 1
    while True:
        page = list(AuditEntry.objects.filter(pk__gt=after).order_by("id")[:PAGE])
        for entry in page:
            if previous is not None and not problems and (problem := chain_problem(entry, previous)):
                problems.append(f"{problem}, after the newest witness ({records[0].describe()})")
            if entry.pk in wanted:
                found[entry.pk] = entry.hash
            previous, head = entry.hash, (entry.pk, entry.hash)
        if len(page) < PAGE:
            break
        after = page[-1].pk
    missing = [contradiction(record)[1] for record in records if found.get(record.id) != record.hash]
    return missing + problems, head


def witness_head(reason="certificate"):
    """Record the chain's committed head in every witness and return the record (None while the
    log is empty): for the erasure certificate to print, and for the minute job. Refuses to run
    inside a transaction (RuntimeError). Raises WitnessRefused when the table contradicts a
    witness, OSError or RedisError when no witness could take the record."""
    with transaction.atomic(durable=True):  # nested in a transaction it would see uncommitted entries
        pass
    return _witness(reason)


def _witness(reason, *, only_if_new=False):
    """`only_if_new` skips the witnesses that hold the head already (the on-commit writes after a
    transaction's first entry)."""
    sources = witnesses()
    newest, records, unreadable = _read(sources)
    problems, head = _walk_from(records)
    if problems:
        raise WitnessRefused("; ".join(problems))
    for message in unreadable:
        logger.error("%s; recording the audit chain's head there anyway", message)
    if head is None:
        return None
    record = Witness(timezone.now(), head[0], head[1], reason, "")
    written, failures = [], []
    for source in sources:
        if only_if_new and newest.get(source) is not None and newest[source].id >= record.id:
            continue
        try:
            source.append(record)
            written.append(source.name)
        except (OSError, redis.RedisError) as exc:
            logger.error("could not write %s: %s", source.name, exc)
            failures.append(exc)
    if failures and not written:
        raise failures[0]
    return Witness(record.at, record.id, record.hash, reason, " and ".join(written))


def _witness_quietly(reason):
    """After a commit (so outside any transaction): never raises, logs instead."""
    try:
        _witness(reason, only_if_new=reason == "commit")
    except WitnessRefused as exc:
        logger.error("not witnessing the audit chain: %s", exc)
    except Exception:
        logger.exception("could not witness the audit chain's head")


def witness_after_commit(reason="commit"):
    """Witness the head once the current transaction commits (at once outside one); never raises.
    For a transaction that wrote several entries only the first write finds something new."""
    transaction.on_commit(lambda: _witness_quietly(reason))


def witness_job():
    """Run every minute (chatdata/cron.py). A contradicted witness fails the job, after the log."""
    try:
        record = witness_head("minute")
    except WitnessRefused as exc:
        logger.error("not witnessing the audit chain: %s", exc)
        raise
    return None if record is None else {"id": record.id, "hash": record.hash}


@dataclass(frozen=True)
class WitnessCheck:
    """How the table compares with the newest record of each witness.

    status: `confirmed` (the witnessed entry is there with its hash), `contradicted` (it is
    missing or different: `message` names what), `absent` (no witness yet: a first run) or
    `unreadable` (none could be read). `warnings`: witnesses that could not be read."""

    status: str
    message: str
    newest: Witness | None = None
    first_bad_id: int | None = None
    warnings: tuple = ()

    @property
    def ok(self):
        return self.status != "contradicted"

    def as_dict(self):
        newest = self.newest.as_dict() if self.newest else {"at": None, "id": None, "hash": None, "source": None}
        return {"status": self.status, "message": self.message, **newest, "warnings": list(self.warnings)}


def check_witness():
    """Compare the table with the newest record of each witness (DESIGN.md invariant 4)."""
    _, records, unreadable = _read(witnesses())
    found = [problem for record in records if (problem := contradiction(record))]
    newest = records[-1] if records else None
    if found:
        firsts = [first for first, _ in found if first is not None]
        message = "; ".join(message for _, message in found)
        return WitnessCheck("contradicted", message, newest, min(firsts, default=None), tuple(unreadable))
    if newest:
        message = f"the chain reaches the newest witness: entry #{newest.id} with hash {newest.hash[:16]}… ({newest.describe()})"
        return WitnessCheck("confirmed", message, newest, warnings=tuple(unreadable))
    if unreadable:
        message = "; ".join(unreadable) + ": the chain was not compared with a witness of its head"
        return WitnessCheck("unreadable", message, warnings=tuple(unreadable))
    return WitnessCheck("absent", (
        "no witness of the chain's head exists yet (a first run?): the chain is consistent in itself, but a cut tail "
        "or a re-hashed newest entry would not show until chatsweep has written one (after each commit to the log, "
        "and every minute through manage.py rqcron chatdata.cron)"
    ))
