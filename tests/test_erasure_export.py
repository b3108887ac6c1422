"""The data subject's export: what the ZIP holds, that it re-imports as exactly the subject's
messages, who may have it, and (slow) that 100,000 messages stream with flat memory."""

import hashlib
import io
import json
import time
import tracemalloc
import zipfile

import pytest
from django.db import connection

from chatdata.erasure.actions import ErasureRefused, do_approve_erasure, do_open_erasure
from chatdata.erasure.export import do_export_erasure, stream_export
from chatdata.importer import do_import_chat
from chatdata.models import AuditEntry, ChatUser, Conversation, Message, Reaction
from tests.builders import HOUR, T0, ChatWorld, make_conversation, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(db):
    chat = ChatWorld()
    chat.add_user("uma", "Uma Subject")
    chat.add_user("bob", "Bob")
    chat.add_group("group", ["uma", "bob"], external_id="grp", title="Team")
    chat.add_peer("peer", ["uma", "bob"], external_id="peer-ub", title="")
    chat.add_room("room", ["bob"], external_id="lobby")  # Uma wrote here, no membership left
    chat.add_history("group", "uma", 3, name="uma_group")
    chat.add_history("peer", "uma", 2, start=T0 + HOUR, name="uma_peer")
    chat.add_history("group", "bob", 2, start=T0 + 2 * HOUR, name="bob_group")
    # Created as the chat service stores it (a payload; the room's last_message_at left alone).
    chat.uma_room = Message.objects.create(
        external_id="r1", conversation=chat.room, sender=chat.uma, sent_at=T0 + 5 * HOUR, body="hello lobby", payload={"x": [1, 2]}
    )
    chat.add_reaction(chat.uma_group[0], "bob", "👍")  # someone else's: not in the export
    chat.add_reaction(chat.uma_group[0], "uma", "🎉")  # her own, on her own message
    chat.add_reaction(chat.bob_group[0], "uma", "❤️")  # hers, on Bob's message
    chat.attachment = chat.add_attachment(chat.uma_peer[0], name="scan.pdf", content=b"%PDF uma", content_type="application/pdf")
    chat.add_attachment(chat.bob_group[0], name="bob.png", content=b"bob's")
    return chat


def export(erasure, actor):
    buffer = io.BytesIO()
    counts = do_export_erasure(erasure, buffer, actor=actor)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue())), counts


def lines(archive, name):
    return [json.loads(line) for line in archive.read(name).decode().splitlines()]


def test_the_zip_holds_the_subjects_data_only_with_a_manifest_of_sha256s(chat, compliance):
    erasure = do_open_erasure(actor=compliance, subject="uma", ticket="DSR-5")
    archive, counts = export(erasure, compliance)

    names = set(archive.namelist())
    assert names == {"manifest.json", "data.ndjson", "reactions.ndjson", f"attachments/{chat.attachment.pk}-{chat.attachment.file.name.rsplit('/', 1)[1]}"}
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["request"] == erasure.pk and manifest["ticket"] == "DSR-5" and manifest["created_by"] == "cleo"
    assert manifest["subject"] == {"id": "uma", "name": "Uma Subject", "pseudonym": erasure.subject_pseudonym}
    assert manifest["created_at"]
    assert set(manifest["files"]) == names - {"manifest.json"}
    for name, described in manifest["files"].items():
        data = archive.read(name)
        assert described == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert counts == manifest["counts"] == {"conversations": 3, "messages": 6, "reactions": 2, "attachments": 1}

    data = lines(archive, "data.ndjson")
    assert data[0] == {"type": "user", "id": "uma", "name": "Uma Subject", "created_at": T0.isoformat()}
    conversations = [line for line in data if line["type"] == "conversation"]
    assert sorted((c["id"], c["kind"], tuple(c["members"])) for c in conversations) == [
        ("grp", "group", ("uma",)), ("lobby", "room", ("uma",)), ("peer-ub", "peer", ("uma",)),
    ]
    messages = [line for line in data if line["type"] == "message"]
    assert {m["id"] for m in messages} == {m.external_id for m in chat.uma_group + chat.uma_peer} | {"r1"}
    assert {m["sender"] for m in messages} == {"uma"}
    first = next(m for m in messages if m["id"] == chat.uma_group[0].external_id)
    assert first["reactions"] == [{"user": "uma", "emoji": "🎉"}]  # never Bob's 👍
    assert next(m for m in messages if m["id"] == "r1")["payload"] == {"x": [1, 2]}
    assert sorted((r["message"], r["conversation"], r["emoji"]) for r in lines(archive, "reactions.ndjson")) == sorted([
        (chat.uma_group[0].external_id, "grp", "🎉"), (chat.bob_group[0].external_id, "grp", "❤️"),
    ])
    assert archive.read(manifest["attachments"][0]["file"]) == b"%PDF uma"
    assert manifest["attachments"][0]["message"] == chat.uma_peer[0].external_id
    entry = AuditEntry.objects.get(action="erasure.export")
    assert entry.actor == compliance and entry.counts == {"messages": 6, "reactions": 2, "attachments": 1}


def test_its_data_reimports_into_an_empty_database_as_exactly_the_subjects_messages(chat, compliance):
    erasure = do_open_erasure(actor=compliance, subject="uma", ticket="DSR-5")
    archive, _ = export(erasure, compliance)
    expected = {
        m.external_id: (m.conversation.external_id, m.sent_at, m.kind, m.body, m.payload)
        for m in Message.objects.filter(sender=chat.uma).select_related("conversation")
    }
    with connection.cursor() as cursor:  # an empty database (rolled back with the test)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "TRUNCATE chatdata_chatuser, chatdata_conversation, chatdata_message, chatdata_membership, chatdata_reaction, "
            "chatdata_attachment, chatdata_messagehide, chatdata_pendingdelivery, chatdata_syncevent, chatdata_tombstone CASCADE"
        )
    report = do_import_chat(io.BytesIO(archive.read("data.ndjson")), actor=None)
    assert report.ok, report.errors
    imported = {
        m.external_id: (m.conversation.external_id, m.sent_at, m.kind, m.body, m.payload)
        for m in Message.objects.select_related("conversation")
    }
    assert imported == expected
    assert list(ChatUser.objects.values_list("external_id", "display_name")) == [("uma", "Uma Subject")]
    assert sorted(Conversation.objects.values_list("external_id", flat=True)) == ["grp", "lobby", "peer-ub"]
    assert list(Reaction.objects.values_list("user__external_id", "emoji")) == [("uma", "🎉")]


def test_it_streams_in_chunks_and_is_refused_to_others_and_once_the_run_began(chat, compliance, moderator, admin_user, redis_conn):
    erasure = do_open_erasure(actor=compliance, subject="uma", ticket="DSR-5")
    with pytest.raises(ErasureRefused) as caught:
        stream_export(erasure, actor=moderator)
    assert caught.value.code == "not_permitted"
    assert AuditEntry.objects.order_by("-id").first().action == "erasure.refused"

    chunks = list(stream_export(erasure, actor=admin_user))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None and "manifest.json" in archive.namelist()

    do_approve_erasure(erasure, actor=admin_user)
    with pytest.raises(ErasureRefused) as caught:
        stream_export(erasure, actor=compliance)
    assert caught.value.code == "bad_state" and "before the erasure is approved" in caught.value.message


def _load_messages(uma, bob, count):
    """`count` messages of Uma over a few conversations, by COPY."""
    conversations = [make_conversation("group", [uma, bob], external_id=f"big{i}") for i in range(5)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO chatdata_message (external_id, conversation_id, sender_id, sent_at, kind, body, payload) "
            "SELECT 'big-' || n, (ARRAY[%s,%s,%s,%s,%s])[1 + n %% 5], %s, %s::timestamptz + n * interval '1 minute', 'text', "
            "'message number ' || n || ' with some words in it to make the line a realistic length', '{}'::jsonb "
            "FROM generate_series(1, %s) AS n",
            [*(c.pk for c in conversations), uma.pk, T0, count],
        )


def _peak(erasure, actor, path):
    tracemalloc.start()
    started = time.perf_counter()
    with open(path, "wb") as handle:
        counts = do_export_erasure(erasure, handle, actor=actor)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return counts, peak, seconds


@pytest.mark.slow
def test_the_export_of_100000_messages_streams_with_flat_memory(compliance, tmp_path):
    uma, bob = make_user("uma"), make_user("bob")
    _load_messages(uma, bob, 10_000)
    erasure = do_open_erasure(actor=compliance, subject="uma", ticket="DSR-small")
    small, small_peak, _ = _peak(erasure, compliance, tmp_path / "small.zip")
    with connection.cursor() as cursor:  # the same subject, ten times the messages
        cursor.execute("DELETE FROM chatdata_message")
        cursor.execute("DELETE FROM chatdata_membership")
        cursor.execute("DELETE FROM chatdata_conversation")
    _load_messages(uma, bob, 100_000)
    big, big_peak, seconds = _peak(erasure, compliance, tmp_path / "big.zip")

    assert (small["messages"], big["messages"]) == (10_000, 100_000)
    print(f"\nexport peak memory: 10,000 messages {small_peak / 1e6:.1f} MB, 100,000 messages {big_peak / 1e6:.1f} MB ({seconds:.1f} s)")
    assert big_peak < 1.5 * small_peak + 2_000_000, (small_peak, big_peak)
    assert big_peak < 30_000_000
    with zipfile.ZipFile(tmp_path / "big.zip") as archive:
        with archive.open("data.ndjson") as data:
            assert sum(1 for line in data if b'"type":"message"' in line) == 100_000
