"""Filter and search forms of the browse pages.

Every value a URL can carry goes through a form, so a hand-edited or stale URL (a bad date, an
unknown kind, a non-numeric id, a damaged page cursor) gets an error next to its field instead of a
500. Dates are calendar days in settings.TIME_ZONE.
"""

from datetime import date, datetime, time, timedelta

from django import forms
from django.urls import reverse_lazy
from django.utils import timezone

from chatdata.browse.directory import SORTS
from chatdata.browse.keyset import MAX_ID, InvalidCursor, Position
from chatdata.browse.naming import UnknownName, find_conversation, find_user
from chatdata.browse.search import MessageQuery
from chatdata.models import Conversation
from chatdata.parsing import InvalidNumber, parse_int

STALE_CURSOR = "This page link is out of date or damaged. Start again from the first page."
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2999, 12, 31)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def end_of_day(day: date) -> datetime:
    """The first moment after `day` (an exclusive bound)."""
    return start_of_day(day + timedelta(days=1))


class DayField(forms.DateField):
    widget = forms.DateInput(attrs={"type": "date"})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(input_formats=["%Y-%m-%d"], **kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError:
            # Name the rejected value: a date input cannot redisplay what it does not understand.
            raise forms.ValidationError(f"“{value[:40]}” is not a date: enter one as YYYY-MM-DD.", code="invalid") from None

    def validate(self, value):
        super().validate(value)
        if value and not EARLIEST_DAY <= value <= LATEST_DAY:
            raise forms.ValidationError(f"Enter a date between {EARLIEST_DAY} and {LATEST_DAY}.")


class CursorField(forms.Field):
    """A (timestamp, id) page position from keyset.Position."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        value = (value or "").strip()
        if not value:
            return None
        try:
            if len(value) > 64:
                raise InvalidCursor(value)
            return Position.decode(value)
        except InvalidCursor:
            raise forms.ValidationError(STALE_CURSOR, code="invalid") from None


class WholeNumberField(forms.Field):
    """A whole number in ASCII digits (chatdata.parsing: never '٣' for 3, never a 500 for '²'),
    from `minimum` to `maximum`. A text input (not type=number), so a rejected value stays visible."""

    default_error_messages = {
        "invalid": "Enter a whole number, with the digits 0 to 9.",
        "range": "Enter a number from {minimum:,} to {maximum:,}.",
    }

    def __init__(self, *, minimum=0, maximum=MAX_ID, **kwargs):
        self.minimum, self.maximum = minimum, maximum
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values or not str(value).strip():
            return None
        try:
            return parse_int(str(value), "value", minimum=self.minimum, maximum=self.maximum)
        except InvalidNumber as exc:
            code = "range" if exc.code == "range" else "invalid"
            message = self.error_messages[code].format(minimum=self.minimum, maximum=self.maximum)
            raise forms.ValidationError(message, code=code) from None


class IdField(WholeNumberField):
    """A database id."""

    default_error_messages = {"invalid": "Enter a numeric id.", "range": "Enter an id from {minimum:,} to {maximum:,}."}

    def __init__(self, **kwargs):
        super().__init__(minimum=1, maximum=MAX_ID, **kwargs)


class BrowseForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class UserSearchForm(BrowseForm):
    q = forms.CharField(
        label="Find chat users", required=False, max_length=191,
        help_text="An external id (or its beginning) or part of a name.",
    )
    after = IdField(widget=forms.HiddenInput)


class PageForm(BrowseForm):
    """A list's page position (its format is checked by the read helper that decodes it)."""

    after = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class ConversationFilterForm(PageForm):
    q = forms.CharField(label="Title or external id", required=False, max_length=255)
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "All kinds"), *Conversation.Kind.choices])
    sort = forms.ChoiceField(label="Sort", required=False, choices=list(SORTS.items()))

    def clean_sort(self):
        return self.cleaned_data["sort"] or "activity"


class TimelineForm(BrowseForm):
    """Where the conversation timeline starts: the newest messages, older than a cursor, newer
    than a cursor, or at the end of a day."""

    date = DayField(label="Jump to date", help_text="Messages up to the end of this day.")
    before = CursorField()
    after = CursorField()
    members_after = WholeNumberField(widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        given = [name for name in ("date", "before", "after") if data.get(name)]
        if len(given) > 1:
            raise forms.ValidationError("Choose one of a date, older or newer messages, not several.")
        return data

    def older_than(self) -> Position | None:
        data = self.cleaned_data
        if data.get("date"):
            # id 0: every message sent before the next midnight, whatever its id.
            return Position(end_of_day(data["date"]), 0)
        return data.get("before")


def suggesting(url_name, list_id):
    """Attributes of a text input that offers suggestions as a person types: a <datalist> with the
    id `list_id` (in the template) refilled by htmx from the view `url_name`."""
    return {
        "list": list_id, "autocomplete": "off", "hx-get": reverse_lazy(url_name),
        "hx-trigger": "input changed delay:250ms", "hx-target": f"#{list_id}", "hx-swap": "innerHTML",
    }


class MessageSearchForm(BrowseForm):
    q = forms.CharField(
        label="Words", required=False, max_length=200,
        help_text=(
            'All words must appear. "Quotes" match a phrase, a minus sign before a word excludes it, '
            "or matches either side."
        ),
    )
    sender = forms.CharField(
        label="Sender", required=False, max_length=191, help_text="External id or name, e.g. u-alice or Alice Archer.",
        widget=forms.TextInput(attrs=suggesting("browse:suggest_users", "sender-suggestions")),
    )
    conversation = forms.CharField(
        label="Conversation", required=False, max_length=255, help_text="External id or title, e.g. g-launch.",
        widget=forms.TextInput(attrs=suggesting("browse:suggest_conversations", "conversation-suggestions")),
    )
    start = DayField(label="From")
    end = DayField(label="To (inclusive)")
    before = CursorField()

    def clean_sender(self):
        return self._named(find_user, "sender")

    def clean_conversation(self):
        return self._named(find_conversation, "conversation")

    def _named(self, find, name):
        try:
            return find(self.cleaned_data.get(name))
        except UnknownName as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        if not self.errors and not (data.get("q", "").strip() or data.get("sender") or data.get("conversation")):
            raise forms.ValidationError("Enter words to search for, or choose a sender or a conversation.")
        return data

    @classmethod
    def for_request(cls, query):
        """Bound to the query string, or unbound (no errors to show) when nothing was asked."""
        asked = any(query.get(name, "").strip() for name in cls.base_fields)
        return cls(query) if asked else cls()

    def to_query(self) -> MessageQuery:
        data = self.cleaned_data
        return MessageQuery(
            text=data["q"].strip(),
            sender_id=data["sender"].pk if data["sender"] else None,
            conversation_id=data["conversation"].pk if data["conversation"] else None,
            start=start_of_day(data["start"]) if data["start"] else None,
            end=end_of_day(data["end"]) if data["end"] else None,
            older_than=data["before"],
        )
