"""What JSON allows but nothing after the parser can hold: the importer's guards against hostile lines.

A line that decodes fine can still crash an import far from the line, or, worse, pass the dry run
and then be refused by the database halfway through the real one. So each of these is refused
here, on its line, by the same code in both runs:

- Lone surrogates. JSON's `\\ud800` escape decodes to half of a UTF-16 pair, which Python keeps
  as a code point that UTF-8 cannot encode: psycopg fails when it sends one. NUL (U+0000) is
  refused by PostgreSQL in text and jsonb. Every string of a line is checked, keys included.
- Nesting. Python's decoder recurses once per level and runs out of stack somewhere near 1,000
  levels, at a depth that depends on how deep the caller already is: the same line could pass
  the dry run and fail the import. So depth is measured before decoding, by a scan that does
  not recurse, and a line deeper than NESTING_MAX is refused whatever the stack.
- Numbers. Python refuses to turn more than 4,300 digits into an int (a ValueError from inside
  the decoder) and 1e400 decodes to infinity, which jsonb refuses.
- Sizes. IMPORT_MAX_BODY_BYTES bounds a body; a line may hold at most line_limit() bytes, so
  one line never costs unbounded memory, and it is read in pieces of that size.
- PostgreSQL's full-text entry. The GIN index msg_body_fts_idx (migration 0003) indexes
  to_tsvector('simple', body), and PostgreSQL refuses to build a tsvector whose lexemes and
  positions take more than 1,048,575 bytes (a long word is dropped with a notice, positions past
  16,383 and more than 255 per word are silently capped: only the total size is an error). The
  size depends on the parser's tokens, not just the length, so the database is asked, for every
  body of FULLTEXT_CHECK_BYTES or more: smaller ones cannot get there (the worst measured
  expansion is under 5 times the body; reaching 1 MB from 16 KB would take 64).
"""

import json
import re

from django.conf import settings
from django.db import DatabaseError, connection, transaction

NESTING_MAX = 64  # levels of objects and arrays in a line, its own object included
INT_DIGITS_MAX = 4300  # Python's default int_max_str_digits: longer numbers cannot be converted
LINE_SLACK = 1_048_576  # bytes a line may hold besides its body (ids, payload, reactions)
FULLTEXT_CHECK_BYTES = 16_384
PROGRAM_LIMIT_EXCEEDED = "54000"  # PostgreSQL's SQLSTATE for "string is too long for tsvector"


class LineError(Exception):
    # Set when the broken line still names a user or conversation id: references to it can then
    # say "its line is invalid" instead of "not defined".
    defines = None  # (type, id)


class OverLongLine:
    """Stands for a line longer than line_limit(), which is never held in memory."""

    def __init__(self, size):
        self.size = size


def line_limit():
    # A body may take up to 6 bytes per byte in the file (\u0001), and the other fields their slack.
    return 6 * settings.IMPORT_MAX_BODY_BYTES + LINE_SLACK


def read_lines(stream, hasher):
    """(line number, bytes or OverLongLine) for every line of a seekable binary stream, from its
    start; every byte read goes into `hasher`. An over-long line is read through in pieces."""
    limit = line_limit()
    stream.seek(0)
    number = 0
    while raw := stream.readline(limit + 1):
        number += 1
        hasher.update(raw)
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield number, raw
            continue
        size = len(raw)
        while (piece := stream.readline(limit + 1)):
            hasher.update(piece)
            size += len(piece)
            if piece.endswith(b"\n"):
                break
        yield number, OverLongLine(size)


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def _too_deep(text):
    if text.count("[") + text.count("{") <= NESTING_MAX:
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > NESTING_MAX:
                return True
        else:
            depth -= 1
    return False


def _parse_int(digits):
    count = len(digits) - digits.startswith("-")
    if count > INT_DIGITS_MAX:
        raise LineError(f"a number with more than {INT_DIGITS_MAX} digits ({count:,}) cannot be converted")
    return int(digits)


def _parse_float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        shown = text if len(text) <= 24 else text[:24] + "…"
        raise LineError(f"the number {shown} is too large (more than about 1.8e308)")
    return value


def _refuse_constant(name):
    # NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them.
    raise LineError(f"{name} is not a JSON value")


def _refuse_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise LineError(f"field {key!r} appears twice in one object")
        seen[key] = value
    return seen


# One decoder for every line: json.loads with hooks would build a new one per call.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant, parse_int=_parse_int, parse_float=_parse_float
)


def decode(text):
    """The JSON value of one line of text, or LineError."""
    if _too_deep(text):
        raise LineError(f"nested more than {NESTING_MAX} levels deep (objects and arrays)")
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    except (RecursionError, ValueError):  # left for safety: the checks above should catch both
        raise LineError("not valid JSON: too deeply nested or a number that cannot be converted") from None


_SURROGATE = re.compile("[\ud800-\udfff]")


def string_problem(text):
    """Why PostgreSQL could not store this string, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which the database cannot store"
    found = _SURROGATE.search(text)
    if found:
        return f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not a character and cannot be stored"
    return None


def _where(path):
    head, *rest = path
    return repr(head) + "".join(f"[{step!r}]" for step in rest)


def string_problems(obj, most=5):
    """What is wrong with the strings of a decoded line (keys included), each named by its path:
    'name', 'members'[1], 'payload'['a'][0], a key in 'payload', a field name."""
    problems = []
    stack = [(obj, ())]
    while stack and len(problems) < most:
        value, path = stack.pop()
        if isinstance(value, str):
            problem = string_problem(value)
            if problem:
                problems.append(f"{_where(path)} {problem}")
        elif isinstance(value, dict):
            for key in value:
                problem = string_problem(key)
                if problem:
                    problems.append(f"{f'a key in {_where(path)}' if path else 'a field name'} {problem}")
            stack.extend(((item, (*path, key)) for key, item in reversed(value.items())))
        elif isinstance(value, list):
            stack.extend(((item, (*path, index)) for index, item in reversed(list(enumerate(value)))))
    return problems[:most]


def fulltext_problem(body):
    """Why PostgreSQL would refuse this body's full-text entry, or None (see the module's doc)."""
    if connection.vendor != "postgresql" or len(body.encode()) < FULLTEXT_CHECK_BYTES:
        return None
    try:
        # The index's own expression; a savepoint keeps a refusal from spoiling the import's transaction.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT length(to_tsvector('simple'::regconfig, COALESCE(%s, '')))", [body])
    except DatabaseError as exc:
        cause = exc.__cause__
        if getattr(cause, "sqlstate", None) != PROGRAM_LIMIT_EXCEEDED:
            raise
        return f"'body' is too long for the full-text index: PostgreSQL refuses its entry ({cause.diag.message_primary})"
    return None
