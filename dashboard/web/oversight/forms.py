"""Forms of the oversight pages: reject a request, place and release legal holds, filter the
audit log.

Every value a URL or a POST can carry goes through one of these, so bad input (an unknown external
id, an end before the start, a time that does not exist in the local timezone, a damaged page
cursor) gets an error next to its field and changes nothing. Times a person types are read in
settings.TIME_ZONE (Django's current timezone) and stored in UTC.
"""

from django import forms
from django.contrib.auth import get_user_model

from chatdata.audit import ACTIONS
from chatdata.models import ChatUser, Conversation, LegalHold
from chatdata.purge.holds import REASON_REQUIRED
from chatdata.purge.inputs import PurgeInvalid, check_bounds
from dashboard.web.browse.forms import DayField, IdField, end_of_day, start_of_day

ACTION_GROUPS = {
    "purge.*": "Any purge action",
    "hold.*": "Any legal-hold action",
    "auth.*": "Logins, logouts and lockouts",
    "staff.*": "Staff accounts and roles",
    "erasure.*": "Any erasure action",
    "audit.*": "Audit-log exports",
    "import.*": "Imports of chat data",
}
SYSTEM_ACTOR = "system"
REASON_MAX = 2000


class OversightForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def reason_field(label, required_message, **kwargs):
    return forms.CharField(
        label=label,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": required_message},
        **kwargs,
    )


class RejectForm(OversightForm):
    reason = reason_field("Why reject it", "Say why the request is rejected: the requester and the audit log see it.")


class ReleaseForm(OversightForm):
    reason = reason_field("Why release it", "Say why the hold is released: the audit log keeps it.")


class LocalDateTimeField(forms.DateTimeField):
    """A date and time typed in settings.TIME_ZONE (an <input type="datetime-local">)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"], **kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError as exc:
            if exc.code != "invalid":
                raise  # e.g. a time skipped or repeated by a daylight-saving change: Django names it
            raise forms.ValidationError(f"“{str(value)[:40]}” is not a date and time: use YYYY-MM-DD HH:MM.", code="invalid") from None


class HoldForm(OversightForm):
    kind = forms.ChoiceField(label="Hold", choices=LegalHold.Kind.choices, initial=LegalHold.Kind.USER, widget=forms.RadioSelect)
    external_id = forms.CharField(
        label="External id", max_length=191,
        help_text="The chat service's id of the user or conversation, e.g. u-alice or g-launch.",
    )
    start = LocalDateTimeField(label="From", help_text="Optional. Empty: from the beginning.")
    end = LocalDateTimeField(label="Until", help_text="Optional, not included. Empty: no end.")
    reason = reason_field("Reason", REASON_REQUIRED,
                          help_text="The matter or case it serves; shown wherever the hold keeps data.")

    def clean(self):
        data = super().clean()
        kind, external_id = data.get("kind"), (data.get("external_id") or "").strip()
        if kind and external_id:
            model, noun = (ChatUser, "chat user") if kind == LegalHold.Kind.USER else (Conversation, "conversation")
            data["subject"] = model.objects.filter(external_id=external_id).first()
            if data["subject"] is None:
                self.add_error("external_id", f"No {noun} has the external id “{external_id}”.")
        try:
            # The engine's rule, asked here too so that it shows beside the form's own errors.
            check_bounds(data.get("start"), data.get("end"))
        except PurgeInvalid as exc:
            self.add_engine_error(exc)
        return data

    def add_engine_error(self, exc):
        """do_add_legal_hold's complaint on the field it names; its subject (user or conversation)
        is what external_id names here."""
        field = "external_id" if exc.field in ("user", "conversation") else exc.field
        self.add_error(field if field in self.fields else None, exc.message)

    def hold_arguments(self):
        """Keyword arguments for chatdata.purge.holds.do_add_legal_hold."""
        data = self.cleaned_data
        subject = data["subject"]
        return {
            "user": subject if isinstance(subject, ChatUser) else None,
            "conversation": subject if isinstance(subject, Conversation) else None,
            "start": data["start"],
            "end": data["end"],
            "reason": data["reason"],
        }


class HoldFilterForm(OversightForm):
    STATES = {"active": "Active", "released": "Released", "all": "All"}

    state = forms.ChoiceField(label="Show", required=False, choices=list(STATES.items()))
    after = IdField(widget=forms.HiddenInput)

    def clean_state(self):
        return self.cleaned_data["state"] or "active"


class AuditFilterForm(OversightForm):
    actor = forms.CharField(label="Actor", required=False, max_length=150,
                            help_text=f"A staff username, or “{SYSTEM_ACTOR}”.")
    action = forms.ChoiceField(label="Action", required=False, choices=[
        ("", "Any action"),
        ("Groups", list(ACTION_GROUPS.items())),
        ("Actions", [(name, f"{name}: {label}") for name, label in sorted(ACTIONS.items())]),
    ])
    target = forms.CharField(label="Target contains", required=False, max_length=255,
                             help_text="e.g. conversation g-launch, user u-alice")
    request = IdField(label="Purge request #")
    since = DayField(label="From")
    until = DayField(label="To (inclusive)")
    after = IdField(widget=forms.HiddenInput)

    def clean_actor(self):
        name = self.cleaned_data["actor"].strip()
        if not name or name == SYSTEM_ACTOR:
            return name
        staff = get_user_model().objects.filter(username__iexact=name).first()
        if staff is None:
            raise forms.ValidationError(f"No staff account is named “{name}”.")
        return staff

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filters(self):
        """The cleaned filters as keyword arguments of dashboard.web.oversight.audit.audit_entries."""
        data = self.cleaned_data
        action = data["action"]
        if action in ACTION_GROUPS:
            prefix = action[:-1]
            actions = sorted(name for name in ACTIONS if name.startswith(prefix))
        else:
            actions = [action] if action else []
        return {
            "actor": data["actor"] or None,
            "actions": actions,
            "target": data["target"].strip(),
            "request": data["request"],
            "start": start_of_day(data["since"]) if data["since"] else None,
            "end": end_of_day(data["until"]) if data["until"] else None,
        }

    def described(self):
        """The filters in words and plain values, for the export's own audit entry."""
        data = self.cleaned_data
        actor = data["actor"]
        return {
            name: value
            for name, value in {
                "actor": actor.get_username() if hasattr(actor, "get_username") else actor,
                "action": data["action"],
                "target": data["target"].strip(),
                "request": data["request"],
                "since": data["since"].isoformat() if data["since"] else None,
                "until": data["until"].isoformat() if data["until"] else None,
            }.items()
            if value
        }
