import hashlib
import io
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Exists, F, Max, Min, OuterRef

from chatdata.audit import write_audit
from chatdata.models import (
    Attachment,
    ChatUser,
    Conversation,
    LegalHold,
    Membership,
    Message,
    MessageHide,
    PendingDelivery,
    Reaction,
)
from chatdata.models.compliance import AuditEntry
from chatdata.seed import SeedPlan, postgres
from chatdata.seed.reset import CHAT_MODELS
from tests.builders import make_message

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"users": 40, "conversations": 30, "messages": 1500}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HAN = re.compile(r"[\u4e00-\u9fff]")
EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]")


def chat_digest():
    """One hash over every chat row (in id order, ids included) and every attachment file's bytes."""
    digest = hashlib.sha256()
    for model in CHAT_MODELS:
        digest.update(model._meta.db_table.encode())
        for row in model._base_manager.order_by("pk").values_list():
            digest.update(repr(row).encode())
    for name in Attachment.objects.order_by("pk").values_list("file", flat=True):
        with default_storage.open(name, "rb") as file:
            digest.update(file.read())
    return digest.hexdigest()


def seed(**options):
    call_command("seed_demo", **{**SMALL, "seed": 7, **options}, stdout=open(os.devnull, "w"))


def catalog():
    """Every index and constraint definition on the chat tables."""
    tables = [model._meta.db_table for model in CHAT_MODELS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [tables])
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = ANY(%s::regclass[])",
            [tables],
        )
        return indexes, set(cursor.fetchall())


def test_it_is_deterministic_for_a_seed():
    seed()
    first = chat_digest()
    seed(reset=True)
    assert chat_digest() == first
    seed(reset=True, seed=8)
    assert chat_digest() != first


def test_it_loads_exactly_the_planned_numbers():
    seed()
    assert ChatUser.objects.count() == SMALL["users"]
    assert Conversation.objects.count() == SMALL["conversations"]
    assert Message.objects.count() == SMALL["messages"]


def test_it_makes_all_four_kinds_with_a_few_huge_conversations():
    seed(users=60, conversations=100, messages=4000)
    kinds = dict(Conversation.objects.order_by().values_list("kind").annotate(n=Count("id")))
    assert set(kinds) == {"peer", "group", "room", "system"}
    assert kinds["peer"] > sum(kinds.values()) / 2
    sizes = Conversation.objects.annotate(n=Count("messages")).order_by("-n").values_list("kind", "n")
    (top_kind, top_size), *rest = sizes
    assert top_kind in {"group", "room"}
    assert top_size >= 0.10 * 4000
    peers = sorted(n for kind, n in sizes if kind == "peer")
    assert peers[len(peers) // 2] < top_size / 20


def test_it_covers_a_year_with_a_day_and_night_rhythm():
    seed(messages=4000)
    now = SeedPlan(seed=7).now
    oldest, newest = Message.objects.order_by("sent_at").values_list("sent_at", flat=True)[::3999]
    assert now - timedelta(days=365) <= oldest < now - timedelta(days=300)
    assert now - timedelta(days=3) < newest < now
    # Ids grow with time, as in a live service.
    ids_in_time_order = list(Message.objects.order_by("sent_at", "id").values_list("id", flat=True))
    assert ids_in_time_order == sorted(ids_in_time_order)
    # One conversation lives in one time zone: its quietest hour is far quieter than its busiest.
    biggest = Conversation.objects.annotate(n=Count("messages")).order_by("-n").first()
    hours = [0] * 24
    for sent_at in biggest.messages.values_list("sent_at", flat=True):
        hours[sent_at.hour] += 1
    assert max(hours) > 5 * min(hours)


def test_it_writes_bodies_in_several_languages_with_emoji():
    seed()
    bodies = list(Message.objects.values_list("body", flat=True))
    assert sum(1 for body in bodies if HAN.search(body)) > 50
    assert sum(1 for body in bodies if EMOJI.search(body)) > 50
    assert any(re.search(r"[äöüéñçã]", body) for body in bodies)
    assert any(re.search(r"[А-я]", body) for body in bodies)


def test_it_stores_real_attachment_files(media_root):
    seed()
    attachments = list(Attachment.objects.select_related("message"))
    assert 0.03 * SMALL["messages"] < len(attachments) < 0.08 * SMALL["messages"]
    for attachment in attachments:
        path = Path(default_storage.path(attachment.file.name))
        assert path.is_relative_to(media_root)
        data = path.read_bytes()
        assert len(data) == attachment.size > 0
        if attachment.content_type == "image/png":
            assert data.startswith(PNG_SIGNATURE)
            assert attachment.message.kind == "image"
        else:
            assert attachment.content_type == "text/plain"
            data.decode("utf-8")
            assert attachment.message.kind == "file"
    assert {a.content_type for a in attachments} == {"image/png", "text/plain"}


def test_it_keeps_timestamps_consistent():
    seed()
    conversations = Conversation.objects.annotate(newest=Max("messages__sent_at"), oldest=Min("messages__sent_at"))
    assert all(c.last_message_at == c.newest for c in conversations)
    assert any(c.newest is not None for c in conversations)
    assert all(c.created_at < c.oldest for c in conversations if c.oldest)
    assert not Membership.objects.filter(joined_at__lt=F("user__created_at")).exists()
    assert not MessageHide.objects.filter(created_at__lt=F("message__sent_at")).exists()


def test_it_adds_reactions_pending_deliveries_and_one_way_state():
    seed(messages=4000)
    now = SeedPlan(seed=7).now
    assert Reaction.objects.count() > 200
    assert Membership.objects.filter(cleared_before__isnull=False).exists()
    assert Membership.objects.filter(hidden=True).exists()
    assert MessageHide.objects.exists()
    # Rooms keep no per-member history.
    assert not Membership.objects.filter(conversation__kind="room", cleared_before__isnull=False).exists()
    assert not MessageHide.objects.filter(message__conversation__kind="room").exists()
    pending = list(PendingDelivery.objects.select_related("message"))
    assert pending
    for delivery in pending:
        assert delivery.message.sender_id != delivery.user_id
        assert delivery.message.sent_at > now - timedelta(days=2)
        assert delivery.queued_at == delivery.message.sent_at
        assert Membership.objects.filter(conversation=delivery.message.conversation_id, user=delivery.user_id).exists()
    # Reactions and hides come from members of the conversation.
    for model in (Reaction, MessageHide):
        member = Membership.objects.filter(conversation=OuterRef("message__conversation"), user=OuterRef("user"))
        assert not model.objects.filter(~Exists(member)).exists()


def test_it_refuses_to_seed_over_existing_chat_data():
    seed()
    before = chat_digest()
    with pytest.raises(CommandError, match="already holds chat data.*--reset"):
        seed(seed=9)
    assert chat_digest() == before


def test_it_resets_chat_data_and_files_but_keeps_staff_and_audit(moderator):
    seed()
    old_files = list(Attachment.objects.values_list("file", flat=True))
    write_audit("login", actor=moderator)
    seed(reset=True, seed=3, messages=300)
    assert Message.objects.count() == 300
    assert Message.objects.order_by("id").first().id == 1  # ids start again
    new_files = set(Attachment.objects.values_list("file", flat=True))
    assert all(not default_storage.exists(name) for name in old_files if name not in new_files)
    assert User.objects.filter(pk=moderator.pk).exists()
    assert AuditEntry.objects.filter(action="login").count() == 1


def test_it_refuses_to_reset_while_a_legal_hold_refers_to_chat_data(moderator):
    seed()
    held = ChatUser.objects.get(external_id="u000001")
    LegalHold.objects.create(kind="user", user=held, subject_external_id=held.external_id, reason="case 12", created_by=moderator)
    before = chat_digest()
    with pytest.raises(CommandError, match="legal hold"):
        seed(reset=True)
    assert chat_digest() == before


def test_it_leaves_no_rows_files_or_schema_change_behind_when_the_load_fails(media_root, monkeypatch):
    before = catalog()

    def fail(files):
        assert files.names  # some files were written before the failure
        raise RuntimeError("disk full")

    monkeypatch.setattr("chatdata.seed.files.AttachmentFiles.fix_renamed_rows", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        postgres.load(SeedPlan(**SMALL), rebuild_indexes=True)
    assert not any(model.objects.exists() for model in CHAT_MODELS)
    assert not [path for path in media_root.rglob("*") if path.is_file()]
    assert catalog() == before


def test_it_rejects_bad_options_and_changes_nothing():
    with pytest.raises(CommandError, match="--users"):
        seed(users=1)
    with pytest.raises(CommandError, match="--messages"):
        seed(messages=-5)
    assert not ChatUser.objects.exists()


def test_it_moves_the_sequences_past_the_seeded_ids():
    seed()
    conversation = Conversation.objects.filter(kind="group").first()
    message = make_message(conversation, conversation.members.first())
    assert message.id == SMALL["messages"] + 1


def test_it_rebuilds_dropped_indexes_and_constraints_exactly():
    before = catalog()
    counts, _files, timings = postgres.load(SeedPlan(**SMALL, seed=4), rebuild_indexes=True)
    assert "indexes + constraints" in timings
    assert catalog() == before
    assert counts[Message] == Message.objects.count() == SMALL["messages"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'msg_body_fts_idx'")
        assert "to_tsvector('simple'::regconfig, COALESCE(body, ''::text))" in cursor.fetchone()[0]


def test_it_summarises_what_it_loaded():
    out = io.StringIO()
    call_command("seed_demo", **SMALL, stdout=out)
    text = out.getvalue()
    assert "Seeded 1,500 messages" in text and "COPY" in text
    assert re.search(r"conversations\s+30\b", text)
    assert re.search(r"attachment files\s+\d+", text)


SQLITE_SCRIPT = """
import json, django
django.setup()
from django.core.management import CommandError, call_command
from chatdata.models import Conversation
from tests.test_seed_demo import chat_digest
options = dict(users=30, conversations=12, messages=400, seed=5, verbosity=0)
call_command("migrate", verbosity=0)
call_command("seed_demo", **options)
first = chat_digest()
try:
    call_command("seed_demo", **options)
    refused = ""
except CommandError as exc:
    refused = str(exc)
call_command("seed_demo", reset=True, **options)
kinds = sorted(set(Conversation.objects.values_list("kind", flat=True)))
print(json.dumps({"first": first, "second": chat_digest(), "refused": refused, "kinds": kinds}))
"""


def test_it_seeds_sqlite_deterministically_through_the_orm(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "MEDIA_ROOT"}}
    env.update(CHATSWEEP_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="dashboard.settings")
    done = subprocess.run([sys.executable, "-c", SQLITE_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["first"] == result["second"]
    assert "--reset" in result["refused"]
    assert result["kinds"] == ["group", "peer", "room", "system"]
    assert (tmp_path / "chatsweep.sqlite3").exists()
    assert any((tmp_path / "media" / "attachments").rglob("*.png"))
