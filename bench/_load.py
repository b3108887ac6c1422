"""Bulk loader for the purge benchmark: a synthetic chat service in PostgreSQL, loaded with COPY.

The layout is deterministic, so every reload gives the same rows with the same ids:

- `users` chat users; `others` small conversations (2-8 members) beside one big group
  conversation, `bench-target`, that holds the `messages` messages the benchmark purges.
- Messages of the target and of the other conversations are interleaved in id order (one other
  message after every `OTHER_EVERY` target messages), as in a live service, so the purge walks a
  table where its rows are not contiguous. sent_at grows with the id.
- Children, for every message whatever its conversation: a reaction on 20%, an attachment row
  plus a real small file in MEDIA_ROOT on 5%, a per-user hide on 3%, a pending delivery on 4%
  (chosen by a hash of the id, independently of each other and of the conversation).

Everything is loaded in one transaction after a TRUNCATE, with COPY ... FREEZE: the rows arrive
frozen with their hint bits set, so the first purge after a load does not pay for setting them
(and the three strategies being compared start from the same physical state). Files are written
only when missing: a reload after a run that removed them puts back exactly those. The load ends
with a CHECKPOINT and a sync(2), so no strategy is measured while the loader's own writes reach
the disk.
"""

import io
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TARGET_EXTERNAL_ID = "bench-target"
OTHER_EVERY = 4  # one out-of-scope message after every 4 target messages: 1M target -> 250k others
TARGET_MEMBERS = 200
CHAT_TABLES = [
    "chatdata_pendingdelivery",
    "chatdata_reaction",
    "chatdata_messagehide",
    "chatdata_attachment",
    "chatdata_message",
    "chatdata_membership",
    "chatdata_conversation",
    "chatdata_syncevent",
    "chatdata_chatuser",
]


@dataclass(frozen=True)
class Layout:
    messages: int  # in the target conversation (the scope)
    users: int = 2_000
    others: int = 500  # other conversations (out of scope)

    @property
    def other_messages(self):
        return self.messages // OTHER_EVERY

    @property
    def total_messages(self):
        return self.messages + self.other_messages

    def conversation_of(self, message_id):
        """1 is the target; 2..others+1 are the other conversations."""
        if message_id % (OTHER_EVERY + 1) == 0:
            return 2 + (message_id // (OTHER_EVERY + 1)) % self.others
        return 1

    def members(self, conversation_id):
        if conversation_id == 1:
            return list(range(1, TARGET_MEMBERS + 1))
        size = 2 + conversation_id % 7
        first = (conversation_id * 37) % self.users
        return [(first + k * 13) % self.users + 1 for k in range(size)]


def _bucket(mid, salt):
    """A well-mixed 0..99 per message, so children fall on target and other messages alike."""
    return ((mid * 2654435761 + salt * 40503) >> 7) % 100


def has_reaction(mid):
    return _bucket(mid, 1) < 20


def has_attachment(mid):
    return _bucket(mid, 2) < 5


def has_hide(mid):
    return _bucket(mid, 3) < 3


def has_pending(mid):
    return _bucket(mid, 4) < 4


def attachment_name(mid):
    return f"attachments/bench/{mid // 1000:04d}/{mid}.txt"


def attachment_content(mid):
    return f"bench attachment of message {mid}\n".encode()


def _copy(cur, table, columns, rows):
    """COPY rows (tuples of already-escaped text) into table, in ~8 MB chunks."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FREEZE)"
    with cur.copy(sql) as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(row))
            buffer.write("\n")
            if buffer.tell() > 8_000_000:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def _ts(seconds):
    return datetime.fromtimestamp(T0.timestamp() + seconds, UTC).isoformat()


def _message_rows(layout):
    for mid in range(1, layout.total_messages + 1):
        conv = layout.conversation_of(mid)
        members = layout.members(conv)
        sender = members[mid % len(members)]
        kind = "file" if has_attachment(mid) else "text"
        yield (str(mid), f"bm{mid}", str(conv), str(sender), _ts(mid), kind, f"bench message {mid} hello world", "{}")


def _children(layout, predicate, make):
    for mid in range(1, layout.total_messages + 1):
        if predicate(mid):
            members = layout.members(layout.conversation_of(mid))
            yield make(mid, members[(mid * 7 + 1) % len(members)])


def load(dsn, layout, media_root, *, log=print):
    """Replace all chat data in the database at `dsn` with `layout`; return {table: rows}."""
    started = time.monotonic()
    counts = {}
    stamp = T0.isoformat()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(CHAT_TABLES)} RESTART IDENTITY CASCADE")
        users = [(str(u), f"bu{u}", f"Bench user {u}", stamp) for u in range(1, layout.users + 1)]
        _copy(cur, "chatdata_chatuser", ["id", "external_id", "display_name", "created_at"], users)
        conversations = [("1", TARGET_EXTERNAL_ID, "group", "Benchmark target", stamp)]
        conversations += [(str(c), f"bc{c}", "group", f"Other {c}", stamp) for c in range(2, layout.others + 2)]
        _copy(cur, "chatdata_conversation", ["id", "external_id", "kind", "title", "created_at"], conversations)
        memberships = [
            (str(c), str(u), stamp, "f") for c in range(1, layout.others + 2) for u in layout.members(c)
        ]
        _copy(cur, "chatdata_membership", ["conversation_id", "user_id", "joined_at", "hidden"], memberships)
        _copy(
            cur,
            "chatdata_message",
            ["id", "external_id", "conversation_id", "sender_id", "sent_at", "kind", "body", "payload"],
            _message_rows(layout),
        )
        _copy(cur, "chatdata_reaction", ["message_id", "user_id", "emoji"],
              _children(layout, has_reaction, lambda m, u: (str(m), str(u), "👍")))
        _copy(cur, "chatdata_attachment", ["message_id", "file", "size", "content_type"],
              _children(layout, has_attachment,
                        lambda m, u: (str(m), attachment_name(m), str(len(attachment_content(m))), "text/plain")))
        _copy(cur, "chatdata_messagehide", ["message_id", "user_id", "created_at"],
              _children(layout, has_hide, lambda m, u: (str(m), str(u), stamp)))
        _copy(cur, "chatdata_pendingdelivery", ["message_id", "user_id", "queued_at"],
              _children(layout, has_pending, lambda m, u: (str(m), str(u), stamp)))
        # last_message_at as the chat service keeps it; identity sequences past the explicit ids.
        cur.execute(
            "UPDATE chatdata_conversation c SET last_message_at = m.last FROM "
            "(SELECT conversation_id, max(sent_at) AS last FROM chatdata_message GROUP BY conversation_id) m "
            "WHERE m.conversation_id = c.id"
        )
        for table in ["chatdata_chatuser", "chatdata_conversation", "chatdata_message"]:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        for table in CHAT_TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
    loaded = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) " + ", ".join(CHAT_TABLES))
        conn.execute("CHECKPOINT")
    vacuumed = time.monotonic()
    written = write_files(layout, media_root)
    files_done = time.monotonic()
    # The kernel writes dirty pages back about 30 s after they were written (vm.dirty_expire_centisecs):
    # without this, the files just written went to disk in the middle of the next measurement.
    os.sync()
    rows = sum(counts.values())
    log(
        f"loaded {rows:,} rows in {loaded - started:.1f} s ({rows / (loaded - started):,.0f} rows/s), "
        f"vacuum+checkpoint {vacuumed - loaded:.1f} s, {written:,} files written in {files_done - vacuumed:.1f} s, "
        f"sync {time.monotonic() - files_done:.1f} s"
    )
    return counts


def write_files(layout, media_root):
    written = 0
    made = set()
    for mid in filter(has_attachment, range(1, layout.total_messages + 1)):
        path = os.path.join(media_root, attachment_name(mid))
        if os.path.exists(path):
            continue
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        with open(path, "wb") as f:
            f.write(attachment_content(mid))
        written += 1
    return written


def other_expectations(layout):
    """What must survive any purge of the target: rows and files of the other conversations."""
    others = [mid for mid in range(1, layout.total_messages + 1) if layout.conversation_of(mid) != 1]
    children = sum(f(mid) for mid in others for f in (has_reaction, has_attachment, has_hide, has_pending))
    return {"other_messages_left": len(others), "other_children_left": children,
            "other_files_left": sum(map(has_attachment, others))}


def count_files(layout, media_root, conversation_id=None):
    """Attachment files present on disk, optionally only of one conversation's messages."""
    return sum(
        1
        for mid in filter(has_attachment, range(1, layout.total_messages + 1))
        if (conversation_id is None or layout.conversation_of(mid) == conversation_id)
        and os.path.exists(os.path.join(media_root, attachment_name(mid)))
    )
