import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from chatdata.importer import FileChanged, do_import_chat, validate_chat
from chatdata.models import ChatUser, Conversation, Membership, Message, Reaction
from tests.builders import make_conversation, make_user

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "chat.ndjson"
TABLES = ["chatdata_chatuser", "chatdata_conversation", "chatdata_membership", "chatdata_message", "chatdata_reaction"]


def user(ident, name):
    return {"type": "user", "id": ident, "name": name}


def conversation(ident, members, kind="group", title="Team"):
    return {"type": "conversation", "id": ident, "kind": kind, "title": title, "members": members}


def message(ident, sender="u1", conversation="c1", sent_at="2026-01-05T10:00:00Z", body="hi", **extra):
    return {"type": "message", "id": ident, "conversation": conversation, "sender": sender,
            "sent_at": sent_at, "kind": "text", "body": body, **extra}


# An earlier import the invalid files are checked against: u1, u2 in group c1, message m1.
EARLIER = [user("u1", "Alice"), user("u2", "Bob"), conversation("c1", ["u1", "u2"]), message("m1")]


def ndjson(lines):
    return "\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines) + "\n"


def run(tmp_path, lines, *args, name="chat.ndjson"):
    path = tmp_path / name
    path.write_text(ndjson(lines), encoding="utf-8")
    out = io.StringIO()
    call_command("import_chat", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def run_invalid(tmp_path, lines, *args):
    path = tmp_path / "bad.ndjson"
    path.write_bytes(lines if isinstance(lines, bytes) else ndjson(lines).encode())
    err = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("import_chat", str(path), *args, stdout=io.StringIO(), stderr=err)
    assert excinfo.value.returncode == 2
    assert "nothing was imported" in str(excinfo.value)
    return err.getvalue()


def snapshot():
    """Every row of every chat table with its physical position: an UPDATE moves the ctid even
    when it writes the same values, so this also catches rows rewritten to themselves."""
    with connection.cursor() as cursor:
        tables = {}
        for table in TABLES:
            cursor.execute(f"SELECT ctid::text, * FROM {table} ORDER BY id")
            tables[table] = cursor.fetchall()
        return tables


def test_it_imports_a_valid_file_with_its_relations_and_timezones(tmp_path):
    out = io.StringIO()
    call_command("import_chat", str(EXAMPLE), stdout=out)

    assert "users         3 created" in out.getvalue()
    assert "reactions     3 created" in out.getvalue()
    alice, bob, lilei = (ChatUser.objects.get(external_id=ext) for ext in ("u1", "u2", "u3"))
    assert lilei.display_name == "李雷"
    team, peer = Conversation.objects.get(external_id="c1"), Conversation.objects.get(external_id="c2")
    assert (team.kind, team.title, peer.kind, peer.title) == ("group", "Team", "peer", "")
    assert set(team.members.values_list("external_id", flat=True)) == {"u1", "u2", "u3"}
    assert set(peer.members.values_list("external_id", flat=True)) == {"u1", "u2"}
    m2 = Message.objects.get(external_id="m2")
    # "2026-01-05T18:01:30+08:00" is 10:01:30 UTC.
    assert m2.sent_at == datetime(2026, 1, 5, 10, 1, 30, tzinfo=UTC)
    assert (m2.conversation, m2.sender, m2.body) == (team, lilei, "你好 🎉")
    assert set(m2.reactions.values_list("user__external_id", "emoji")) == {("u1", "🎉"), ("u2", "🎉")}
    assert Message.objects.get(external_id="m3").payload == {"width": 640, "height": 480}
    assert Message.objects.get(external_id="m4").sent_at == datetime(2026, 1, 6, 14, 0, tzinfo=UTC)
    assert team.last_message_at == datetime(2026, 1, 5, 10, 5, tzinfo=UTC)
    assert peer.last_message_at == datetime(2026, 1, 6, 14, 2, tzinfo=UTC)
    # Without created_at: the first message in the file; members join when the conversation starts.
    assert team.created_at == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert bob.created_at == datetime(2026, 1, 5, 10, 5, tzinfo=UTC)
    assert set(Membership.objects.filter(conversation=peer).values_list("joined_at", flat=True)) == {peer.created_at}
    assert (Message.objects.count(), Reaction.objects.count(), alice.sent_messages.count()) == (5, 3, 2)


def test_it_takes_explicit_created_at_and_skips_blank_lines(tmp_path):
    run(tmp_path, [
        {**user("u1", "Alice"), "created_at": "2025-03-01T08:00:00+01:00"},
        "",
        "   ",
        {**conversation("c1", ["u1"], kind="system", title="Notices"), "created_at": "2025-12-31T23:00:00-01:00"},
        message("m1", kind="system"),
    ])

    assert ChatUser.objects.get().created_at == datetime(2025, 3, 1, 7, 0, tzinfo=UTC)
    assert Conversation.objects.get().created_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert Membership.objects.get().joined_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


INVALID_LINES = [
    ('{"type": "user", "id": "u3", "name": "Carol"', "not valid JSON"),
    ('["user", "u3"]', "expected a JSON object, got an array"),
    ({"type": "person", "id": "u3", "name": "Carol"}, "unknown type 'person'"),
    ({"id": "u3", "name": "Carol"}, "missing required field 'type'"),
    ({"type": "message", "id": "m9", "conversation": "c1", "sent_at": "2026-01-05T10:00:00Z", "kind": "text"},
     "missing required field 'sender'"),
    (user("u3", "  "), "'name' must not be empty"),
    (user("u3", 7), "'name' must be a string, got a number"),
    ({**conversation("c2", ["u1"]), "members": "u1"}, "'members' must be an array, got a string"),
    (conversation("c2", ["u1", "u2"], kind="channel"), "'kind' must be one of peer, group, room, system, got 'channel'"),
    (conversation("c2", ["u1", "u2", "u3"], kind="peer"), "a peer conversation has 2 members (or 1: one person's side), this one lists 3"),
    (conversation("c2", ["u1", "u1"]), "members lists 'u1' more than once"),
    (conversation("c2", ["u1", "nobody"]), "conversation 'c2': member 'nobody' is not defined in the file nor in the database"),
    (conversation("c1", ["u1", "u2"], kind="room"), "already in the database as a group conversation, not room"),
    ({**user("u1", "Alice"), "created_at": "2027-01-01T00:00:00Z"}, "created_at is later than the first message they sent"),
    (message("m9", sent_at="2026-01-05T10:00:00"), "'sent_at' has no timezone"),
    (message("m9", sent_at="5 Jan 2026"), "'sent_at' is not an ISO 8601 date and time"),
    (message("m9", sent_at=1767607200), "'sent_at' must be a string, got a number"),
    ({**message("m9"), "kind": "sticker"}, "'kind' must be one of text, image"),
    (message("m9", sender="ghost"), "sender 'ghost' is not defined in the file nor in the database"),
    (message("m9", conversation="c404"), "conversation 'c404' is not defined in the file nor in the database"),
    (message("m9", sender="u3"), "sender 'u3' is not a member of conversation 'c1'"),
    (message("m9", reactions=[{"user": "ghost", "emoji": "👍"}]), "reacting user 'ghost' is not defined"),
    (message("m9", reactions=[{"user": "u3", "emoji": "👍"}]), "reacting user 'u3' is not a member of conversation 'c1'"),
    (message("m9", reactions=[{"user": "u2"}]), "reactions[0]: missing required field 'emoji'"),
    (message("m9", reactions=[{"user": "u2", "emoji": "👍"}, {"user": "u2", "emoji": "👍"}]), "reactions[1] repeats"),
    (message("m9", payload=["x"]), "'payload' must be an object, got an array"),
    ('{"type": "message", "id": "m9", "body": NaN}', "NaN is not a JSON value"),
    ({**message("m9"), "sendr": "u1"}, "unknown field 'sendr'"),
    ('{"type": "user", "id": "u3", "id": "u4", "name": "Carol"}', "field 'id' appears twice"),
    (message("m9", body="a\x00b"), "NUL character"),
    (message("m1", body="edited"), "message 'm1' is already in the database with a different body"),
    (message("m1", sender="u2"), "message 'm1' is already in the database with a different sender"),
]


@pytest.mark.parametrize("bad_line, problem", INVALID_LINES, ids=[p for _, p in INVALID_LINES])
def test_it_refuses_a_file_with_an_invalid_line_and_changes_nothing(tmp_path, bad_line, problem):
    run(tmp_path, EARLIER, name="earlier.ndjson")
    before = snapshot()
    # Valid new data around the bad line (u3, u2 renamed, m2): none of it may be written.
    lines = [user("u3", "Carol"), user("u2", "Robert"), bad_line, message("m2", body="new")]

    err = run_invalid(tmp_path, lines)

    [reported] = err.splitlines()  # one error, on the bad line
    assert "/bad.ndjson:3: " in reported and problem in reported
    assert snapshot() == before


def test_it_names_both_lines_of_an_id_defined_twice_differently(tmp_path):
    lines = [user("u1", "Alice"), conversation("c1", ["u1"]), message("m1"), user("u1", "Alicia"), message("m1", body="other")]

    err = run_invalid(tmp_path, lines)

    assert "bad.ndjson:4: user 'u1' is already defined on line 1 with a different name" in err
    assert "bad.ndjson:5: message 'm1' is already defined on line 3 with different content" in err
    assert snapshot() == {table: [] for table in TABLES}


def test_it_points_references_to_an_invalid_definition_at_its_line(tmp_path):
    lines = [user("u1", "Alice"), {**user("u2", "Bob"), "nick": "bob"}, conversation("c1", ["u1", "u2"], kind="channel"), message("m1")]

    err = run_invalid(tmp_path, lines)

    assert "bad.ndjson:2: unknown field 'nick'" in err
    assert "bad.ndjson:3: 'kind' must be one of" in err
    assert "bad.ndjson:4: conversation 'c1' is defined only on line 3, which is invalid" in err


def test_it_refuses_bytes_that_are_not_utf8(tmp_path):
    err = run_invalid(tmp_path, b'{"type": "user", "id": "u1", "name": "Alice"}\n{"type": "user", "id": "u2", "name": "\xff"}\n')

    assert "bad.ndjson:2: not UTF-8 text" in err
    assert not ChatUser.objects.exists()


def test_it_refuses_an_empty_file(tmp_path):
    err = run_invalid(tmp_path, b"\n\n")

    assert "the file holds no records" in err


def test_it_refuses_data_of_an_erased_user(tmp_path):
    run(tmp_path, EARLIER, name="earlier.ndjson")
    ChatUser.objects.filter(external_id="u2").update(display_name="", erased_at=datetime(2026, 2, 1, tzinfo=UTC))
    before = snapshot()

    err = run_invalid(tmp_path, EARLIER + [message("m2", sender="u2")])

    assert "bad.ndjson:2: user 'u2' was erased on 2026-02-01" in err
    assert "bad.ndjson:5: user 'u2' was erased on 2026-02-01" in err
    assert snapshot() == before


def test_it_reports_every_bad_line_but_prints_twenty(tmp_path):
    lines = [user("u1", "Alice"), conversation("c1", ["u1"])] + [message(f"m{n}", sent_at="noon") for n in range(25)]

    err = run_invalid(tmp_path, lines)

    assert err.count("'sent_at' is not an ISO 8601 date and time") == 20
    assert "bad.ndjson:3:" in err and "bad.ndjson:22:" in err and "bad.ndjson:23:" not in err
    assert "... and 5 more errors" in err


def test_it_changes_nothing_on_a_dry_run(tmp_path):
    run(tmp_path, EARLIER, name="earlier.ndjson")
    before = snapshot()

    out = run(tmp_path, [*EARLIER, user("u3", "Carol"), message("m2", reactions=[{"user": "u2", "emoji": "👍"}])], "--dry-run")

    assert "Dry run" in out and "Nothing was changed" in out
    assert "users         1 to create, 0 to update, 2 unchanged" in out
    assert "messages      1 to create, 1 unchanged" in out
    assert "reactions     1 to create, 0 unchanged" in out
    assert snapshot() == before


def test_it_changes_nothing_when_the_same_file_is_imported_again(tmp_path):
    call_command("import_chat", str(EXAMPLE), stdout=io.StringIO())
    before = snapshot()

    out = io.StringIO()
    call_command("import_chat", str(EXAMPLE), stdout=out)

    assert snapshot() == before
    assert out.getvalue().splitlines()[1:] == [
        "  users         0 created, 0 updated, 3 unchanged",
        "  conversations 0 created, 0 updated, 2 unchanged",
        "  memberships   0 created, 5 unchanged",
        "  messages      0 created, 5 unchanged",
        "  reactions     0 created, 3 unchanged",
    ]


def test_it_ignores_lines_repeated_identically(tmp_path):
    lines = [user("u1", "Alice"), conversation("c1", ["u1"]), message("m1"), user("u1", "Alice"), conversation("c1", ["u1"]), message("m1")]

    out = run(tmp_path, lines)

    assert "3 line(s) repeated an earlier identical line" in out
    assert (ChatUser.objects.count(), Membership.objects.count(), Message.objects.count()) == (1, 1, 1)


def test_it_reads_standard_input(monkeypatch):
    data = ndjson([user("u1", "Alice"), conversation("c1", ["u1"]), message("m1")]).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    out = io.StringIO()

    call_command("import_chat", "-", stdout=out)

    assert "Imported standard input (3 records)" in out.getvalue()
    assert Message.objects.get().sender.external_id == "u1"


def test_it_refers_to_users_and_conversations_already_in_the_database(tmp_path):
    run(tmp_path, [user("u1", "Alice"), user("u2", "Bob")], name="users.ndjson")
    run(tmp_path, [conversation("c1", ["u1", "u2"])], name="conversations.ndjson")

    run(tmp_path, [message("m1", sender="u2", reactions=[{"user": "u1", "emoji": "❤️"}])], name="messages.ndjson")

    m1 = Message.objects.get()
    assert (m1.sender.display_name, m1.conversation.external_id) == ("Bob", "c1")
    assert m1.reactions.get().user.display_name == "Alice"
    assert ChatUser.objects.count() == 2


def test_it_accepts_members_added_outside_the_file(tmp_path):
    alice, bob = make_user("alice"), make_user("bob")
    make_conversation(kind="room", members=[alice, bob], external_id="lobby")

    run(tmp_path, [message("m1", sender="bob", conversation="lobby")])

    assert Message.objects.get().conversation.external_id == "lobby"


def test_it_updates_names_and_titles_and_adds_members_and_reactions(tmp_path):
    run(tmp_path, [*EARLIER, message("m2", sent_at="2026-01-05T11:00:00Z")], name="earlier.ndjson")
    c1 = Conversation.objects.get(external_id="c1")
    Membership.objects.filter(conversation=c1, user__external_id="u1").update(hidden=True)

    out = run(tmp_path, [
        user("u1", "Alice Liddell"), user("u2", "Bob"), user("u3", "Carol"),
        conversation("c1", ["u3", "u1"], title="Team (new)"),
        message("m1", reactions=[{"user": "u3", "emoji": "👀"}]),
        message("m3", sender="u3", sent_at="2026-01-05T10:30:00Z"),
    ])

    assert "users         1 created, 1 updated, 1 unchanged" in out
    assert "conversations 0 created, 1 updated, 0 unchanged" in out
    c1.refresh_from_db()
    assert (c1.title, ChatUser.objects.get(external_id="u1").display_name) == ("Team (new)", "Alice Liddell")
    # Members are only added: u2 is still there and u1 keeps its one-way state.
    assert set(c1.memberships.values_list("user__external_id", "hidden")) == {("u1", True), ("u2", False), ("u3", False)}
    assert list(Message.objects.get(external_id="m1").reactions.values_list("emoji", flat=True)) == ["👀"]
    # m3 is older than m2: last activity does not move back.
    assert c1.last_message_at == datetime(2026, 1, 5, 11, 0, tzinfo=UTC)


def test_it_moves_last_message_at_forward_for_newer_messages(tmp_path):
    run(tmp_path, EARLIER, name="earlier.ndjson")

    run(tmp_path, [message("m2", sent_at="2026-03-01T09:00:00+09:00")])

    assert Conversation.objects.get().last_message_at == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_it_validates_and_imports_from_code():
    stream = io.BytesIO(ndjson(EARLIER).encode())

    report = validate_chat(stream)
    assert (report.ok, report.dry_run, report.tallies["messages"].created) == (True, True, 1)
    assert not Message.objects.exists()

    report = do_import_chat(stream, actor=None)
    assert report.ok and report.tallies["memberships"].created == 2
    assert Message.objects.get().conversation.memberships.count() == 2


class _ChangingStream(io.BytesIO):
    """A file that someone rewrites between the two passes of an import."""

    def __init__(self, first, second):
        super().__init__(first)
        self.second, self.seeks = second, 0

    def seek(self, *args):
        self.seeks += 1
        if self.seeks == 2:
            super().seek(0)
            self.truncate()
            self.write(self.second)
        return super().seek(*args)


def test_it_rolls_back_when_the_file_changes_during_the_import():
    first = ndjson(EARLIER).encode()
    second = ndjson([*EARLIER, message("m2")]).encode()

    with pytest.raises(FileChanged):
        do_import_chat(_ChangingStream(first, second), actor=None)

    assert snapshot() == {table: [] for table in TABLES}
