"""`manage.py purge`: its JSON, its exit codes, and a queued run waited for from the command line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from chatdata.models import Message, PurgeRequest
from chatdata.purge.holds import do_add_legal_hold
from tests.builders import ChatWorld

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def chat(db):
    chat = ChatWorld().add_users("alice", "bob")
    chat.add_group("group", ["alice", "bob"], external_id="grp")
    chat.add_peer("peer", ["alice", "bob"])
    chat.add_history("group", "alice", 5, name="g")
    chat.add_history("peer", "bob", 3, name="p")
    return chat


def purge(capsys, *args):
    """Run the command; returns (exit status, parsed JSON output)."""
    try:
        call_command("purge", *args, "--json")
        status = 0
    except CommandError as exc:
        status = exc.returncode
    out = capsys.readouterr().out.strip()
    return status, json.loads(out) if out else None


def test_it_previews_by_default_and_prints_one_json_object(chat, moderator, capsys):
    status, out = purge(capsys, "--conversation", "grp", "--effect", "delete-for-everyone", "--actor", "mona", "--reason", "spam")
    assert status == 0
    assert {"request", "state", "preview", "result", "items"} <= set(out)
    assert (out["state"], out["result"], out["items"]) == ("previewed", None, [])
    counts = {k: out["preview"][k] for k in ("messages", "attachments", "reactions", "hides", "pending_deliveries", "conversations", "members_affected")}
    assert counts == {"messages": 5, "attachments": 0, "reactions": 0, "hides": 0, "pending_deliveries": 0, "conversations": 1, "members_affected": 2}
    assert out["preview"]["excluded_by_hold"] == 0
    assert out["preview"]["high_water_mark"] == chat.p[-1].pk
    assert Message.objects.count() == 8


def test_it_executes_inline_and_reports_executed_counts(chat, moderator, capsys):
    status, out = purge(
        capsys, "--messages", f"{chat.g[0].external_id},{chat.g[1].external_id}", "--conversation", "grp",
        "--effect", "delete-for-everyone", "--actor", "mona", "--reason", "spam", "--ticket", "T-1", "--execute",
        "--confirm", "2",
    )
    assert (status, out["state"]) == (0, "done")
    assert out["result"]["messages"] == out["preview"]["messages"] == 2
    assert Message.objects.filter(conversation=chat.group).count() == 3


def test_it_executes_a_previewed_request_by_id(chat, moderator, capsys):
    _, preview = purge(capsys, "--conversation", "peer", "--start", "2026-01-01T00:00:00Z", "--effect", "delete-for-everyone", "--actor", "mona", "--reason", "x")
    status, out = purge(capsys, "--execute", str(preview["request"]), "--actor", "mona", "--confirm", "3")
    assert (status, out["request"], out["state"], out["result"]["messages"]) == (0, preview["request"], "done", 3)


def test_it_asks_for_the_webs_typed_confirmation_and_runs_nothing_without_it(chat, moderator, capsys):
    status, out = purge(capsys, "--conversation", "grp", "--effect", "delete-for-everyone", "--actor", "mona", "--reason", "x", "--execute")
    request = PurgeRequest.objects.get()
    assert (status, out["error"]["code"], out["error"]["field"]) == (2, "invalid", "confirmation")
    assert f"#{request.pk} is previewed, not run" in out["error"]["message"] and "the number of messages, 5" in out["error"]["message"]
    status, out = purge(capsys, "--execute", str(request.pk), "--actor", "mona", "--confirm", "4")
    assert (status, out["error"]["field"]) == (2, "confirmation")
    assert Message.objects.count() == 8 and PurgeRequest.objects.get().state == "previewed"
    status, out = purge(capsys, "--execute", str(request.pk), "--actor", "mona", "--confirm", chat.group.title.upper())
    assert (status, out["state"]) == (0, "done")


def test_it_reports_per_conversation_items(chat, moderator, capsys):
    status, out = purge(capsys, "--conversations", "grp,peer", "--effect", "delete-conversation", "--actor", "mona", "--reason", "x", "--execute",
                        "--confirm", "8")
    assert status == 0
    assert [(i["conversation"], i["status"], i["counts"]["messages"]) for i in out["items"]] == [("grp", "ok", 5), ("peer", "ok", 3)]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--conversation", "nope", "--effect", "delete-for-everyone"], "No conversation with id nope"),
        (["--messages", "m-unknown", "--effect", "delete-for-everyone"], "m-unknown"),
        (["--conversation", "grp", "--start", "2026-01-01T10:00", "--effect", "delete-for-everyone"], "no timezone"),
        (["--conversation", "grp", "--start", "2026-01-02T00:00Z", "--end", "2026-01-01T00:00Z", "--effect", "delete-for-everyone"], "after"),
        (["--conversations", "grp", "--start", "2026-01-01T00:00Z", "--effect", "delete-for-everyone"], "does not go with"),
        (["--conversation", "grp"], "Choose an effect"),
        (["--effect", "delete-for-everyone"], "Choose a scope"),
        (["--conversation", "grp", "--effect", "hide-for-user"], "needs a member"),
        (["--conversation", "grp", "--effect", "hide-for-user", "--member", "zed"], "zed"),
    ],
)
def test_it_exits_2_on_invalid_input_and_changes_nothing(chat, moderator, capsys, args, words):
    status, out = purge(capsys, *args, "--actor", "mona", "--reason", "x", "--execute")
    assert status == 2
    assert out["error"]["code"] == "invalid" and words in out["error"]["message"]
    assert Message.objects.count() == 8 and not PurgeRequest.objects.exists()


def test_it_exits_2_for_an_unknown_actor(chat, capsys):
    status, out = purge(capsys, "--conversation", "grp", "--effect", "delete-for-everyone", "--actor", "ghost", "--reason", "x")
    assert status == 2 and "ghost" in out["error"]["message"]


def test_it_exits_3_when_not_permitted(chat, support, capsys):
    status, out = purge(capsys, "--conversation", "grp", "--effect", "delete-for-everyone", "--actor", "sam", "--reason", "x", "--execute")
    assert (status, out["error"]["code"]) == (3, "not_permitted")
    assert Message.objects.count() == 8


def test_it_exits_3_on_a_legal_hold(chat, compliance, capsys):
    hold = do_add_legal_hold(actor=compliance, user=chat.bob, reason="case 4")
    status, out = purge(capsys, "--user", "bob", "--effect", "delete-for-everyone", "--actor", "cleo", "--reason", "DSR")
    assert (status, out["error"]["code"]) == (3, "hold")
    assert f"#{hold.pk}" in out["error"]["message"]


def test_it_exits_3_until_a_second_person_approves(chat, compliance, admin_user, capsys):
    status, out = purge(capsys, "--user", "bob", "--effect", "delete-for-everyone", "--actor", "cleo", "--reason", "DSR", "--execute",
                        "--confirm", "bob")
    assert (status, out["state"]) == (3, "awaiting_approval")
    request = str(out["request"])
    status, out = purge(capsys, "--approve", request, "--actor", "cleo")
    assert (status, out["error"]["code"]) == (3, "not_permitted")
    status, out = purge(capsys, "--approve", request, "--actor", "ada")
    assert (status, out["error"]["field"]) == (2, "confirmation")  # the approver types it too
    status, out = purge(capsys, "--approve", request, "--actor", "ada", "--confirm", "3")
    assert (status, out["state"], out["result"]["messages"]) == (0, "done", 3)
    assert not Message.objects.filter(sender=chat.bob).exists()


def test_it_exits_1_when_the_run_fails_and_0_when_resumed(chat, moderator, capsys, monkeypatch):
    from chatdata.purge import effects

    real = effects.delete_messages

    def broken(ids, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(effects, "delete_messages", broken)
    status, out = purge(capsys, "--conversation", "grp", "--effect", "delete-for-everyone", "--actor", "mona", "--reason", "x", "--execute",
                        "--confirm", "5")
    assert (status, out["state"]) == (1, "failed")
    assert "disk full" in out["error"]
    monkeypatch.setattr(effects, "delete_messages", real)
    status, out = purge(capsys, "--resume", str(out["request"]), "--actor", "mona")
    assert (status, out["state"], out["result"]["messages"]) == (0, "done", 5)


def test_it_cancels_closes_and_then_refuses_to_resume(chat, moderator, capsys, settings):
    settings.PURGE_INLINE_LIMIT = 1
    status, out = purge(capsys, "--conversation", "grp", "--effect", "delete-for-everyone", "--actor", "mona", "--reason", "x", "--execute",
                        "--confirm", "5")
    assert (status, out["state"]) == (0, "queued")
    status, out = purge(capsys, "--cancel", str(out["request"]), "--actor", "mona")
    assert (status, out["state"]) == (0, "cancelled")
    status, out = purge(capsys, "--close", str(out["request"]), "--actor", "mona")
    assert (status, out["state"]) == (0, "closed")
    status, out = purge(capsys, "--resume", str(out["request"]), "--actor", "mona")
    assert (status, out["error"]["code"]) == (3, "bad_state")


def test_it_prints_a_readable_preview_without_json(chat, moderator, capsys):
    call_command("purge", "--conversation", "grp", "--effect", "delete-for-everyone", "--actor", "mona", "--reason", "x")
    out = capsys.readouterr().out
    assert "previewed" in out and "messages 5" in out and "Dry run" in out


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the roles come from a data migration
def test_it_waits_for_a_queued_purge_run_by_an_rq_worker(chat, moderator, redis_conn, tmp_path):
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        PURGE_INLINE_LIMIT="2",
        PURGE_BATCH_SIZE="2",
        MEDIA_ROOT=str(tmp_path),
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    waiting = subprocess.Popen(
        [*manage, "purge", "--conversation", "grp", "--effect", "delete-for-everyone", "--actor", "mona", "--reason", "x",
         "--execute", "--confirm", "5", "--wait", "--wait-timeout", "60", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        while not PurgeRequest.objects.filter(state="queued").exists():
            assert waiting.poll() is None, waiting.communicate()
        worker = subprocess.run([*manage, "rqworker", "--burst", "default"], env=env, capture_output=True, text=True, timeout=120)
        assert worker.returncode == 0, worker.stderr
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, err
    result = json.loads(out)
    assert (result["state"], result["result"]["messages"], result["progress"]["batches"]) == ("done", 5, 3)
    assert not Message.objects.filter(conversation=chat.group).exists()

    failed = subprocess.run([*manage, "purge", "--status", "999999", "--json"], env=env, capture_output=True, text=True)
    assert failed.returncode == 2
