"""Tombstones: every message deleted for everyone leaves one, and import_chat refuses (or with
--skip-erased skips) whatever would bring deleted or erased data back."""

import hashlib
import hmac
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from chatdata.erasure import tombstones
from chatdata.models import ChatUser, Conversation, Membership, Message, Reaction, Tombstone
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.scopes import ConversationScope, MessagesScope, PurgeSpec
from tests.builders import make_conversation, make_history, make_user

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "chat.ndjson"


def import_chat(capsys, *args):
    """(exit status, stdout, stderr) of import_chat."""
    try:
        call_command("import_chat", *args)
        status = 0
    except CommandError as exc:
        status = exc.returncode
        print(exc, file=__import__("sys").stderr)
    out, err = capsys.readouterr()
    return status, out, err


def purge(spec, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(spec, actor=actor, reason="spam"), actor=actor)
    assert request.state == "done", request.error
    return request


@pytest.fixture
def example(capsys):
    """docs/examples/chat.ndjson imported: the chat service's earlier export."""
    status, out, err = import_chat(capsys, str(EXAMPLE))
    assert status == 0, err
    return {m.external_id: m for m in Message.objects.all()}


def test_it_leaves_a_keyed_hash_tombstone_for_every_message_deleted_for_everyone(
    moderator, django_capture_on_commit_callbacks, settings
):
    alice, bob = make_user("alice"), make_user("bob")
    group = make_conversation("group", [alice, bob], external_id="grp")
    messages = make_history(group, alice, 5)
    purge(PurgeSpec(MessagesScope([m.pk for m in messages[:3]], group.pk), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)
    purge(PurgeSpec(ConversationScope(group.pk), "hide_for_user", member=bob.pk), moderator, django_capture_on_commit_callbacks)

    expected = {
        int(hmac.new(settings.ERASURE_PSEUDONYM_KEY.encode(), f"message\0{m.external_id}".encode(), hashlib.sha256).hexdigest()[:16], 16) >> 1
        for m in messages[:3]
    }
    batch = Tombstone.objects.get()  # one row for the batch; hiding for one member left none
    assert (batch.kind, set(batch.keys)) == ("message", expected)
    assert not any(m.external_id in str(batch.keys) for m in messages)
    assert set(tombstones.erased_at("message", [m.external_id for m in messages])) == {m.external_id for m in messages[:3]}
    settings.ERASURE_PSEUDONYM_KEY = "another key, another hash, nothing found"
    assert tombstones.erased_at("message", [m.external_id for m in messages]) == {}


def test_it_refuses_to_bring_back_messages_a_purge_deleted(example, moderator, capsys, django_capture_on_commit_callbacks):
    team = Conversation.objects.get(external_id="c1")
    purge(PurgeSpec(ConversationScope(team.pk), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)
    assert set(Message.objects.values_list("external_id", flat=True)) == {"m4", "m5"}

    for dry_run in ([], ["--dry-run"]):
        status, out, err = import_chat(capsys, str(EXAMPLE), *dry_run)
        assert status == 2, (out, err)
        for line, message in ((7, "m1"), (8, "m2"), (9, "m3")):
            assert f"chat.ndjson:{line}: message '{message}' was erased on " in err
        assert "(tombstone); use --skip-erased to skip such lines" in err
        assert "nothing was imported" in err
    assert set(Message.objects.values_list("external_id", flat=True)) == {"m4", "m5"}

    status, out, err = import_chat(capsys, str(EXAMPLE), "--skip-erased")
    assert status == 0, err
    assert "erased earlier (tombstones), left out: 3 lines" in out
    assert set(Message.objects.values_list("external_id", flat=True)) == {"m4", "m5"}
    assert Reaction.objects.count() == 0


def test_it_refuses_an_erased_users_lines_and_leaves_out_their_reactions_and_memberships_when_asked(example, capsys):
    # What an erasure leaves behind (chatdata.erasure.run): the row pseudonymised, a user tombstone.
    u3 = ChatUser.objects.get(external_id="u3")
    Message.objects.filter(sender=u3).delete()
    Reaction.objects.filter(user=u3).delete()
    Membership.objects.filter(user=u3).delete()
    ChatUser.objects.filter(pk=u3.pk).update(external_id=tombstones.pseudonym("u3"), display_name="erased")
    tombstones.bury_user("u3", now=u3.created_at)

    status, out, err = import_chat(capsys, str(EXAMPLE), "--dry-run")
    assert status == 2
    assert "chat.ndjson:3: user 'u3' was erased on " in err
    assert "chat.ndjson:4: conversation 'c1': member 'u3' was erased on " in err
    assert "chat.ndjson:8: message 'm2' was sent by user 'u3', who was erased on " in err
    assert not ChatUser.objects.filter(external_id="u3").exists()

    status, out, err = import_chat(capsys, str(EXAMPLE), "--skip-erased")
    assert status == 0, err
    assert "left out: 2 lines, 1 membership" in out
    assert not ChatUser.objects.filter(external_id="u3").exists()
    assert not Message.objects.filter(external_id="m2").exists()
    assert sorted(Membership.objects.filter(conversation__external_id="c1").values_list("user__external_id", flat=True)) == ["u1", "u2"]


def test_it_leaves_out_an_erased_users_reaction_on_someone_elses_new_message(capsys, tmp_path):
    path = tmp_path / "later.ndjson"
    path.write_text(
        '{"type":"user","id":"u1","name":"Alice"}\n'
        '{"type":"user","id":"u2","name":"Bob"}\n'
        '{"type":"conversation","id":"c9","kind":"group","members":["u1","u2"]}\n'
        '{"type":"message","id":"m90","conversation":"c9","sender":"u1","sent_at":"2026-02-01T10:00:00Z","kind":"text",'
        '"body":"hi","reactions":[{"user":"u2","emoji":"👍"},{"user":"u1","emoji":"🎉"}]}\n'
    )
    from django.utils import timezone

    tombstones.bury_user("u2", now=timezone.now())

    status, out, err = import_chat(capsys, str(path))
    assert status == 2
    assert "later.ndjson:4: reactions[0]: user 'u2' was erased on " in err
    assert "use --skip-erased to leave them out" in err
    assert not Message.objects.exists()

    status, out, err = import_chat(capsys, str(path), "--skip-erased")
    assert status == 0, err
    assert "left out: 1 line, 1 reaction, 1 membership" in out
    assert list(Reaction.objects.values_list("user__external_id", "emoji")) == [("u1", "🎉")]
    assert list(ChatUser.objects.values_list("external_id", flat=True)) == ["u1"]


def test_its_help_says_so():
    from chatdata.management.commands.import_chat import HELP

    assert "--skip-erased" in HELP and "tombstone" in HELP
    assert "Users who were erased (erased_at set) cannot be re-imported" not in HELP


def test_a_batch_that_rolls_back_leaves_no_tombstone_and_its_rerun_leaves_them(
    moderator, monkeypatch, django_capture_on_commit_callbacks
):
    from chatdata.purge import effects
    from chatdata.purge.actions import do_resume_purge

    alice = make_user("alice")
    group = make_conversation("group", [alice], external_id="grp")
    messages = make_history(group, alice, 4)
    real = effects.delete_messages

    def broken(ids, **kwargs):
        real(ids, **kwargs)  # rows deleted and tombstones written, then the batch fails
        raise RuntimeError("lost the connection")

    monkeypatch.setattr(effects, "delete_messages", broken)
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(PurgeSpec(ConversationScope(group.pk), "delete_for_everyone"), actor=moderator, reason="x"), actor=moderator)
    assert request.state == "failed" and not Tombstone.objects.exists()
    assert Message.objects.count() == 4

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert do_resume_purge(request, actor=moderator).state == "done"
    assert set(tombstones.erased_at("message", [m.external_id for m in messages])) == {m.external_id for m in messages}


def test_a_batchs_keys_wait_in_the_journal_are_found_there_and_the_fold_indexes_them(settings):
    """Purge batches write their keys unindexed (the journal, split in rows of JOURNAL_ROW_KEYS);
    a lookup finds them there and, once fold_journal has indexed them, through the index."""
    from django.db import connection
    from django.utils import timezone

    from chatdata.purge.statements import batch_cursor

    gone = [f"gone-{n}" for n in range(tombstones.JOURNAL_ROW_KEYS + 700)]  # two journal rows
    kept = [f"kept-{n}" for n in range(50)]
    now = timezone.now()
    with batch_cursor() as cursor:
        tombstones.bury_keys(cursor, tombstones.MESSAGE, tombstones.hash_later(tombstones.MESSAGE, gone)(), now=now)
    postgres = connection.vendor == "postgresql"
    rows = list(Tombstone.objects.order_by("id").values_list("indexed", flat=True))
    assert rows == [not postgres, not postgres]  # SQLite has no index: written indexed
    assert sorted(len(t.keys) for t in Tombstone.objects.all()) == [700, tombstones.JOURNAL_ROW_KEYS]

    assert set(tombstones.erased_at(tombstones.MESSAGE, gone + kept)) == set(gone)
    assert tombstones.fold_journal(pause_share=0) == (2 if postgres else 0)
    assert not Tombstone.objects.filter(indexed=False).exists()
    assert set(tombstones.erased_at(tombstones.MESSAGE, kept + gone[:3] + gone[-3:])) == set(gone[:3] + gone[-3:])
    assert tombstones.fold_journal(pause_share=0) == 0


def test_a_purge_run_folds_its_journal_and_any_left_by_a_run_that_died(moderator, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from chatdata.purge.statements import batch_cursor

    with batch_cursor() as cursor:  # what a run killed before its fold leaves behind
        tombstones.bury_keys(cursor, tombstones.MESSAGE, tombstones.hash_later(tombstones.MESSAGE, ["old-1"])(), now=timezone.now())
    alice = make_user("alice")
    group = make_conversation("group", [alice], external_id="grp")
    messages = make_history(group, alice, 4)
    purge(PurgeSpec(ConversationScope(group.pk), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)
    assert not Tombstone.objects.filter(indexed=False).exists()
    assert set(tombstones.erased_at("message", ["old-1", *(m.external_id for m in messages)])) == {
        "old-1", *(m.external_id for m in messages)
    }
