"""Imports are audited (issue 11, item 8): one entry per import, in its transaction.

An import that changes the database writes `import.chat` with its counts per table, the file's
name and sha256, and which users it renamed and which conversations it retitled (external ids
only: names and titles are chat data, and the audit log is append-only, so it must not keep a
copy that an erasure could not remove). A refused import writes `import.refused` with the reason,
a failed one (rolled back) `import.failed`; a dry run changes nothing and writes nothing.
"""

import getpass
import hashlib
import io

import pytest
from django.core.management import CommandError, call_command

from chatdata.audit import ACTIONS, verify_chain
from chatdata.importer import FileChanged, do_import_chat
from chatdata.models import AuditEntry
from dashboard.web.oversight.forms import ACTION_GROUPS
from tests.builders import snapshot_chat
from tests.test_import_chat import EARLIER, _ChangingStream, conversation, message, ndjson, user

pytestmark = pytest.mark.django_db


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text(ndjson(lines), encoding="utf-8")
    return path


def import_chat(path, *args):
    """(exit status, stdout + stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_chat", str(path), *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, f"{out.getvalue()}{err.getvalue()}{exc}"
    return 0, out.getvalue() + err.getvalue()


def entries(action):
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_it_writes_one_entry_per_import_with_counts_file_hash_and_what_it_renamed(tmp_path, admin_user):
    import_chat(write(tmp_path, "earlier.ndjson", EARLIER), "--actor", "ada")
    second = write(tmp_path, "newer.ndjson", [
        user("u1", "Alice Liddell"), user("u2", "Bob"), user("u3", "Carol"),
        conversation("c1", ["u1", "u2", "u3"], title="Team (new)"),
        message("m2", sender="u3"),
    ])

    status, _ = import_chat(second, "--actor", "ada")

    assert status == 0
    first, last = entries("import.chat")
    assert (last.actor, last.actor_name, last.role) == (admin_user, "ada", "admin")
    assert last.target == "file newer.ndjson"
    assert last.counts == {
        "users_created": 1, "users_updated": 1, "users_unchanged": 1,
        "conversations_created": 0, "conversations_updated": 1, "conversations_unchanged": 0,
        "memberships_created": 1, "memberships_unchanged": 2,
        "messages_created": 1, "messages_unchanged": 0,
        "reactions_created": 0, "reactions_unchanged": 0,
    }
    assert last.scope["file"] == str(second)
    assert last.scope["sha256"] == hashlib.sha256(second.read_bytes()).hexdigest()
    assert last.scope["bytes"] == second.stat().st_size
    assert (last.scope["records"], last.scope["repeated_lines"]) == (5, 0)
    assert last.scope["renamed_users"] == {"count": 1, "examples": ["u1"]}
    assert last.scope["retitled_conversations"] == {"count": 1, "examples": ["c1"]}
    assert last.scope["run_by"].startswith(f"{getpass.getuser()}@")
    # Names and titles stay out of the append-only log (an erasure could not remove them there).
    assert "Alice" not in str(last.scope) and "Team" not in str(last.scope)
    assert first.counts["users_created"] == 2 and first.scope["renamed_users"] == {"count": 0, "examples": []}
    assert verify_chain().ok


def test_it_keeps_a_few_examples_of_many_renames(tmp_path, admin_user):
    import_chat(write(tmp_path, "a.ndjson", [user(f"u{n}", "Old") for n in range(12)]), "--actor", "ada")

    import_chat(write(tmp_path, "b.ndjson", [user(f"u{n}", "New") for n in range(12)]), "--actor", "ada")

    assert entries("import.chat")[-1].scope["renamed_users"] == {"count": 12, "examples": ["u0", "u1", "u2", "u3", "u4"]}


def test_it_writes_no_entry_for_a_dry_run(tmp_path, admin_user):
    status, _ = import_chat(write(tmp_path, "chat.ndjson", EARLIER), "--dry-run", "--actor", "ada")

    assert status == 0
    assert not AuditEntry.objects.filter(action__startswith="import.").exists()


def test_it_audits_a_refused_file_once_saying_why(tmp_path, admin_user):
    path = write(tmp_path, "bad.ndjson", [*EARLIER, user("u3", 7), message("m2", sent_at="noon")])

    status, output = import_chat(path, "--actor", "ada")

    assert status == 2 and "nothing was imported" in output
    [entry] = AuditEntry.objects.filter(action__startswith="import.")
    assert (entry.action, entry.actor, entry.target) == ("import.refused", admin_user, "file bad.ndjson")
    assert entry.reason.startswith("2 errors; nothing was imported. First: line 5: 'name' must be a string")
    assert entry.counts == {"errors": 2}
    assert entry.scope["errors"][1] == {"line": 6, "problem": "'sent_at' is not an ISO 8601 date and time: 'noon'"}
    assert entry.scope["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert snapshot_chat() == {name: set() for name in snapshot_chat()}


def test_it_audits_a_hostile_refusal_without_storing_what_it_cannot(tmp_path):
    path = tmp_path / "bad.ndjson"
    path.write_text(ndjson(EARLIER[:3] + ['{"type": "user", "id": "u4", "name": "\\ud800"}']))

    status, _ = import_chat(path)

    assert status == 2
    [entry] = AuditEntry.objects.filter(action__startswith="import.")
    assert entry.action == "import.refused" and "lone surrogate (\\ud800)" in entry.reason
    assert verify_chain().ok


def test_it_records_the_operator_when_no_actor_is_named(tmp_path):
    status, _ = import_chat(write(tmp_path, "chat.ndjson", EARLIER))

    assert status == 0
    [entry] = AuditEntry.objects.filter(action__startswith="import.")
    assert (entry.action, entry.actor, entry.actor_name, entry.role) == ("import.chat", None, "system", "cli")
    assert entry.scope["run_by"].startswith(f"{getpass.getuser()}@")


def test_it_refuses_an_unknown_actor_before_reading_the_file(tmp_path):
    status, output = import_chat(write(tmp_path, "chat.ndjson", EARLIER), "--actor", "nobody")

    assert status == 2
    assert "No active staff account named 'nobody'." in output
    assert snapshot_chat() == {name: set() for name in snapshot_chat()}
    [entry] = AuditEntry.objects.filter(action__startswith="import.")
    assert (entry.action, entry.actor, entry.role) == ("import.refused", None, "cli")
    assert entry.reason == "No active staff account named 'nobody'."


def test_it_refuses_an_actor_who_may_not_import_and_audits_it(tmp_path, moderator):
    status, output = import_chat(write(tmp_path, "chat.ndjson", EARLIER), "--actor", "mona")

    assert status == 3
    assert "Only admins import chat data." in output
    assert snapshot_chat() == {name: set() for name in snapshot_chat()}
    [entry] = AuditEntry.objects.filter(action__startswith="import.")
    assert (entry.action, entry.actor, entry.reason) == ("import.refused", moderator, "Only admins import chat data.")


def test_a_dry_run_refuses_the_same_actor_but_writes_nothing(tmp_path, moderator):
    status, output = import_chat(write(tmp_path, "chat.ndjson", EARLIER), "--dry-run", "--actor", "mona")

    assert status == 3 and "Only admins import chat data." in output
    assert not AuditEntry.objects.filter(action__startswith="import.").exists()


def test_it_audits_a_file_it_cannot_read(tmp_path, admin_user):
    status, output = import_chat(tmp_path / "missing.ndjson", "--actor", "ada")

    assert status == 2 and f"cannot read {tmp_path / 'missing.ndjson'}: No such file or directory" in output
    [entry] = AuditEntry.objects.filter(action__startswith="import.")
    assert (entry.action, entry.actor, entry.target) == ("import.refused", admin_user, "file missing.ndjson")


def test_it_audits_an_import_rolled_back_because_the_file_changed(admin_user):
    first = ndjson(EARLIER).encode()

    with pytest.raises(FileChanged):
        do_import_chat(_ChangingStream(first, ndjson([*EARLIER, message("m2")]).encode()), actor=admin_user, source="x.ndjson")

    assert snapshot_chat() == {name: set() for name in snapshot_chat()}
    [entry] = AuditEntry.objects.filter(action__startswith="import.")
    assert (entry.action, entry.actor, entry.target) == ("import.failed", admin_user, "file x.ndjson")
    assert entry.reason == "the file changed while it was being imported; nothing was imported."
    assert entry.scope["sha256"] == hashlib.sha256(first).hexdigest()


def test_the_audit_log_knows_the_import_actions():
    assert {"import.chat", "import.refused", "import.failed"} <= ACTIONS.keys()
    assert "import.*" in ACTION_GROUPS
