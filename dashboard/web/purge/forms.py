"""Forms of the deletion workflow: what a moderator picks on a page becomes a PurgeSpec.

Each form checks what a person typed (ids, local date-times, the member, the reason) and builds
the spec; the engine checks the rest against the data (chatdata.purge.validation) and its
PurgeInvalid goes back next to the field it names. Which choices a form shows comes from
dashboard.web.purge.offers. Here: the base form and the forms of the conversation list, the search
and a chat user's page; the forms of one conversation's page are in
dashboard.web.purge.conversation_forms, the fields they share in dashboard.web.purge.fields.
"""

from django import forms
from django.utils import timezone

from chatdata.purge.scopes import (
    DELETE_ATTACHMENTS,
    DELETE_CONVERSATION,
    DELETE_FOR_EVERYONE,
    ConversationsScope,
    MatchingScope,
    PurgeInvalid,
    PurgeSpec,
    UserScope,
)
from dashboard.web.purge.fields import IdListField, LocalDateTimeField, SendersField, radio


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


ATTACHMENTS_CHOICE = (DELETE_ATTACHMENTS, "Delete only the attachments (keep the messages)")

# Also offered by the whole-conversation form (dashboard.web.purge.conversation_forms).
CLEAR_ALL, DELETE_ALL = "clear_all", "delete_all"


class BatchForm(PurgeForm):
    """Several conversations ticked in the conversation list, each handled on its own."""

    action = "conversations"

    conversations = IdListField(noun="conversation")
    what = radio(
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

    effect = radio([(DELETE_FOR_EVERYONE, "Delete the messages for everyone"), ATTACHMENTS_CHOICE], label="Effect")

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

    span = radio([("all", "Everything they sent"), ("range", "Only what they sent in a time range")], label="Messages", initial="all")
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
