"""Input that PostgreSQL cannot store is bad input, not a server error: a NUL character, or a lone
UTF-16 surrogate (JSON's "\\ud800" escapes decode to one, and UTF-8 has no encoding for it). Both
are refused with 422 before any endpoint runs, naming where they were found."""

import json

from dashboard.api.common import Invalid


def _bad(text):
    return "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)


def check_text(value, where):
    if isinstance(value, str):
        if _bad(value):
            raise Invalid("Text may not contain NUL characters or lone surrogates.", where or None)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, where)
            check_text(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for item in value:
            check_text(item, where)


def check_request_text(request):
    """Refuse (422) a query string or JSON body carrying text PostgreSQL cannot store. Runs with
    the authentication, before ninja parses anything (its body parser would turn this into a 400
    without the field)."""
    for key, values in request.GET.lists():
        check_text(key, "")
        check_text(values, key)
    if request.body and request.content_type == "application/json":
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return  # ninja answers 400: the body is not JSON
        check_text(data, "")
