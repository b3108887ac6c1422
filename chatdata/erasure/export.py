"""The data subject's export (access and portability): one ZIP, streamed.

    manifest.json     the request, the subject, created_at and by whom, counts, and the sha256
                      and size of every other file in the archive
    data.ndjson       import_chat's format: the subject's user line; each conversation they are in
                      (or sent to), listing the subject as its only member, since the other
                      members are other people's data; every message they sent, with the
                      subject's own reactions on it but never other people's
    reactions.ndjson  every reaction the subject made: message and conversation ids, emoji (the
                      chat data keeps no time for a reaction)
    attachments/      the files of the subject's messages, as `attachments/<attachment id>-<name>`;
                      the manifest maps each to its message

Memory stays flat whatever the subject sent: rows are read with .iterator() in chunks, each line
is written to the archive as it is made, files are copied a chunk at a time, and zipfile writes to
any file object, seekable or not (a streamed HTTP response). Only the manifest's list of files
grows, by one small entry per attachment. `stream_export` yields the archive's bytes as they come
(for a StreamingHttpResponse); `do_export_erasure` writes them to a file. Either one checks who
asks and writes the `erasure.export` audit entry before the first byte leaves.
"""

import hashlib
import json
import posixpath
import zipfile

from django.db import transaction
from django.utils import timezone

from chatdata.erasure.actions import audit_erasure, refuse_erasure
from chatdata.models import Attachment, Conversation, ErasureRequest, Membership, Message, Reaction
from chatdata.permissions import erasure_export_refusal
from chatdata.purge.actions import PurgeRefused

State = ErasureRequest.State
CHUNK = 2_000
FILE_CHUNK = 1 << 20
KIND = "chatsweep data subject export"
# Once the run has begun, an export would show a half-erased subject; before or after it, it is whole.
NOT_WHILE = frozenset({State.RUNNING, State.VERIFYING, State.DONE})


def _too_late(erasure):
    return erasure.state in NOT_WHILE or erasure.subject.erased_at is not None


def export_refusal(actor, erasure):
    if _too_late(erasure):
        erased = "is being erased" if erasure.state in (State.RUNNING, State.VERIFYING) else "has been erased"
        return f"The subject's data {erased}: export it before the erasure is approved."
    return erasure_export_refusal(actor)


def export_filename(erasure):
    return f"erasure-{erasure.pk}-{erasure.subject_pseudonym}-export.zip"


def _line(obj):
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _iso(moment):
    return moment.isoformat() if moment else None


class _Sink:
    """A write-only, unseekable file object collecting what zipfile writes, taken chunk by chunk."""

    def __init__(self):
        self.parts = []
        self.written = 0

    def write(self, data):
        self.parts.append(bytes(data))
        self.written += len(data)
        return len(data)

    def flush(self):
        pass

    def take(self):
        data, self.parts = b"".join(self.parts), []
        return data


class _Entry:
    """One file of the archive, written through zipfile with its sha256 and size kept."""

    def __init__(self, archive, name):
        self.name = name
        self.handle = archive.open(zipfile.ZipInfo(name, date_time=timezone.now().timetuple()[:6]), "w", force_zip64=True)
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.handle.write(data)
        self.sha256.update(data)
        self.size += len(data)

    def close(self, files):
        self.handle.close()
        files[self.name] = {"sha256": self.sha256.hexdigest(), "bytes": self.size}


def _conversations(subject):
    member_of = Membership.objects.filter(user_id=subject.pk).values("conversation_id")
    sent_in = Message.objects.filter(sender_id=subject.pk).values("conversation_id")
    return Conversation.objects.filter(pk__in=member_of).union(Conversation.objects.filter(pk__in=sent_in)).order_by("id")


def _data(archive, subject, files, counts):
    entry = _Entry(archive, "data.ndjson")
    entry.write(_line({"type": "user", "id": subject.external_id, "name": subject.display_name, "created_at": _iso(subject.created_at)}))
    yield
    for conversation in _conversations(subject).iterator(chunk_size=CHUNK):
        entry.write(_line({
            "type": "conversation", "id": conversation.external_id, "kind": conversation.kind, "title": conversation.title,
            "members": [subject.external_id], "created_at": _iso(conversation.created_at),
        }))
        counts["conversations"] += 1
    yield
    messages = (
        Message.objects.filter(sender_id=subject.pk)
        .order_by("sent_at", "id")
        .values_list("id", "external_id", "conversation__external_id", "sent_at", "kind", "body", "payload")
    )
    chunk = []
    for row in messages.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) >= CHUNK:
            _write_messages(entry, subject, chunk, counts)
            chunk = []
            yield
    _write_messages(entry, subject, chunk, counts)
    entry.close(files)
    yield


def _write_messages(entry, subject, rows, counts):
    if not rows:
        return
    own = {}
    for message, emoji in (
        Reaction.objects.filter(user_id=subject.pk, message_id__in=[row[0] for row in rows]).order_by("id").values_list("message_id", "emoji")
    ):
        own.setdefault(message, []).append({"user": subject.external_id, "emoji": emoji})
    for pk, external_id, conversation, sent_at, kind, body, payload in rows:
        line = {
            "type": "message", "id": external_id, "conversation": conversation, "sender": subject.external_id,
            "sent_at": sent_at.isoformat(), "kind": kind, "body": body, "payload": payload,
        }
        if pk in own:
            line["reactions"] = own[pk]
        entry.write(_line(line))
    counts["messages"] += len(rows)


def _reactions(archive, subject, files, counts):
    entry = _Entry(archive, "reactions.ndjson")
    rows = (
        Reaction.objects.filter(user_id=subject.pk)
        .order_by("id")
        .values_list("message__external_id", "message__conversation__external_id", "emoji")
    )
    for n, (message, conversation, emoji) in enumerate(rows.iterator(chunk_size=CHUNK), 1):
        entry.write(_line({"message": message, "conversation": conversation, "emoji": emoji}))
        counts["reactions"] += 1
        if n % CHUNK == 0:
            yield
    entry.close(files)
    yield


def _attachments(archive, subject, files, counts, manifest):
    rows = (
        Attachment.objects.filter(message__sender_id=subject.pk)
        .order_by("id")
        .values_list("id", "file", "content_type", "message__external_id")
    )
    storage = Attachment._meta.get_field("file").storage
    for pk, path, content_type, message in rows.iterator(chunk_size=CHUNK):
        name = f"attachments/{pk}-{posixpath.basename(path) or 'file'}"
        try:
            source = storage.open(path, "rb")
        except OSError:
            manifest["missing_files"].append({"attachment": pk, "message": message, "reason": "not in storage"})
            continue
        entry = _Entry(archive, name)
        with source:
            while data := source.read(FILE_CHUNK):
                entry.write(data)
                yield
        entry.close(files)
        manifest["attachments"].append({"file": name, "message": message, "content_type": content_type})
        counts["attachments"] += 1
        yield


def _archive(erasure, sink, *, actor, counts=None):
    """Write the archive to `sink`, yielding now and then so a stream can pass the bytes on;
    `counts` (a dict) receives what it holds."""
    subject = erasure.subject
    counts = {} if counts is None else counts
    counts.update(conversations=0, messages=0, reactions=0, attachments=0)
    files = {}
    manifest = {
        "export": KIND,
        "version": 1,
        "request": erasure.pk,
        "ticket": erasure.ticket,
        "state": erasure.state,
        "subject": {"id": subject.external_id, "name": subject.display_name, "pseudonym": erasure.subject_pseudonym},
        "created_at": timezone.now().isoformat(),
        "created_by": actor.get_username(),
        "format": "data.ndjson is in `manage.py import_chat` format; reactions.ndjson lists every reaction the subject made.",
        "attachments": [],
        "missing_files": [],
    }
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        yield from _data(archive, subject, files, counts)
        yield from _reactions(archive, subject, files, counts)
        yield from _attachments(archive, subject, files, counts, manifest)
        manifest["counts"] = counts
        manifest["files"] = files
        with archive.open("manifest.json", "w") as handle:
            handle.write(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"))
    yield


def _allow(erasure, actor, ip):
    erasure = ErasureRequest.objects.select_related("subject").get(pk=erasure.pk)
    if message := export_refusal(actor, erasure):
        code = PurgeRefused.BAD_STATE if _too_late(erasure) else PurgeRefused.NOT_PERMITTED
        refuse_erasure(message, code, actor=actor, erasure=erasure, ip=ip)
    counts = {
        "messages": Message.objects.filter(sender_id=erasure.subject_id).count(),
        "reactions": Reaction.objects.filter(user_id=erasure.subject_id).count(),
        "attachments": Attachment.objects.filter(message__sender_id=erasure.subject_id).count(),
    }
    with transaction.atomic():
        audit_erasure("erasure.export", erasure, actor=actor, ip=ip, counts=counts)
    return erasure


def stream_export(erasure, *, actor, ip=None):
    """Check and audit now, then return an iterator of the archive's bytes."""
    erasure = _allow(erasure, actor, ip)

    def chunks():
        sink = _Sink()
        for _ in _archive(erasure, sink, actor=actor):
            if sink.written >= FILE_CHUNK:
                sink.written = 0
                yield sink.take()
        yield sink.take()

    return chunks()


def do_export_erasure(erasure, fileobj, *, actor, ip=None):
    """Write the archive to a binary file object; returns the manifest's counts."""
    erasure = _allow(erasure, actor, ip)
    counts = {}
    sink = _Sink()
    for _ in _archive(erasure, sink, actor=actor, counts=counts):
        fileobj.write(sink.take())
    fileobj.write(sink.take())
    return counts
