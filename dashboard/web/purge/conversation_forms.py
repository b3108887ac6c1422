"""The deletion forms of one conversation's page: selected messages, a time range, the whole
conversation. Each can act for one member (hide, clear, remove), so each has the member chooser;
which effects a form offers comes from the person's ConversationOffer (dashboard.web.purge.offers).
"""

from django import forms
from django.db.models import Q
from django.utils import timezone

from chatdata.models import Membership
from chatdata.parsing import is_id, parse_id
from chatdata.purge.scopes import (
    DELETE_ATTACHMENTS,
    DELETE_CONVERSATION,
    DELETE_FOR_EVERYONE,
    HIDE_FOR_USER,
    ConversationScope,
    MessagesScope,
    PurgeSpec,
    RangeScope,
)
from dashboard.web.purge.fields import IdListField, LocalDateTimeField, SendersField, radio
from dashboard.web.purge.forms import ATTACHMENTS_CHOICE, CLEAR_ALL, DELETE_ALL, PurgeForm

# Up to this many members the member chooser is a <select>; beyond it, a text input for an id.
MEMBER_CHOICES = 200


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


def radio(choices, **kwargs):
    return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **kwargs)


class SelectionForm(MemberMixin, PurgeForm):
    """Messages ticked in a conversation's timeline."""

    action = "messages"
    effect_field = "effect"
    member_required_for = (HIDE_FOR_USER,)

    ids = IdListField(noun="message")
    effect = radio([(DELETE_FOR_EVERYONE, "Delete for everyone"), (HIDE_FOR_USER, "Hide for one member")], label="Effect")
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

    bounds = radio([("before", "Everything before a moment"), ("between", "Between two moments")], label="Messages", initial="before")
    start = LocalDateTimeField(label="From")
    end = LocalDateTimeField(label="Before")
    senders = SendersField()
    effect = radio(
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


CLEAR_MEMBER, REMOVE_MEMBER = "clear_member", "remove_member"


class ConversationForm(MemberMixin, PurgeForm):
    """The whole conversation: clear its history or delete it, for one member or for everyone."""

    action = "conversation"
    effect_field = "what"
    member_required_for = (CLEAR_MEMBER, REMOVE_MEMBER)

    what = radio(
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
