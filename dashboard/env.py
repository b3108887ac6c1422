"""Typed readers for environment variables.

Every setting chatsweep takes from the environment goes through one of these helpers, so a bad
value stops the start with a message that names the variable instead of failing later in some
unrelated place.
"""

import os
import re
import zoneinfo
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from chatdata.parsing import InvalidNumber, parse_int

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def _raw(name):
    value = os.environ.get(name)
    return None if value is None else value.strip()


def bad(name, value, expected):
    return ImproperlyConfigured(f"{name}={value!r} is not valid: expected {expected}.")


def env_str(name, default=None):
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name, default=False):
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise bad(name, value, "one of 1/0, true/false, yes/no, on/off")


def env_int(name, default, *, minimum=None, maximum=None):
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        # chatdata.parsing: ASCII digits only (int() would take '٣' for 3); an optional minus sign.
        number = (-1 if value.startswith("-") else 1) * parse_int(value.removeprefix("-"), name, maximum=10**18)
    except InvalidNumber:
        raise bad(name, value, "a whole number") from None
    if minimum is not None and number < minimum:
        raise bad(name, value, f"a whole number of at least {minimum}")
    if maximum is not None and number > maximum:
        raise bad(name, value, f"a whole number of at most {maximum}")
    return number


def env_choice(name, default, choices):
    value = env_str(name, default)
    if value not in choices:
        raise bad(name, value, f"one of {', '.join(choices)}")
    return value


def env_list(name, default):
    value = _raw(name)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise bad(name, value, "a comma-separated list with at least one item")
    return items


def env_url(name, schemes):
    """A URL whose scheme is one of `schemes`, or None when the variable is unset or empty."""
    value = _raw(name)
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        raise bad(name, value, f"a URL starting with {' or '.join(s + '://' for s in schemes)}")
    if parsed.scheme not in {"sqlite", "unix"} and not parsed.hostname:
        raise bad(name, value, "a URL with a host name")
    try:
        parsed.port
    except ValueError:
        raise bad(name, value, "a URL with a numeric port") from None
    return value


def env_redis_url(name):
    value = env_url(name, ["redis", "rediss", "unix"])
    if value and not value.startswith("unix:") and not re.fullmatch(r"/?\d*", urlparse(value).path):
        # redis-py would silently fall back to database 0, shared with whoever else uses it.
        raise bad(name, value, "a database number as the path, such as redis://127.0.0.1:6379/0")
    return value


def env_timezone(name, default="UTC"):
    value = env_str(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise bad(name, value, "an IANA time zone name such as UTC or Europe/Berlin") from None
    return value
