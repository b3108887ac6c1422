"""`manage.py erasure` on PostgreSQL with real RQ workers, from intake to a verified certificate:
both peer-conversation options, a hold that blocks, a hold that keeps some messages,
self-approval refused, cancel and resume, residue planted behind the engine's back, and the
chat service's earlier export refused afterwards.

The chat data is docs/examples/chat.ndjson (the chat service's export), imported; the data
subject is u1 (Alice), who wrote m1 in the group c1 and m5 in her peer conversation c2 with u2,
and reacted 🎉 to m2."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import django_rq
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from chatdata.erasure import steps
from chatdata.models import Attachment, ChatUser, Conversation, LegalHold, Message, PurgeRequest, Reaction
from tests.builders import add_reaction
from tests.conftest import make_staff

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "chat.ndjson"


@pytest.fixture
def staff(db, redis_conn, settings):
    settings.PURGE_INLINE_LIMIT = 0  # every purge is its own job on the worker
    settings.PURGE_BATCH_SIZE = 1
    settings.PURGE_BATCH_PAUSE_PERCENT = 0
    return {name: make_staff(name, role) for name, role in (("cleo", "compliance"), ("cora", "compliance"), ("ada", "admin"))}


@pytest.fixture
def chat(staff, capsys):
    call_command("import_chat", str(EXAMPLE))
    m1 = Message.objects.get(external_id="m1")
    attachment = Attachment(message=m1, size=4, content_type="text/plain")
    attachment.file.save("alice.txt", ContentFile(b"mine"), save=False)
    attachment.save()
    capsys.readouterr()
    return {"file": attachment.file.name}


def erasure(capsys, *args):
    """(exit status, the JSON object printed, stderr)."""
    try:
        call_command("erasure", *args)
        status = 0
    except CommandError as exc:
        status = exc.returncode
        print(exc, file=sys.stderr)
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return status, json.loads(lines[-1]) if lines else None, err


def work():
    connection.close()  # the worker forks work horses: let each open its own connection
    django_rq.get_worker("default").work(burst=True)


def import_example(capsys, *args):
    try:
        call_command("import_chat", str(EXAMPLE), *args)
        status = 0
    except CommandError as exc:
        status = exc.returncode
        print(exc, file=sys.stderr)
    return (status, *capsys.readouterr())


@pytest.mark.parametrize("peers", ["keep", "delete"])
def test_it_erases_from_open_to_a_verified_certificate(chat, capsys, tmp_path, peers):
    status, opened, _ = erasure(capsys, "open", "--user", "u1", "--ticket", "DSR-1", "--peer-conversations", peers, "--actor", "cleo", "--note", "by e-mail", "--json")
    assert (status, opened["state"]) == (0, "awaiting_approval")
    request = str(opened["request"])

    status, refused, err = erasure(capsys, "approve", request, "--actor", "cleo", "--confirm", "u1", "--json")
    assert status == 3 and refused["error"]["code"] == "not_permitted" and "your own" in err
    status, untyped, err = erasure(capsys, "approve", request, "--actor", "cora", "--json")  # the approver types the id
    assert (status, untyped["error"]["field"]) == (2, "confirmation") and "“u1”" in err
    status, approved, _ = erasure(capsys, "approve", request, "--actor", "cora", "--confirm", "u1", "--json")
    assert (status, approved["request"], approved["state"]) == (0, opened["request"], "running")
    assert Message.objects.filter(sender__external_id="u1").count() == 2  # the worker has not run yet

    work()

    status, shown, _ = erasure(capsys, "show", request, "--json")
    assert status == 0 and shown["state"] == "done", shown["error"]
    assert shown["subject"] == shown["subject_pseudonym"] and shown["subject"].startswith("erased-")
    assert shown["due_at"] and shown["days_left"] is None
    assert shown["residue"] == dict.fromkeys(shown["residue"], 0)
    assert [p["scope"] for p in shown["purges"]] == (["user"] if peers == "keep" else ["user", "conversations"])
    assert all(p["state"] == "done" for p in shown["purges"])
    assert shown["counts"]["messages"] == (2 if peers == "keep" else 3)
    assert shown["counts"]["attachments"] == 1 and shown["counts"]["reactions"] == 2  # Bob's 👍 on m1, Alice's 🎉 on m2
    assert shown["kept"][-1]["messages"] == (3 if peers == "keep" else 2)
    assert not ChatUser.objects.filter(external_id="u1").exists()
    assert not default_storage.exists(chat["file"])
    assert Conversation.objects.filter(external_id="c2").exists() == (peers == "keep")
    assert set(Message.objects.values_list("external_id", flat=True)) == ({"m2", "m3", "m4"} if peers == "keep" else {"m2", "m3"})

    certificate = tmp_path / "certificate.json"
    status, written, _ = erasure(capsys, "certificate", request, "--out", str(certificate), "--json")
    assert (status, written["state"]) == (0, "done")
    document = json.loads(certificate.read_text())
    assert document["subject"] == shown["subject"] and document["ticket"] == "DSR-1"
    assert (document["requested_by"], document["approved_by"]) == ("cleo", "cora")
    assert document["residue"] == shown["residue"] and document["deleted"] == shown["counts"]
    status, verdict, _ = erasure(capsys, "verify-certificate", str(certificate), "--json")
    assert (status, verdict["request"], verdict["genuine"], verdict["reason"]) == (0, opened["request"], True, "genuine and unaltered.")

    # Re-importing the chat service's earlier export refuses what was erased, naming each line.
    status, out, err = import_example(capsys)
    assert status == 2
    assert "chat.ndjson:1: user 'u1' was erased on " in err
    assert "chat.ndjson:7: message 'm1' was erased on " in err
    assert "chat.ndjson:8: reactions[0]: user 'u1' was erased on " in err
    assert not ChatUser.objects.filter(external_id="u1").exists()
    status, out, err = import_example(capsys, "--skip-erased")
    assert status == 0, err
    assert not ChatUser.objects.filter(external_id="u1").exists()
    assert not Message.objects.filter(external_id__in=["m1", "m5"]).exists()
    assert list(Reaction.objects.filter(message__external_id="m2").values_list("user__external_id", flat=True)) == ["u2"]


def test_one_byte_altered_in_a_certificate_fails_verification(chat, capsys, tmp_path):
    _, opened, _ = erasure(capsys, "open", "--user", "u3", "--ticket", "DSR-3", "--actor", "cleo", "--json")
    erasure(capsys, "approve", str(opened["request"]), "--actor", "ada", "--confirm", "u3")
    work()
    path = tmp_path / "c.json"
    assert erasure(capsys, "certificate", str(opened["request"]), "--out", str(path))[0] == 0
    original = path.read_bytes()
    assert erasure(capsys, "verify-certificate", str(path))[0] == 0

    where = original.index(b'"messages": 1') + len(b'"messages": ')  # a count in the content
    path.write_bytes(original[:where] + b"0" + original[where + 1 :])
    status, _, err = erasure(capsys, "verify-certificate", str(path))
    assert status == 1 and "the content was altered" in err

    where = original.index(b'"ticket": "DSR-3"') + len(b'"ticket": "DSR-')
    path.write_bytes(original[:where] + b"4" + original[where + 1 :])
    assert erasure(capsys, "verify-certificate", str(path))[0] == 1

    path.write_bytes(original.replace(b'\n  "approved_at"', b'\n\t"approved_at"', 1))  # same content, other layout
    status, _, err = erasure(capsys, "verify-certificate", str(path))
    assert status == 1 and "layout" in err

    path.write_bytes(original[:-3] + b"X" + original[-2:])  # no longer JSON
    assert erasure(capsys, "verify-certificate", str(path))[0] == 2
    assert erasure(capsys, "verify-certificate", str(tmp_path / "missing.json"))[0] == 2


def test_a_hold_blocks_then_cancel_and_resume(chat, capsys, monkeypatch):
    call_command("legal_hold", "add", "--user", "u1", "--reason", "litigation 12", "--actor", "ada")
    status, opened, err = erasure(capsys, "open", "--user", "u1", "--ticket", "DSR-1", "--actor", "cleo", "--json")
    assert (status, opened["state"]) == (3, "blocked") and "litigation 12" in err
    request = str(opened["request"])
    status, _, err = erasure(capsys, "resume", request, "--actor", "cleo")
    assert status == 3 and "litigation 12" in err

    call_command("legal_hold", "release", str(LegalHold.objects.get().pk), "--actor", "ada")
    status, resumed, _ = erasure(capsys, "resume", request, "--actor", "cleo", "--json")
    assert (status, resumed["state"]) == (0, "awaiting_approval")

    # Cancelled while it runs (queued: the worker takes it later).
    assert erasure(capsys, "approve", request, "--actor", "cora", "--confirm", "u1")[0] == 0
    status, cancelling, _ = erasure(capsys, "cancel", request, "--actor", "cleo", "--json")
    assert (status, cancelling["state"], cancelling["cancel_requested"]) == (0, "running", True)
    work()
    status, shown, _ = erasure(capsys, "show", request, "--json")
    assert shown["state"] == "cancelled"
    assert Message.objects.filter(sender__external_id="u1").count() == 2

    # A new request; residue planted between the purges and the check fails it; resume finishes it.
    _, second, _ = erasure(capsys, "open", "--user", "u1", "--ticket", "DSR-2", "--actor", "cleo", "--json")
    request = str(second["request"])
    real = steps.STEPS["verify"]

    def plant(erasure_, attempt):
        add_reaction(Message.objects.get(external_id="m3"), ChatUser.objects.get(pk=erasure_.subject_id), "🙈")
        return real(erasure_, attempt)

    monkeypatch.setitem(steps.STEPS, "verify", plant)  # the forked work horse inherits it
    erasure(capsys, "approve", request, "--actor", "ada", "--confirm", "u1")
    work()
    status, failed, _ = erasure(capsys, "show", request, "--json")
    assert failed["state"] == "failed" and failed["residue"]["reactions"] == 1
    assert sum(failed["residue"].values()) == 1 and "reactions 1" in failed["error"]
    monkeypatch.undo()

    status, resumed, _ = erasure(capsys, "resume", request, "--actor", "cleo", "--json")
    assert (status, resumed["state"]) == (0, "running")
    work()
    status, done, _ = erasure(capsys, "show", request, "--json")
    assert done["state"] == "done" and done["residue"]["reactions"] == 0
    status, listed, _ = erasure(capsys, "list", "--json")
    assert [(r["request"], r["state"]) for r in listed["requests"]] == [(opened["request"], "cancelled"), (second["request"], "done")]


def test_a_conversation_hold_keeps_some_messages_and_they_are_listed(chat, capsys):
    call_command("legal_hold", "add", "--conversation", "c1", "--reason", "case 9", "--actor", "ada")
    _, opened, _ = erasure(capsys, "open", "--user", "u1", "--ticket", "DSR-1", "--actor", "cleo", "--json")
    erasure(capsys, "approve", str(opened["request"]), "--actor", "cora", "--confirm", "u1")
    work()
    status, shown, _ = erasure(capsys, "show", str(opened["request"]), "--json")
    assert shown["state"] == "done", shown["error"]
    assert list(Message.objects.filter(sender_id=ChatUser.objects.get(external_id=shown["subject"]).pk).values_list("external_id", flat=True)) == ["m1"]
    held = shown["kept"][0]
    assert "case 9" in held["description"] and (held["messages"], held["reactions"], held["memberships"]) == (1, 1, 1)
    assert default_storage.exists(chat["file"])  # m1's file is held with it
    assert shown["counts"]["messages"] == 1  # m5


def test_it_waits_for_a_worker_running_beside_it(chat, capsys):
    _, opened, _ = erasure(capsys, "open", "--user", "u2", "--ticket", "DSR-2", "--actor", "cleo", "--json")
    db = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        PURGE_INLINE_LIMIT="0",
        PURGE_BATCH_SIZE="1",
        MEDIA_ROOT=str(default_storage.location),
    )
    worker = subprocess.Popen([sys.executable, "manage.py", "rqworker", "default"], cwd=ROOT, env=env, start_new_session=True)
    try:
        status, done, err = erasure(capsys, "approve", str(opened["request"]), "--actor", "cora", "--confirm", "u2", "--wait", "--wait-timeout", "90", "--json")
        assert (status, done["state"]) == (0, "done"), err
        assert PurgeRequest.objects.filter(erasure_id=done["request"], state="done").count() == 1
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
