"""Typed readers for environment variables.

Every setting chatsweep takes from the environment goes through one of these helpers, so a bad
value stops the start with a message that names the variable instead of failing later in some
unrelated place.
"""

import os
import re
import zoneinfo
from pathlib import Path
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


def env_file_path(name, default):
    """An absolute path to a file (existing or not), or `default` when unset. Relative paths are
    refused: each process (web server, worker, cron) would resolve one against its own working
    directory."""
    value = _raw(name)
    if not value:
        return Path(default)
    path = Path(value)
    if not path.is_absolute():
        raise bad(name, value, "an absolute path to a file")
    if path.is_dir():
        raise bad(name, value, "a path to a file, not a directory")
    return path


_HEADER_NAME = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_HEADER_VALUE = re.compile(r"[!-+\--~]+")  # visible ASCII but the comma (a list is not one value)


def env_proxy_header(name):
    """`Header-Name` or `Header-Name: value` (value `https` when left out) as Django's
    SECURE_PROXY_SSL_HEADER pair, e.g. ("HTTP_X_FORWARDED_PROTO", "https"); None when unset.

    Refused, since such a setting could never match and SECURE_SSL_REDIRECT would then redirect
    forever: underscores (WSGI servers drop headers spelled with them, as they would collide with
    the dashes after translation) and Content-Type / Content-Length (WSGI passes them without the
    HTTP_ prefix)."""
    value = _raw(name)
    if not value:
        return None
    header, colon, expected = (part.strip() for part in value.partition(":"))
    if (
        not _HEADER_NAME.fullmatch(header)
        or header.lower() in {"content-type", "content-length"}
        or (colon and not _HEADER_VALUE.fullmatch(expected))
    ):
        raise bad(name, value, "a request header name such as X-Forwarded-Proto, optionally followed by ': value' "
                               "(default https), such as X-Forwarded-Ssl: on")
    return ("HTTP_" + header.upper().replace("-", "_"), expected if colon else "https")

def env_secret(name, *, debug, development_default, minimum_length=32):
    """A key: a development default only while DEBUG is on; required and at least
    `minimum_length` characters when it is off. The value itself is never shown in an error."""
    value = env_str(name)
    if value is None:
        if not debug:
            raise bad(name, "", "a long random string (required when DEBUG is off)")
        return development_default
    if len(value) < minimum_length and not debug:
        raise bad(name, "<hidden>", f"at least {minimum_length} characters when DEBUG is off")
    return value
