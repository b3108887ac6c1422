"""Reading the fields of a purge's input: ids, id lists, senders, aware datetimes, time windows and
the words of a matching scope. Each reader returns the clean value or raises PurgeInvalid naming
the field, with no database access; the scope objects in chatdata.purge.scopes call them, and so
do legal holds, erasure requests and the forms that share their rules.
"""

from datetime import UTC, datetime

from django.conf import settings

from chatdata.parsing import InvalidNumber, InvalidText, check_text, parse_id

# The most characters of words a matching scope takes (the search form's limit).
MATCHING_TEXT_LIMIT = 200


class PurgeInvalid(Exception):
    """A scope or effect that cannot be run; `message` says why, `field` names the culprit."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


def parse_pk(value, field):
    try:
        return parse_id(value, field)
    except InvalidNumber as exc:
        raise PurgeInvalid(exc.message, field) from None


def parse_pks(values, field):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise PurgeInvalid(f"{field} must be a list of ids.", field)
    unique = []
    seen = set()
    for value in values:
        pk = parse_pk(value, field)
        if pk not in seen:
            seen.add(pk)
            unique.append(pk)
    check_id_count(len(unique), field)
    return tuple(unique)


def parse_senders(values):
    """Chat user pks narrowing a scope to what they sent; () for everyone."""
    return parse_pks(values or (), "senders")


def check_id_count(count, field):
    """settings.PURGE_MAX_IDS: how many ids one scope (or one request's list of external ids) takes."""
    limit = settings.PURGE_MAX_IDS
    if count > limit:
        raise PurgeInvalid(f"At most {limit} {field} can be given in one request; got {count}.", field)


def parse_moment(value, field):
    """An aware datetime in UTC from a datetime or an ISO 8601 string; naive ones are refused."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise PurgeInvalid(f"{field} {value!r} is not an ISO 8601 date and time.", field) from None
    if not isinstance(value, datetime):
        raise PurgeInvalid(f"{field} must be a date and time, not {value!r}.", field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise PurgeInvalid(
            f"{field} {value.isoformat()} has no timezone; give one, e.g. {value.isoformat()}Z or +02:00.", field
        )
    return value.astimezone(UTC)


def check_bounds(start, end):
    """A time window's one rule, for scopes and legal holds alike: the end comes after the start."""
    if start is not None and end is not None and end <= start:
        raise PurgeInvalid("The end must be after the start.", "end")


def parse_match_text(value):
    """The words of a matching scope, stripped and checked as chatdata.parsing.check_text checks
    text; "" for none."""
    text = "" if value is None else value
    if not isinstance(text, str):
        raise PurgeInvalid("text must be the words to match, as a string.", "text")
    try:
        text = check_text(text.strip(), "text")
    except InvalidText as exc:
        raise PurgeInvalid(exc.message, "text") from None
    if len(text) > MATCHING_TEXT_LIMIT:
        raise PurgeInvalid(f"The words to match are longer than {MATCHING_TEXT_LIMIT} characters.", "text")
    return text


def finds_a_word(text):
    """Whether the words ask for something (a word not excluded by a leading minus, nor `or`)."""
    return any(word.strip('"').lstrip("-") and not word.startswith("-") and word.lower() != "or" for word in text.split())
