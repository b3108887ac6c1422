"""The deletion forms' own fields: what a moderator types, checked and turned into values.

Date-times are typed in settings.TIME_ZONE (a datetime-local input carries no zone) and made aware
here; a local time that does not exist or is ambiguous (a daylight-saving change) is refused rather
than guessed. Ids come as a repeated parameter or comma-separated in one value, senders by external
id or name.
"""

from datetime import datetime

from django import forms
from django.conf import settings
from django.utils import timezone

from chatdata.parsing import ASCII_SPACE, InvalidNumber, parse_id, shown
from chatdata.purge.scopes import PurgeInvalid
from chatdata.purge.validation import senders_named

EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2999, 12, 31)


class LocalDateTimeField(forms.DateTimeField):
    """A moment typed in settings.TIME_ZONE (a datetime-local input), made aware."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "60"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"], **kwargs)

    def to_python(self, value):
        try:
            moment = super().to_python(value)
        except forms.ValidationError as error:
            if error.code == "ambiguous_timezone":
                zone = timezone.get_current_timezone_name()
                raise forms.ValidationError(
                    f"{value} does not exist or happens twice in {zone} (a daylight-saving change): choose another time.",
                    code="ambiguous_timezone",
                ) from None
            raise forms.ValidationError(
                f"“{str(value)[:40]}” is not a date and time: enter one as YYYY-MM-DD HH:MM.", code="invalid"
            ) from None
        if moment is not None and not EARLIEST <= moment.replace(tzinfo=None) <= LATEST:
            raise forms.ValidationError(f"Enter a moment between {EARLIEST:%Y} and {LATEST:%Y}.", code="out_of_range")
        return moment


class IdListField(forms.Field):
    """Database ids posted as a repeated parameter (checkboxes that live elsewhere on the page), or,
    as chatsweep.js sends a selection, comma-separated in one value: a thousand ticked boxes are
    then one field, not a thousand (Django refuses more than DATA_UPLOAD_MAX_NUMBER_FIELDS)."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, noun, **kwargs):
        self.noun = noun
        super().__init__(required=False, **kwargs)

    @property
    def limit(self):
        return settings.PURGE_MAX_IDS

    def to_python(self, value):
        values = value if isinstance(value, (list, tuple)) else ([value] if value else [])
        # Only ASCII spaces are trimmed: "\u20071" stays as typed, and parse_id refuses it by name.
        values = [part.strip(ASCII_SPACE) for raw in values for part in str(raw).split(",") if part.strip(ASCII_SPACE)]
        ids = []
        for raw in values:
            try:
                ids.append(parse_id(str(raw), self.noun))
            except InvalidNumber:
                raise forms.ValidationError(f"{shown(raw)} is not a {self.noun} id.", code="invalid") from None
        return list(dict.fromkeys(ids))

    def validate(self, value):
        if not value:
            raise forms.ValidationError(f"Choose at least one {self.noun}.", code="required")


class SendersField(forms.CharField):
    """Some senders, by external id or name (as the search's sender field takes one), separated
    by commas; empty for everyone. Cleans to chat user pks (chatdata.purge.validation.senders_named)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("label", "Only from (optional)")
        kwargs.setdefault("help_text", "Senders' external ids or names, separated by commas; empty for everyone.")
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value)
        try:
            return senders_named(part for part in text.split(",") if part.strip())
        except PurgeInvalid as exc:
            raise forms.ValidationError(exc.message) from None


def radio(choices, **kwargs):
    """One choice among a few, as radio buttons."""
    return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **kwargs)
