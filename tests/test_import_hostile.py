"""import_chat against hostile files (issue 11, item 7).

Every hostile line must give the same clear error naming its line in the dry run and in the real
import, exit with status 2 and change nothing: lone surrogates (which JSON's "\\ud800" escape
decodes to, and which no database can store), NUL characters, nesting deep enough to exhaust the
parser's stack, numbers too long or too large to convert, times that overflow when moved to UTC,
bodies over IMPORT_MAX_BODY_BYTES, over-long lines, and bodies whose full-text entry PostgreSQL
would refuse. The last one asks the real database, at both sides of its limit.
"""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from chatdata.models import Message
from tests.builders import snapshot_chat
from tests.test_import_chat import EARLIER, message, ndjson, snapshot, user

pytestmark = pytest.mark.django_db

MESSAGE = '{"type": "message", "id": "m9", "conversation": "c1", "sender": "u1", "sent_at": "2026-01-05T10:00:00Z", "kind": "text"'


def msg(rest):
    """A message line in raw JSON text (so escapes such as \\ud800 stay exactly as written)."""
    return MESSAGE + ", " + rest + "}"


HOSTILE = [
    ("surrogate-name", r'{"type": "user", "id": "u4", "name": "Eve \ud800"}', r"'name' contains a lone surrogate (\ud800)"),
    ("surrogate-body", msg(r'"body": "ok \udfff"'), r"'body' contains a lone surrogate (\udfff)"),
    ("surrogate-id", r'{"type": "user", "id": "\ud800", "name": "Eve"}', r"'id' contains a lone surrogate (\ud800)"),
    ("surrogate-title", r'{"type": "conversation", "id": "c2", "kind": "group", "title": "\udbff", "members": ["u1"]}',
     r"'title' contains a lone surrogate (\udbff)"),
    ("surrogate-member", r'{"type": "conversation", "id": "c2", "kind": "group", "members": ["u1", "\ud800"]}',
     r"'members'[1] contains a lone surrogate (\ud800)"),
    ("surrogate-emoji", msg(r'"reactions": [{"user": "u2", "emoji": "\ud83d"}]'),
     r"'reactions'[0]['emoji'] contains a lone surrogate (\ud83d)"),
    ("surrogate-payload-key", msg(r'"payload": {"\udc00": 1}'), r"a key in 'payload' contains a lone surrogate (\udc00)"),
    ("surrogate-payload-value", msg(r'"payload": {"a": ["x", {"b": "\ud800"}]}'),
     r"'payload'['a'][1]['b'] contains a lone surrogate (\ud800)"),
    ("surrogate-field-name", r'{"type": "user", "id": "u4", "name": "Eve", "\ud800": 1}', r"a field name contains a lone surrogate (\ud800)"),
    ("surrogate-time", msg(r'"body": "x"').replace("2026-01-05T10:00:00Z", r"2026-01-05T10:00:00Z\ud800"),
     r"'sent_at' contains a lone surrogate (\ud800)"),
    ("nul-payload-key", msg(r'"payload": {"a\u0000": 1}'), r"a key in 'payload' contains a NUL character (\u0000)"),
    ("nul-title", r'{"type": "conversation", "id": "c2", "kind": "group", "title": "a\u0000", "members": ["u1"]}',
     r"'title' contains a NUL character (\u0000)"),
    ("nul-emoji", msg(r'"reactions": [{"user": "u2", "emoji": "\u0000"}]'), r"'reactions'[0]['emoji'] contains a NUL character"),
    ("nested-1000", msg('"payload": {"a": ' + "[" * 1000 + "]" * 1000 + "}"), "nested more than 64 levels deep"),
    ("nested-100000-unclosed", msg('"payload": ' + "[" * 100_000), "nested more than 64 levels deep"),
    ("nested-65", msg('"payload": ' + "[" * 64 + "]" * 64), "nested more than 64 levels deep"),
    ("digits-5000", msg('"payload": {"n": ' + "9" * 5000 + "}"), "a number with more than 4300 digits"),
    ("digits-5000-negative", msg('"payload": {"n": -' + "9" * 5000 + "}"), "a number with more than 4300 digits"),
    ("float-overflow", msg('"payload": {"x": 1e400}'), "the number 1e400 is too large"),
    ("time-overflow-low", msg('"body": "x"').replace("2026-01-05T10:00:00Z", "0001-01-01T00:30:00+01:00"),
     "'sent_at' is out of range once moved to UTC: '0001-01-01T00:30:00+01:00'"),
    ("time-overflow-high", msg('"body": "x"').replace("2026-01-05T10:00:00Z", "9999-12-31T23:30:00-01:00"),
     "'sent_at' is out of range once moved to UTC"),
    ("json-string", '"just text"', "expected a JSON object, got a string"),
    ("json-null", "null", "expected a JSON object, got null"),
    ("json-number", "1e999", "the number 1e999 is too large"),
    ("body-too-big", msg('"body": "' + "x" * 65_537 + '"'),
     "'body' is 65,537 bytes long; an import accepts at most 65,536 (IMPORT_MAX_BODY_BYTES)"),
    ("body-too-big-multibyte", msg('"body": "' + "é" * 40_000 + '"'), "'body' is 80,000 bytes long"),
    ("line-too-long", msg('"payload": {"blob": "' + "x" * (6 * 65_536 + 1_048_576) + '"}'),
     "the line is longer than 1,441,792 bytes"),
]


def attempt(path, *args):
    """(exit status, stderr) of one run of import_chat."""
    err = io.StringIO()
    try:
        call_command("import_chat", str(path), *args, stdout=io.StringIO(), stderr=err)
    except CommandError as exc:
        err.write(f"CommandError: {exc}\n")
        return exc.returncode, err.getvalue()
    return 0, err.getvalue()


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_bytes(ndjson(lines).encode("utf-8", "surrogatepass"))
    return path


@pytest.mark.parametrize("bad_line, problem", [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_it_refuses_a_hostile_line_the_same_way_in_the_dry_run_and_the_import(tmp_path, bad_line, problem):
    call_command("import_chat", str(write(tmp_path, "earlier.ndjson", EARLIER)), stdout=io.StringIO())
    before, chat_before = snapshot(), snapshot_chat()
    path = write(tmp_path, "bad.ndjson", [user("u3", "Carol"), user("u2", "Robert"), bad_line, message("m2", body="new")])

    dry = attempt(path, "--dry-run")
    real = attempt(path)

    assert dry == real
    status, err = real
    assert status == 2
    reported = [line for line in err.splitlines() if not line.startswith("CommandError")]
    assert len(reported) == 1 and reported[0].startswith(f"{path}:3: "), err
    assert problem in reported[0]
    assert "bad.ndjson has 1 error; nothing was imported." in err
    assert (snapshot(), snapshot_chat()) == (before, chat_before)


def test_it_accepts_what_is_hostile_only_in_appearance(tmp_path):
    """The guards refuse only what cannot be stored: these all import and read back exactly."""
    deep = {"a": 1}
    for _ in range(30):  # 61 levels; with the line's object and the payload's, 63 of the 64 allowed
        deep = {"d": [deep]}
    lines = [
        *EARLIER[:3],
        msg(r'"body": "paired surrogates decode to one character: \ud83d\ude00"'),
        message("m2", body="é" * 32_768, payload={"n": int("9" * 4300), "f": 1e308, "deep": deep}),
        message("m3", body="x" * 65_536),
    ]

    call_command("import_chat", str(write(tmp_path, "fine.ndjson", lines)), stdout=io.StringIO())

    assert Message.objects.get(external_id="m9").body.endswith("character: 😀")
    m2 = Message.objects.get(external_id="m2")
    assert (len(m2.body), m2.payload["n"], m2.payload["deep"]) == (32_768, int("9" * 4300), deep)
    assert len(Message.objects.get(external_id="m3").body) == 65_536


def test_it_reports_lines_after_an_over_long_line_with_their_own_numbers(tmp_path):
    long_line = msg('"payload": {"blob": "' + "x" * 1_500_000 + '"}')
    path = write(tmp_path, "bad.ndjson", [*EARLIER[:3], long_line, user("u9", 5)])

    status, err = attempt(path)

    assert status == 2
    assert f"{path}:4: the line is longer than" in err
    assert f"{path}:5: 'name' must be a string, got a number" in err


def test_it_counts_the_body_limit_from_the_setting(tmp_path, settings):
    settings.IMPORT_MAX_BODY_BYTES = 10
    path = write(tmp_path, "bad.ndjson", [*EARLIER[:3], message("m1", body="0123456789"), message("m2", body="0123456789a")])

    status, err = attempt(path, "--dry-run")

    assert status == 2
    assert err.splitlines()[0] == f"{path}:5: 'body' is 11 bytes long; an import accepts at most 10 (IMPORT_MAX_BODY_BYTES)"


def words(count):
    """`count` distinct 7-byte words: each costs the full-text entry 12 bytes (7, aligned to 8,
    plus a position count and one position), so 87,381 of them fit PostgreSQL's 1,048,575 bytes
    and 87,382 do not."""
    return " ".join(f"w{i:06d}" for i in range(1, count + 1))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the full-text index exists on PostgreSQL only")
def test_it_refuses_a_body_whose_full_text_entry_postgresql_would_refuse_at_the_edge(tmp_path, settings):
    settings.IMPORT_MAX_BODY_BYTES = 1_000_000  # larger than both bodies: only the full-text limit is in play
    call_command("import_chat", str(write(tmp_path, "earlier.ndjson", EARLIER)), stdout=io.StringIO())
    before = snapshot()
    over = write(tmp_path, "over.ndjson", [message("m2", body=words(87_382))])

    dry, real = attempt(over, "--dry-run"), attempt(over)

    assert dry == real and real[0] == 2
    assert (f"{over}:1: 'body' is too long for the full-text index: PostgreSQL refuses its entry "
            "(string is too long for tsvector (1048584 bytes, max 1048575 bytes))") in real[1]
    assert snapshot() == before

    at_limit = write(tmp_path, "at-limit.ndjson", [message("m2", body=words(87_381))])
    assert attempt(at_limit, "--dry-run")[0] == 0
    assert attempt(at_limit)[0] == 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM chatdata_message WHERE to_tsvector('simple'::regconfig, COALESCE(body, '')) "
            "@@ to_tsquery('simple', 'w087381')"
        )
        assert cursor.fetchone()[0] == 1


def test_it_refuses_a_hostile_line_read_from_standard_input(monkeypatch):
    data = ndjson([*EARLIER[:3], msg(r'"body": "\ud800"')]).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))

    with pytest.raises(CommandError) as excinfo:
        call_command("import_chat", "-", stdout=io.StringIO(), stderr=(err := io.StringIO()))

    assert excinfo.value.returncode == 2
    assert r"standard input:4: 'body' contains a lone surrogate (\ud800)" in err.getvalue()
    assert not Message.objects.exists()


def test_it_keeps_json_checks_out_of_the_way_of_ordinary_numbers(tmp_path):
    lines = [*EARLIER[:3], message("m1", payload={"w": 640, "ratio": 1.5, "neg": -3, "exp": 2e10, "list": [1, [2, [3]]]})]

    call_command("import_chat", str(write(tmp_path, "ok.ndjson", lines)), stdout=io.StringIO())

    assert Message.objects.get().payload == json.loads(json.dumps(lines[-1]["payload"]))
