"""Forms of the deletion workflow: what a moderator picks on a page becomes a PurgeSpec.

Each form checks what a person typed (ids, local date-times, the member, the reason) and builds
the spec; the engine checks the rest against the data (chatdata.purge.validation) and its
PurgeInvalid goes back next to the field it names. Date-times are typed in settings.TIME_ZONE
(a datetime-local input carries no zone) and made aware here; a local time that does not exist or
is ambiguous (a daylight-saving change) is refused rather than guessed. Which choices a form
shows comes from dashboard.web.purge.offers.
"""

from datetime import datetime

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from chatdata.models import Membership
from chatdata.parsing import ASCII_SPACE, InvalidNumber, is_id, parse_id, shown
from chatdata.purge.scopes import (
    DELETE_ATTACHMENTS,
    DELETE_CONVERSATION,
    DELETE_FOR_EVERYONE,
    HIDE_FOR_USER,
    ConversationScope,
    ConversationsScope,
    MatchingScope,
    MessagesScope,
    PurgeInvalid,
    PurgeSpec,
    RangeScope,
    UserScope,
)
from chatdata.purge.validation import senders_named

# Up to this many members the member chooser is a <select>; beyond it, a text input for an id.
MEMBER_CHOICES = 200
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2999, 12, 31)


# --- fields ---------------------------------------------------------------------------------------


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


# --- forms ----------------------------------------------------------------------------------------


class PurgeForm(forms.Form):
    """Reason and ticket, and the engine's complaints shown on the fields they name.

    `live=True` is the as-you-type preview: nothing is requested yet, so no reason is needed."""

    reason = forms.CharField(
        label="Reason", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required. Goes into the audit log with your name.",
    )
    ticket = forms.CharField(label="Ticket", required=False, max_length=100, help_text="Optional reference, e.g. T-1234.")
    action = ""

    def __init__(self, *args, live=False, **kwargs):
        kwargs.setdefault("label_suffix", "")
        # Several of these forms share a page: element ids must not collide.
        kwargs.setdefault("auto_id", f"id_{self.action}_%s")
        super().__init__(*args, **kwargs)
        self.live = live
        if live:
            self.fields["reason"].required = False

    def build_spec(self):
        raise NotImplementedError

    def spec(self):
        """The PurgeSpec, or None with the engine's complaint added to the form."""
        try:
            return self.build_spec()
        except PurgeInvalid as exc:
            self.add_engine_error(exc)
            return None

    def add_engine_error(self, exc):
        """The engine's complaint on the field it names (a form's fields carry the engine's names
        where they mean the same thing), else above the form."""
        field = exc.field if exc.field in self.fields and exc.field not in self.errors else None
        self.add_error(field, exc.message)


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


ATTACHMENTS_CHOICE = (DELETE_ATTACHMENTS, "Delete only the attachments (keep the messages)")


class MemberMixin:
    """A member chooser: a <select> for small conversations, else a text input for the member's
    external id (or chat user id)."""

    member_required_for = ()

    def setup_member(self, conversation):
        self.conversation = conversation
        # Cached on the conversation: a page shows up to three of these forms.
        rows = getattr(conversation, "_purge_member_rows", None)
        if rows is None:
            rows = conversation._purge_member_rows = list(
                Membership.objects.filter(conversation=conversation)
                .select_related("user")
                .order_by("user__display_name", "user_id")[: MEMBER_CHOICES + 1]
            )
        field = self.fields["member"]
        if len(rows) <= MEMBER_CHOICES:
            choices = [("", "Choose a member…")] + [(str(m.user_id), f"{m.user.display_name} ({m.user.external_id})") for m in rows]
            field.widget = forms.Select(choices=choices)
        else:
            field.help_text = "The member's external id or chat user id."

    def clean_member(self):
        value = (self.cleaned_data.get("member") or "").strip()
        if not value or self.data.get(self.add_prefix(self.effect_field)) not in self.member_required_for:
            return None
        match = Q(user__external_id=value) | (Q(user_id=parse_id(value, "member")) if is_id(value) else Q())
        found = list(
            Membership.objects.filter(conversation=self.conversation).filter(match).values_list("user_id", "user__external_id")
        )
        if not found:
            raise forms.ValidationError(f"“{value[:40]}” is not a member of this conversation.")
        # An external id that looks like a number wins over the same number taken as a chat user id.
        return next((pk for pk, external in found if external == value), found[0][0])

    def member_for(self, effect_value):
        member = self.cleaned_data.get("member")
        if effect_value in self.member_required_for and member is None and "member" not in self.errors:
            self.add_error("member", "Choose the member who will no longer see the messages.")
        return member


def _radio(choices, **kwargs):
    return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **kwargs)


class SelectionForm(MemberMixin, PurgeForm):
    """Messages ticked in a conversation's timeline."""

    action = "messages"
    effect_field = "effect"
    member_required_for = (HIDE_FOR_USER,)

    ids = IdListField(noun="message")
    effect = _radio([(DELETE_FOR_EVERYONE, "Delete for everyone"), (HIDE_FOR_USER, "Hide for one member")], label="Effect")
    member = forms.CharField(label="Member", required=False, max_length=191)

    def __init__(self, *args, conversation, offer, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_member(conversation)
        offered = [(value, label) for value, label in self.fields["effect"].choices
                   if (offer.delete_messages if value == DELETE_FOR_EVERYONE else offer.hide_messages)]
        self.fields["effect"].widget.choices = offered
        self.initial.setdefault("effect", offered[0][0] if offered else "")

    def build_spec(self):
        data = self.cleaned_data
        member = self.member_for(data["effect"])
        if self.errors:
            return None
        return PurgeSpec(MessagesScope(tuple(data["ids"]), self.conversation.pk), data["effect"], member=member)


class RangeForm(MemberMixin, PurgeForm):
    """Everything before a moment, or between two, in one conversation."""

    action = "range"
    effect_field = "effect"
    member_required_for = (HIDE_FOR_USER,)

    bounds = _radio([("before", "Everything before a moment"), ("between", "Between two moments")], label="Messages", initial="before")
    start = LocalDateTimeField(label="From")
    end = LocalDateTimeField(label="Before")
    senders = SendersField()
    effect = _radio(
        [(DELETE_FOR_EVERYONE, "Delete for everyone"), (HIDE_FOR_USER, "Hide for one member"), ATTACHMENTS_CHOICE],
        label="Effect",
    )
    member = forms.CharField(label="Member", required=False, max_length=191)

    def __init__(self, *args, conversation, offer, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_member(conversation)
        zone = timezone.get_current_timezone_name()
        self.fields["start"].label = f"From ({zone})"
        self.fields["start"].help_text = "Included."
        self.fields["end"].label = f"Before ({zone})"
        self.fields["end"].help_text = "Not included: messages sent before this moment."
        allowed = {DELETE_FOR_EVERYONE: offer.range_delete, HIDE_FOR_USER: offer.range_hide, DELETE_ATTACHMENTS: offer.range_attachments}
        offered = [(value, label) for value, label in self.fields["effect"].choices if allowed[value]]
        self.fields["effect"].widget.choices = offered
        self.initial.setdefault("effect", offered[0][0] if offered else "")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if "end" not in self.errors and end is None:
            self.add_error("end", "Give the moment the range ends at.")
        if data.get("bounds") == "between":
            if "start" not in self.errors and start is None:
                self.add_error("start", "Give the moment the range starts at (or choose “Everything before a moment”).")
        else:
            # "Everything before a moment" has no start: whatever was typed there does not count.
            self.errors.pop("start", None)
            data["start"] = None
        return data

    def build_spec(self):
        data = self.cleaned_data
        member = self.member_for(data["effect"])
        if self.errors:
            return None
        scope = RangeScope(self.conversation.pk, data["start"], data["end"], senders=data["senders"])
        return PurgeSpec(scope, data["effect"], member=member)


CLEAR_MEMBER, REMOVE_MEMBER, CLEAR_ALL, DELETE_ALL = "clear_member", "remove_member", "clear_all", "delete_all"


class ConversationForm(MemberMixin, PurgeForm):
    """The whole conversation: clear its history or delete it, for one member or for everyone."""

    action = "conversation"
    effect_field = "what"
    member_required_for = (CLEAR_MEMBER, REMOVE_MEMBER)

    what = _radio(
        [
            (CLEAR_MEMBER, "Clear the history for one member"),
            (REMOVE_MEMBER, "Remove the conversation from one member's list"),
            (CLEAR_ALL, "Delete every message for everyone (the conversation stays)"),
            (DELETE_ALL, "Delete the conversation for everyone"),
        ],
        label="Action",
    )
    member = forms.CharField(label="Member", required=False, max_length=191)
    clear_history = forms.BooleanField(
        label="Also clear their history", required=False,
        help_text="With “Remove … from one member's list”: they no longer see the old messages if the conversation comes back.",
    )

    def __init__(self, *args, conversation, offer, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_member(conversation)
        allowed = {CLEAR_MEMBER: offer.clear_member, REMOVE_MEMBER: offer.remove_member, CLEAR_ALL: offer.clear_all, DELETE_ALL: offer.delete_all}
        offered = [(value, label) for value, label in self.fields["what"].choices if allowed[value]]
        self.fields["what"].widget.choices = offered
        self.initial.setdefault("what", offered[0][0] if offered else "")

    def build_spec(self):
        data = self.cleaned_data
        what = data["what"]
        member = self.member_for(what)
        if data.get("clear_history") and what != REMOVE_MEMBER:
            self.add_error("clear_history", "“Also clear their history” goes with removing the conversation for one member.")
        if self.errors:
            return None
        scope = ConversationScope(self.conversation.pk)
        if what == CLEAR_MEMBER:
            return PurgeSpec(scope, HIDE_FOR_USER, member=member)
        if what == REMOVE_MEMBER:
            return PurgeSpec(scope, DELETE_CONVERSATION, member=member, clear_history=data["clear_history"])
        return PurgeSpec(scope, DELETE_FOR_EVERYONE if what == CLEAR_ALL else DELETE_CONVERSATION)


class BatchForm(PurgeForm):
    """Several conversations ticked in the conversation list, each handled on its own."""

    action = "conversations"

    conversations = IdListField(noun="conversation")
    what = _radio(
        [
            (DELETE_ALL, "Delete the conversations for everyone"),
            (CLEAR_ALL, "Delete all their messages for everyone (keep the conversations)"),
            ATTACHMENTS_CHOICE,
        ],
        label="Action", initial=DELETE_ALL,
    )
    senders = SendersField(help_text="Senders' external ids or names, separated by commas: only what they sent goes "
                                     "(not with deleting whole conversations). Empty for everyone.")

    EFFECTS = {DELETE_ALL: DELETE_CONVERSATION, CLEAR_ALL: DELETE_FOR_EVERYONE, DELETE_ATTACHMENTS: DELETE_ATTACHMENTS}

    def build_spec(self):
        data = self.cleaned_data
        scope = ConversationsScope(tuple(data["conversations"]), senders=data["senders"])
        return PurgeSpec(scope, self.EFFECTS[data["what"]])


class MatchingForm(PurgeForm):
    """Every message a search finds ("Select all N matching"): the search's own filters (its
    MessageSearchForm judges them, naming senders and conversations the same way), then what to
    do with them: messages from many conversations are deleted for everyone, or only their
    attachments are."""

    action = "matching"
    effect_field = "effect"

    effect = _radio([(DELETE_FOR_EVERYONE, "Delete the messages for everyone"), ATTACHMENTS_CHOICE], label="Effect")

    def __init__(self, data=None, *, search, offered=(DELETE_FOR_EVERYONE, DELETE_ATTACHMENTS), **kwargs):
        super().__init__(data, **kwargs)
        self.search = search
        self.fields["effect"].widget.choices = [(value, label) for value, label in self.fields["effect"].choices if value in offered]

    def clean(self):
        data = super().clean()
        if not self.search.is_valid():
            for errors in self.search.errors.values():
                for error in errors:
                    self.add_error(None, error)
        return data

    def build_spec(self):
        if self.errors:
            return None
        return PurgeSpec(matching_scope(self.search), self.cleaned_data["effect"])


def matching_scope(search):
    """The matching scope of a valid MessageSearchForm: its filters, without its page cursor."""
    query = search.to_query()
    senders = [query.sender_id] if query.sender_id is not None else []
    return MatchingScope(query.text, senders, query.conversation_id, query.start, query.end)


class UserForm(PurgeForm):
    """Everything one chat user sent (an erasure), all of it or in a time range."""

    action = "user"

    span = _radio([("all", "Everything they sent"), ("range", "Only what they sent in a time range")], label="Messages", initial="all")
    start = LocalDateTimeField(label="From")
    end = LocalDateTimeField(label="Before")

    def __init__(self, *args, chat_user, **kwargs):
        super().__init__(*args, **kwargs)
        self.chat_user = chat_user
        zone = timezone.get_current_timezone_name()
        self.fields["start"].label = f"From ({zone})"
        self.fields["end"].label = f"Before ({zone})"
        self.fields["start"].help_text = "Included; leave empty for no lower bound."
        self.fields["end"].help_text = "Not included; leave empty for no upper bound."

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if data.get("span") == "range":
            if start is None and end is None and not ({"start", "end"} & set(self.errors)):
                self.add_error("start", "Give a start, an end or both (or choose “Everything they sent”).")
        else:
            for name in ("start", "end"):
                self.errors.pop(name, None)
            data["start"] = data["end"] = None
        return data

    def build_spec(self):
        data = self.cleaned_data
        return PurgeSpec(UserScope(self.chat_user.pk, data["start"], data["end"]), DELETE_FOR_EVERYONE)
