"""Tombstones: what was erased, or deleted for everyone, stays so.

A tombstone records keyed hashes of external ids (`key_hash(kind, external_id)`: HMAC-SHA256 with
settings.ERASURE_PSEUDONYM_KEY over "<kind>\\0<external id>", its first 63 bits as a number),
never the ids themselves: the table says "this id is gone" to whoever holds the key (an import
checking a line) and nothing to anyone reading the database. 63 bits keep the index small; two
ids share a key with a chance of one in 10^18 per pair, and the cost of a collision is one import
line refused as erased that was not. Two kinds:
- `user`: an erased chat user (chatdata.erasure.steps writes it as it pseudonymises the row);
- `message`: every message deleted for everyone by any purge. chatdata.purge.effects.delete_messages
  calls `bury_keys` in the batch transaction that deletes the rows, with the external ids the
  message DELETE returned, so the tombstones exist exactly when the deletion committed: a row per
  JOURNAL_ROW_KEYS of the batch's keys (chatdata.models.erasure says why not a row per message).
  The hashes are computed here in Python, no pgcrypto, so the key never travels to the database
  server; a batch hashes on a thread (`hash_later`) while its last statements run. A batch redone
  after a crash writes its keys again: harmless, a lookup only asks whether a key is there.

The journal. A batch's rows are written with `indexed = false`, outside the GIN index (partial,
`WHERE indexed`), and `fold_journal` indexes them after the run, one row (at most 2,000 keys) per
short transaction, paced like the batches. Inserting 6,000 random keys into the GIN index inside
the batch was a tree descent and a WAL record per key into an index that only grows, and after
every checkpoint a full-page image of nearly each leaf it touched: with 2.2 million keys stored, a
200,000-message purge wrote 41 MB of WAL for its tombstones against 26 MB for its deletes, 2.3 s
of its batches' 3.8 s in the database, the first batch's insert alone 250 ms and 12 MB (EXPLAIN
(ANALYZE, WAL), bench/README.md). The unindexed rows cost about 2 ms and 50 KB a batch. The
guarantee does not change: the keys commit with the deletion; until folded they are found by
scanning the journal, which `_look_up` reads in the same statement (one snapshot) as the index,
so a fold committing meanwhile cannot hide a key from both. The journal is empty between runs; a
run that died before folding leaves rows that the next fold (any purge's) indexes.

The HMAC uses precomputed inner and outer pads (what hmac.new does on every call, and
hmac.digest's OpenSSL path was slower still, measured): a third of the time per id.
"""

import hashlib
import hmac
import json
import threading
import time
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction

from chatdata.models import Tombstone

USER = Tombstone.Kind.USER.value
MESSAGE = Tombstone.Kind.MESSAGE.value
LOOKUP_CHUNK = 2_000
# Keys per journal row: a fold step indexes one row in one transaction (2,000 keys: about a third
# of what a whole batch's 6,000 took inside the batch, FPIs included).
JOURNAL_ROW_KEYS = 2_000
# fold_journal never lets a step look stalled: at most this much pause after one.
FOLD_MAX_PAUSE = 2.0


@lru_cache(maxsize=4)
def _pads(key):
    raw = key.encode("utf-8")
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(64, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in raw)), hashlib.sha256(bytes(b ^ 0x5C for b in raw))


def _hasher():
    inner, outer = _pads(settings.ERASURE_PSEUDONYM_KEY)

    def digest(data):
        i = inner.copy()
        i.update(data)
        o = outer.copy()
        o.update(i.digest())
        return o.digest()

    return digest


def _key(digest):
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: a positive bigint, exact in JSON


def key_hash(kind, external_id):
    """The tombstone key of an external id: the first 63 bits of its HMAC-SHA256, for `kind`."""
    return _key(_hasher()(f"{kind}\0{external_id}".encode("utf-8")))


def key_hashes(kind, external_ids):
    digest = _hasher()
    prefix = f"{kind}\0".encode()
    return [_key(digest(prefix + external_id.encode("utf-8"))) for external_id in external_ids]


def pseudonym(external_id):
    """The keyed-hash pseudonym an erased user's row takes (external id and display name)."""
    return "erased-" + hmac.new(
        settings.ERASURE_PSEUDONYM_KEY.encode("utf-8"), f"pseudonym\0{external_id}".encode("utf-8"), hashlib.sha256
    ).hexdigest()[:32]


def _insert(cursor, kind, rows, now, *, indexed=True):
    """One tombstone row per JSON array in `rows` (one statement)."""
    if not rows:
        return
    postgres = connection.vendor == "postgresql"
    cast = "CAST(%s AS jsonb)" if postgres else "%s"
    # SQLite has no index to fold into: its rows are written indexed.
    indexed = indexed or not postgres
    cursor.execute(
        "INSERT INTO chatdata_tombstone (kind, erased_at, keys, indexed) VALUES "
        + ", ".join([f"(%s, %s, {cast}, %s)"] * len(rows)),
        [value for keys_json in rows for value in (kind, now, keys_json, indexed)],
    )


def _journal_rows(kind, external_ids):
    """The sorted keys of `external_ids` as JSON arrays of at most JOURNAL_ROW_KEYS each (a fold
    step indexes one row: this bounds its transaction)."""
    keys = sorted(key_hashes(kind, external_ids))
    return [json.dumps(keys[i : i + JOURNAL_ROW_KEYS]) for i in range(0, len(keys), JOURNAL_ROW_KEYS)]


def hash_later(kind, external_ids):
    """Start hashing `external_ids` on a thread; returns a function giving what bury_keys takes.
    The batch's remaining statements wait on the database meanwhile (the GIL is free then): the
    5 to 15 ms of hashing a 6,000-message batch leave its transaction."""
    box = {}

    def work():
        try:
            box["keys"] = _journal_rows(kind, external_ids)
        except BaseException as exc:  # handed to the batch, which fails with it
            box["error"] = exc

    if len(external_ids) < 500:  # not worth a thread
        work()
    else:
        thread = threading.Thread(target=work, name="tombstone-keys", daemon=True)
        thread.start()
        box["thread"] = thread

    def result():
        if "thread" in box:
            box.pop("thread").join()
        if "error" in box:
            raise box["error"]
        return box["keys"]

    return result


def bury_keys(cursor, kind, rows, *, now):
    """Write a batch's tombstone rows (the journal: folded into the index after the run) on the
    caller's cursor, in the caller's transaction. `rows` comes from hash_later."""
    _insert(cursor, kind, rows, now, indexed=False)


def bury_messages(cursor, ids, *, now):
    """Write the tombstones of the messages `ids` (about to be deleted for everyone, in the
    caller's transaction, on the caller's cursor) by reading their external ids first."""
    from chatdata.purge.statements import in_ids  # the engine's id match: a range scan for dense batches

    match, params = in_ids("id", ids)
    cursor.execute("SELECT external_id FROM chatdata_message WHERE " + match, params)
    bury_keys(cursor, MESSAGE, _journal_rows(MESSAGE, [row[0] for row in cursor.fetchall()]), now=now)


def fold_journal(*, pause_share=1.0, on_step=None):
    """Index the journal's rows, oldest first, one row per transaction (each about as long as the
    GIN insert of one batch's keys), pausing `pause_share` of each step's time between steps, as
    purge batches do. Safe to run anywhere, any number of times, concurrently (SKIP LOCKED).
    Returns how many rows it indexed."""
    if connection.vendor != "postgresql":
        return 0
    from chatdata.purge import effects

    folded = 0
    while True:
        began = time.monotonic()
        with transaction.atomic():
            effects.commit_asynchronously()  # a crash leaves the row in the journal: nothing lost
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE chatdata_tombstone SET indexed = true WHERE id = ("
                    "SELECT id FROM chatdata_tombstone WHERE NOT indexed ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
                    ") RETURNING id"
                )
                if cursor.fetchone() is None:
                    return folded
        folded += 1
        took = time.monotonic() - began
        if on_step is not None:
            on_step(took)
        if pause_share:
            time.sleep(min(took * pause_share, FOLD_MAX_PAUSE))


def bury_user(external_id, *, now):
    with connection.cursor() as cursor:
        _insert(cursor, USER, [json.dumps([key_hash(USER, external_id)])], now)


def _look_up(kind, keys):
    """{key: earliest erased_at} for those of `keys` with a tombstone of `kind`."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One GIN probe per key into the indexed rows. The planner, seeing few rows, would
            # rather scan them, and unpack every batch's array for every key (tens of ms each):
            # the index it is. The journal's rows (not indexed yet, few: see above) are unpacked
            # once and hash-joined, in the same statement: one snapshot for both.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(
                "WITH asked AS (SELECT DISTINCT key FROM unnest(%s::bigint[]) AS k(key)), "
                "journal AS (SELECT a.key, min(t.erased_at) AS erased_at FROM chatdata_tombstone t "
                "CROSS JOIN LATERAL jsonb_array_elements(t.keys) AS e(value) "
                "JOIN asked a ON a.key = (e.value)::bigint WHERE NOT t.indexed AND t.kind = %s GROUP BY a.key) "
                "SELECT a.key, least(j.erased_at, (SELECT min(t.erased_at) FROM chatdata_tombstone t "
                "WHERE t.indexed AND t.keys @> jsonb_build_array(a.key) AND t.kind = %s)) "
                "FROM asked a LEFT JOIN journal j ON j.key = a.key",
                ["{" + ",".join(map(str, keys)) + "}", kind, kind],
            )
            return {key: moment for key, moment in cursor.fetchall() if moment is not None}
        cursor.execute(
            "SELECT j.value, min(t.erased_at) FROM chatdata_tombstone t, json_each(t.keys) j "
            f"WHERE t.kind = %s AND j.value IN ({', '.join(['%s'] * len(keys))}) GROUP BY j.value",
            [kind, *keys],
        )
        return dict(cursor.fetchall())


def erased_at(kind, external_ids):
    """{external id: erased_at} for those of `external_ids` that have a tombstone of `kind`."""
    found = {}
    external_ids = list(dict.fromkeys(external_ids))
    with transaction.atomic():  # SET LOCAL ends with it
        for start in range(0, len(external_ids), LOOKUP_CHUNK):
            chunk = external_ids[start : start + LOOKUP_CHUNK]
            by_key = {}
            for external_id, key in zip(chunk, key_hashes(kind, chunk)):
                by_key.setdefault(key, []).append(external_id)
            for key, moment in _look_up(kind, list(by_key)).items():
                found.update((external_id, moment) for external_id in by_key[key])
    return found
