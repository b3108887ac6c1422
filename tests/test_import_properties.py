"""Property-based tests of import_chat against hostile input (issue 11, item 7), with hypothesis.

Each example writes a file of valid lines (which would rename a user, add one, retitle the
conversation and add a message) with ONE hostile line among them, built by taking a valid record
and breaking one thing in it: a lone surrogate or a NUL in any string (keys included), nesting
far past the limit, an integer too long to convert, a number too large for a float, a wrong type
in any field, a body over IMPORT_MAX_BODY_BYTES, an unknown field, bytes that are not UTF-8, or a
line that is JSON but not an object. Random unicode rides along everywhere.

Whatever the example, import_chat must exit with status 2, print only messages that name a line
(the hostile one among them), say the same in the dry run, and leave every chat table exactly as
it was. The command's flags get the same treatment: hostile file names and actor names are
refused with a clear message, never a traceback.
"""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, event, given, settings as hypothesis_settings, strategies as st

from chatdata.models import ChatUser
from chatdata.parsing import InvalidText, check_text
from tests.builders import snapshot_chat
from tests.test_import_chat import EARLIER, conversation, message, snapshot, user

pytestmark = pytest.mark.django_db

BODY_LIMIT = 64  # IMPORT_MAX_BODY_BYTES during these tests
BAD_CHARACTERS = ["\ud800", "\udbff", "\udc00", "\udfff", "\x00"]

# Any character at all, lone surrogates and NUL included: what a JSON \u escape can spell.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)


@st.composite
def hostile_text(draw):
    """Random text with at least one character no database can store."""
    text = draw(any_text)
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from(BAD_CHARACTERS)) + text[at:]


def nested(depth, leaf):
    """JSON text of `leaf` inside `depth` alternating objects and arrays (json.dumps would recurse)."""
    opening = "".join('{"k": ' if level % 2 else "[" for level in range(depth))
    closing = "".join("}" if level % 2 else "]" for level in reversed(range(depth)))
    return opening + json.dumps(leaf) + closing


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | any_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3),
    max_leaves=8,
)
wrong_types = {  # for each kind of field, values of every other JSON type
    "text": st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    "array": st.none() | st.booleans() | st.integers() | st.text() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    "object": st.none() | st.booleans() | st.integers() | st.text() | st.lists(st.integers(), max_size=2),
}
FIELD_KINDS = {"members": "array", "reactions": "array", "payload": "object"}


def records():
    """The valid records a hostile line is made from (their ids clash with nothing in the file)."""
    return [
        user("u7", "Grace"),
        conversation("c7", ["u1", "u2"], title="Side"),
        message("m7", body="ok", payload={"w": 1, "tags": ["a"]}, reactions=[{"user": "u2", "emoji": "👍"}]),
    ]


def paths(value, path=()):
    """Every place in a record where a value sits: (path to it, its value)."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*path, index))


def put(record, path, value):
    *parents, last = path
    target = record
    for step in parents:
        target = target[step]
    target[last] = value


@st.composite
def hostile_lines(draw):
    """(line as bytes, what was broken): always invalid, in exactly one deliberate way."""
    record = json.loads(json.dumps(draw(st.sampled_from(records()))))
    places = [(path, value) for path, value in paths(record) if path and path != ("type",)]
    how = draw(st.sampled_from(["character", "key", "nesting", "digits", "float", "type", "body", "unknown", "utf8", "not-object"]))
    path, value = draw(st.sampled_from(places))
    if how == "character":
        strings = [(p, v) for p, v in places if isinstance(v, str)]
        path, _ = draw(st.sampled_from(strings))
        put(record, path, draw(hostile_text()))
    elif how == "key":
        containers = [p for p, v in [((), record), *places] if isinstance(v, dict)]
        parent = draw(st.sampled_from(containers))
        target = record
        for step in parent:
            target = target[step]
        target[draw(hostile_text())] = draw(json_values)
    elif how in ("nesting", "digits", "float"):
        if how == "nesting":
            raw = nested(draw(st.integers(65, 3000)), draw(json_values))
        else:
            raw = "9" * draw(st.integers(4301, 6000)) if how == "digits" else f"1e{draw(st.integers(309, 10_000))}"
        put(record, path, "__RAW__")
        return json.dumps(record, ensure_ascii=True).replace('"__RAW__"', raw).encode(), how
    elif how == "type":
        top = path[:1]
        kind = FIELD_KINDS.get(top[0], "text")
        put(record, top, draw(wrong_types[kind]))
    elif how == "body":
        record = json.loads(json.dumps(records()[2]))
        record["body"] = draw(st.text(min_size=BODY_LIMIT + 1, max_size=BODY_LIMIT * 3))
    elif how == "unknown":
        record[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in record and k.strip()))] = draw(json_values)
    elif how == "not-object":
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict)))).encode(), how
    # ensure_ascii: lone surrogates and NUL travel as \u escapes, exactly as an export would write them.
    text = json.dumps(record, ensure_ascii=True).encode()
    if how == "utf8":
        at = draw(st.integers(1, len(text) - 1))
        text = text[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])) + text[at:]
    return text, how


def valid_lines():
    """Lines that would change the database: rename u2, add u3, retitle c1, add m2."""
    return [json.dumps(line).encode() for line in [
        user("u3", "Carol"), user("u2", "Robert"), conversation("c1", ["u1", "u2", "u3"], title="Renamed"),
        message("m2", sender="u3", body="new"),
    ]]


def run(path, *args):
    err = io.StringIO()
    try:
        call_command("import_chat", path, *args, stdout=io.StringIO(), stderr=err)
    except CommandError as exc:
        return exc.returncode, err.getvalue(), str(exc)
    return 0, err.getvalue(), ""


def import_earlier(tmp_path):
    if not ChatUser.objects.exists():
        path = tmp_path / "earlier.ndjson"
        path.write_text("\n".join(json.dumps(line) for line in EARLIER))
        call_command("import_chat", str(path), stdout=io.StringIO())


@hypothesis_settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(hostile=hostile_lines(), position=st.integers(0, 4))
def test_a_hostile_line_is_refused_by_line_and_changes_nothing(tmp_path, settings, hostile, position):
    settings.IMPORT_MAX_BODY_BYTES = BODY_LIMIT
    import_earlier(tmp_path)
    before = (snapshot(), snapshot_chat())
    line, how = hostile
    event(how)
    lines = valid_lines()
    lines.insert(position, line)
    path = tmp_path / "hostile.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")

    dry, real = run(str(path), "--dry-run"), run(str(path))

    assert dry == real, how
    status, err, summary = real
    assert status == 2, (how, err, summary)
    reported = err.splitlines()
    assert reported and all(text.startswith(f"{path}:") for text in reported if not text.startswith("... and ")), (how, err)
    assert any(text.startswith(f"{path}:{position + 1}: ") for text in reported), (how, err)
    assert summary.endswith("nothing was imported.")
    assert (snapshot(), snapshot_chat()) == before, how


def text_refusal(name, flag, otherwise=None):
    """What chatdata.parsing says of `name` given as `flag` (a NUL, a lone surrogate), else `otherwise`."""
    try:
        check_text(name, flag)
    except InvalidText as exc:
        return exc.message
    return otherwise


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=any_text | hostile_text() | st.text(min_size=300, max_size=400))
def test_hostile_flags_get_a_clear_message(tmp_path, name):
    good = tmp_path / "good.ndjson"
    good.write_text("\n".join(json.dumps(line) for line in EARLIER))
    before = (snapshot(), snapshot_chat())

    actor = run(str(good), f"--actor={name}")
    missing_path = str(tmp_path / "missing") + name
    missing = run(missing_path)

    assert actor[0] == 2 and actor[2] == text_refusal(name, "--actor", f"No active staff account named {name!r}."), actor
    assert missing[0] == 2, missing
    assert missing[2] == text_refusal(missing_path, "--file") or (
        missing[2].startswith("cannot read ") and missing[2].endswith("nothing was imported.")), missing
    assert (snapshot(), snapshot_chat()) == before
