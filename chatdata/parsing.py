"""Whole numbers from outside (forms, query parameters, JSON, command-line flags, the environment):
ids, counts, page positions. Every one is read here, and only ASCII digits count as digits.

Python is generous with digits, and each generosity was a bug somewhere: '²'.isdigit() is true
but int('²') raises (an HTTP 500 behind an isdigit() check); int('٣') is 3 and int('１') is 1
(Arabic-Indic and fullwidth digits), so a typed confirmation or an id could match by accident;
int('1_000') is 1000; int() of a 5,000-digit string raises (CPython's int_max_str_digits); and an
id over 2**63 - 1 is a database error, not "no such row". Here a number is optional ASCII
whitespace around the digits 0 to 9 (leading zeros allowed), within the caller's bounds, or an
InvalidNumber whose message names the field and the value.
"""

import argparse

MAX_ID = 2**63 - 1  # PostgreSQL bigint
ASCII_SPACE = " \t\r\n\f\v"
SHOWN = 20


class InvalidNumber(ValueError):
    """`message` says what is wrong, naming `field`; `code` is 'required', 'invalid' or 'range'."""

    def __init__(self, message, field=None, code="invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def shown(value):
    """A value quoted for a message, cut short: a 5,000-digit number is not repeated whole."""
    text = str(value)
    return f"“{text[:SHOWN]}…”" if len(text) > SHOWN else f"“{text}”"


def parse_int(value, field, *, minimum=0, maximum=MAX_ID, noun="a whole number"):
    """`value` (an int, or a string of ASCII digits) as an int in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidNumber(f"{field}: {shown(value)} is not {noun}.", field)
    if isinstance(value, str):
        text = value.strip(ASCII_SPACE)
        if not text:
            raise InvalidNumber(f"{field}: give {noun}, written with the digits 0 to 9.", field, "required")
        if not (text.isascii() and text.isdigit()):
            raise InvalidNumber(f"{field}: {shown(value)} is not {noun}: write it with the digits 0 to 9 only.", field)
        significant = text.lstrip("0")
        if len(significant) > len(str(maximum)):  # too big to be in range; int() of it could be slow or raise
            raise InvalidNumber(_range_message(field, value, noun, minimum, maximum), field, "range")
        value = int(text)
    if not minimum <= value <= maximum:
        raise InvalidNumber(_range_message(field, value, noun, minimum, maximum), field, "range")
    return value


def _range_message(field, value, noun, minimum, maximum):
    return f"{field}: {shown(value)} is out of range: {noun} from {minimum:,} to {maximum:,} is expected."


def parse_id(value, field):
    """A database id: 1 to 2**63 - 1."""
    return parse_int(value, field, minimum=1, maximum=MAX_ID, noun="an id (a positive whole number)")


def parse_count(value, field, *, maximum=MAX_ID):
    """A count or a position: 0 to `maximum`."""
    return parse_int(value, field, minimum=0, maximum=maximum, noun="a whole number")


def is_id(value):
    try:
        parse_id(value, "id")
    except InvalidNumber:
        return False
    return True


def parse_seconds(value, field, *, maximum=10**7):
    """A duration in seconds, `12` or `0.5`: ASCII digits with an optional fraction."""
    text = str(value).strip(ASCII_SPACE)
    whole, dot, fraction = text.partition(".")
    if not whole or not (whole + fraction).isascii() or not (whole + fraction).isdigit() or (dot and not fraction):
        raise InvalidNumber(f"{field}: {shown(value)} is not a number of seconds, such as 30 or 2.5.", field)
    if len(whole.lstrip("0")) > len(str(maximum)) or float(text) > maximum:
        raise InvalidNumber(_range_message(field, value, "a number of seconds", 0, maximum), field, "range")
    return float(text)


def argparse_type(parse, field, **bounds):
    """A type= for argparse reading with `parse` (parse_id, parse_count, parse_seconds): a bad
    value ends the command with exit status 2 and the message."""

    def convert(text):
        try:
            return parse(text, field, **bounds)
        except InvalidNumber as exc:  # argparse names the argument itself
            raise argparse.ArgumentTypeError(exc.message.removeprefix(f"{field}: ")) from None

    convert.__name__ = parse.__name__.removeprefix("parse_")  # what argparse calls the type in its errors
    return convert


# --- text ---------------------------------------------------------------------------------------


class InvalidText(ValueError):
    """Text PostgreSQL cannot store; `message` names `field`."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


def check_text(value, field):
    """`value` if PostgreSQL can store it as text: no NUL character (its text types refuse 0x00)
    and no lone surrogate (not encodable in UTF-8; a command-line argument can carry one)."""
    if "\x00" in value:
        raise InvalidText(f"{field}: contains a NUL character (\\x00), which text cannot hold.", field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidText(f"{field}: {shown(ascii(value))} is not valid text (a lone surrogate).", field) from None
    return value


def check_options(options):
    """Every text value among a command's parsed options (strings, and lists of them), by check_text."""
    for name, value in options.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str):
                check_text(item, "--" + name.replace("_", "-"))
