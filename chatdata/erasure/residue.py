"""The independent residue check: is anything of the data subject left, outside legal holds?

Deliberately its own SQL, sharing nothing with the engine's predicates (chatdata.purge.predicates)
or with the steps that did the deleting: a mistake in those must not hide itself by being
asked the same question twice. It looks in every chat table, in media storage and in the delivery
and sync queues, by the subject's row id, and counts per table (RESIDUE_KEYS):

  messages            messages the subject sent
  attachments         attachment rows of those messages
  files               the subject's attachment files (paths recorded before the run) still in storage
  file_outbox         of those, files still queued for removal
  reactions, hides, pending_deliveries, memberships
                      rows of the subject anywhere
  sync_events         the subject's own sync events
  chat_user           1 unless the subject's row carries the pseudonyms and erased_at
  peer_conversations  with peer_conversations=delete: the subject's peer conversations still there
  purge_samples       the erasure's purges still showing samples of messages in their previews

"Outside legal holds" is written out here too: a message is held while an active hold covers it
(a user hold on its sender, a conversation hold on its conversation, each in its window), and
what hangs on a held message (its attachment and file, reactions, hides, deliveries) or belongs to a
conversation under an active conversation hold (a membership, the conversation) is held with it.
Anything but zero makes the request `failed`, never `done`.

`kept` says what stays and why, for the certificate: per hold, what of the subject it keeps, and
the messages other people sent in the subject's conversations (never the subject's data).
"""

from dataclasses import dataclass

from django.db import connection

from chatdata.models import Attachment, ErasureFile, LegalHold

RESIDUE_KEYS = (
    "messages", "attachments", "files", "file_outbox", "reactions", "hides", "pending_deliveries",
    "memberships", "sync_events", "chat_user", "peer_conversations", "purge_samples",
)
DELETED_KEYS = ("messages", "attachments", "reactions", "hides", "pending_deliveries", "memberships", "conversations", "sync_events")
CHUNK = 1_000

# A message is held (the engine's rule, written out again on purpose: see above).
HELD = (
    "EXISTS (SELECT 1 FROM chatdata_legalhold h WHERE h.released_at IS NULL"
    " AND ((h.kind = 'user' AND h.user_id = {m}.sender_id) OR (h.kind = 'conversation' AND h.conversation_id = {m}.conversation_id))"
    " AND (h.start IS NULL OR {m}.sent_at >= h.start) AND (h.\"end\" IS NULL OR {m}.sent_at < h.\"end\"))"
)
CONVERSATION_HELD = (
    "EXISTS (SELECT 1 FROM chatdata_legalhold h WHERE h.released_at IS NULL AND h.kind = 'conversation'"
    " AND h.conversation_id = {c})"
)


def _rows_of_subject(table):
    return (
        f"SELECT count(*) FROM {table} x JOIN chatdata_message m ON m.id = x.message_id "
        f"WHERE x.user_id = %(subject)s AND NOT {HELD.format(m='m')}"
    )


QUERIES = {
    "messages": f"SELECT count(*) FROM chatdata_message m WHERE m.sender_id = %(subject)s AND NOT {HELD.format(m='m')}",
    "attachments": (
        "SELECT count(*) FROM chatdata_attachment a JOIN chatdata_message m ON m.id = a.message_id "
        f"WHERE m.sender_id = %(subject)s AND NOT {HELD.format(m='m')}"
    ),
    "reactions": _rows_of_subject("chatdata_reaction"),
    "hides": _rows_of_subject("chatdata_messagehide"),
    "pending_deliveries": _rows_of_subject("chatdata_pendingdelivery"),
    "memberships": (
        "SELECT count(*) FROM chatdata_membership x WHERE x.user_id = %(subject)s "
        f"AND NOT {CONVERSATION_HELD.format(c='x.conversation_id')}"
    ),
    "sync_events": "SELECT count(*) FROM chatdata_syncevent WHERE user_id = %(subject)s",
    # A hold on the subject keeps their row with their held messages (ErasureRequest.outside_holds).
    "chat_user": (
        "SELECT count(*) FROM chatdata_chatuser WHERE id = %(subject)s "
        "AND (external_id <> %(pseudonym)s OR display_name <> %(pseudonym)s OR erased_at IS NULL) "
        "AND NOT EXISTS (SELECT 1 FROM chatdata_legalhold h WHERE h.released_at IS NULL AND h.kind = 'user' "
        "AND h.user_id = %(subject)s)"
    ),
}


@dataclass(frozen=True)
class Finding:
    residue: dict
    kept: list

    @property
    def clean(self):
        return not any(self.residue.values())


def _count(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _in(column, values):
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def _peer_conversations(erasure):
    peers = erasure.progress.get("peers", [])
    if erasure.peer_conversations != "delete" or not peers:
        return 0
    match, params = _in("c.id", peers)
    return _count(
        f"SELECT count(*) FROM chatdata_conversation c WHERE {match} AND NOT {CONVERSATION_HELD.format(c='c.id')}", params
    )


def _files(erasure):
    """(files still in storage, files still in the outbox) among the subject's recorded
    attachment paths, leaving out those whose message a hold keeps."""
    storage = Attachment._meta.get_field("file").storage
    stored = queued = 0
    last = 0
    while True:
        chunk = list(ErasureFile.objects.filter(request=erasure, id__gt=last).order_by("id").values_list("id", "path", "message_pk")[:CHUNK])
        if not chunk:
            return stored, queued
        last = chunk[-1][0]
        match, params = _in("m.id", [message for _, _, message in chunk])
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT m.id FROM chatdata_message m WHERE {match} AND {HELD.format(m='m')}", params)
            held = {row[0] for row in cursor.fetchall()}
        paths = [path for _, path, message in chunk if message not in held]
        stored += sum(1 for path in paths if storage.exists(path))
        if paths:
            match, params = _in("path", paths)
            queued += _count(f"SELECT count(*) FROM chatdata_fileoutbox WHERE {match}", params)


def check(erasure):
    """Count what is left of the subject, per table (RESIDUE_KEYS), and what is kept and why."""
    params = {"subject": erasure.subject_id, "pseudonym": erasure.subject_pseudonym}
    found = {key: _count(sql, params) for key, sql in QUERIES.items()}
    found["files"], found["file_outbox"] = _files(erasure)
    found["peer_conversations"] = _peer_conversations(erasure)
    found["purge_samples"] = _count(
        "SELECT count(*) FROM chatdata_purgerequest WHERE erasure_id = %s AND preview IS NOT NULL "
        "AND (preview -> 'sample_first' <> '[]'::jsonb OR preview -> 'sample_last' <> '[]'::jsonb)"
        if connection.vendor == "postgresql"
        else "SELECT count(*) FROM chatdata_purgerequest WHERE erasure_id = %s AND preview IS NOT NULL "
        "AND (json_extract(preview, '$.sample_first') <> '[]' OR json_extract(preview, '$.sample_last') <> '[]')",
        [erasure.pk],
    )
    return Finding({key: found[key] for key in RESIDUE_KEYS}, kept(erasure))


def kept(erasure):
    """What stays, and why: each active hold with what of the subject it keeps, then the messages
    other people sent in the subject's conversations."""
    subject = erasure.subject_id
    listed = []
    for hold in LegalHold.objects.filter(released_at__isnull=True).order_by("id"):
        condition = "m.sender_id = %(id)s" if hold.kind == LegalHold.Kind.USER else "m.conversation_id = %(id)s"
        window = " AND (%(start)s::timestamptz IS NULL OR m.sent_at >= %(start)s) AND (%(end)s::timestamptz IS NULL OR m.sent_at < %(end)s)"
        if connection.vendor != "postgresql":
            window = window.replace("::timestamptz", "")
        held = f"SELECT m.id FROM chatdata_message m WHERE {condition}{window}"
        params = {"id": hold.user_id or hold.conversation_id, "start": hold.start, "end": hold.end, "subject": subject}
        counts = {
            "messages": _count(f"SELECT count(*) FROM ({held}) k JOIN chatdata_message m ON m.id = k.id WHERE m.sender_id = %(subject)s", params),
            "reactions": _count(f"SELECT count(*) FROM chatdata_reaction r WHERE r.user_id = %(subject)s AND r.message_id IN ({held})", params),
            "hides": _count(f"SELECT count(*) FROM chatdata_messagehide x WHERE x.user_id = %(subject)s AND x.message_id IN ({held})", params),
            "pending_deliveries": _count(
                f"SELECT count(*) FROM chatdata_pendingdelivery x WHERE x.user_id = %(subject)s AND x.message_id IN ({held})", params
            ),
            "memberships": _count(
                "SELECT count(*) FROM chatdata_membership x WHERE x.user_id = %(subject)s AND x.conversation_id = %(id)s", params
            ) if hold.kind == LegalHold.Kind.CONVERSATION else 0,
        }
        if hold.kind == LegalHold.Kind.USER and hold.user_id == subject:
            counts["chat_user"] = 1  # the subject's row, which their held messages need
        if any(counts.values()):
            listed.append({"hold": hold.pk, "description": hold.describe(), **counts})
    conversations = erasure.progress.get("conversations", [])
    others = 0
    if conversations:
        match, params = _in("m.conversation_id", conversations)
        others = _count(f"SELECT count(*) FROM chatdata_message m WHERE {match} AND m.sender_id <> %s", params + [subject])
    listed.append({
        "kept": "other people's messages",
        "reason": "Messages other people sent in the subject's conversations are kept: they are not the subject's data.",
        "messages": others,
    })
    return listed
