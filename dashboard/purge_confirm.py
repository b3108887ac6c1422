"""Confirming a previewed request (the "Are you sure?" step of the deletion workflow).

Large or irreversible requests ask the moderator to type the conversation's title, the user's
external id for an erasure, or the number of messages; the number is read in ASCII digits only
(chatdata.parsing), so '٣' never confirms three messages.
"""

import re

from django import forms

from chatdata.models import ChatUser, Conversation
from chatdata.parsing import InvalidNumber, parse_count
from chatdata.purge.scopes import CONVERSATION, MESSAGES, RANGE, USER

# Above this many messages a confirmation must be typed, whatever the effect (the "large").
CONFIRM_TYPED_ABOVE = 100


def _digits(text):
    """The typed number without the group separators people type (1,234 / 1 234 / 1.234 / 1'234)."""
    return re.sub(r"[\s,._'\u00a0\u202f]", "", text)


def is_count(text, count):
    """Whether `text` is `count` written in ASCII digits (never '٣' for 3)."""
    try:
        return parse_count(text, "confirmation") == count
    except InvalidNumber:
        return False


class ConfirmForm(forms.Form):
    """Confirming a previewed request. Large or irreversible ones ask the moderator to type the
    conversation's title (its external id when it has none), the user's external id for an
    erasure, or the number of messages."""

    confirmation = forms.CharField(label="Type to confirm", required=False, max_length=300)

    def __init__(self, *args, purge, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.purge = purge
        spec = purge.purge_spec
        preview = purge.preview or {}
        self.count = preview.get("messages", 0)
        self.irreversible = spec.destroys
        self.typed = self.irreversible or not purge.runs_inline or self.count > CONFIRM_TYPED_ABOVE
        self.name = self._name(spec)
        if self.typed:
            field = self.fields["confirmation"]
            field.widget.attrs.update(autocomplete="off", spellcheck="false")
            field.help_text = self.prompt

    @staticmethod
    def _name(spec):
        if spec.kind == USER:
            return ChatUser.objects.filter(pk=spec.scope.user).values_list("external_id", flat=True).first()
        pk = spec.scope.conversation if spec.kind in (MESSAGES, RANGE, CONVERSATION) else None
        row = Conversation.objects.filter(pk=pk).values("title", "external_id").first() if pk else None
        return (row["title"].strip() or row["external_id"]) if row else None

    @property
    def prompt(self):
        count = f"{self.count:,}"
        if self.name:
            return f"Type “{self.name}” or the number of messages, {count}, to confirm."
        return f"Type the number of messages, {count}, to confirm."

    def clean_confirmation(self):
        typed = (self.cleaned_data.get("confirmation") or "").strip()
        if not self.typed:
            return typed
        if not typed:
            raise forms.ValidationError("Type the confirmation to go ahead.")
        if self.name and typed.casefold() == self.name.casefold():
            return typed
        if is_count(_digits(typed), self.count):
            return typed
        raise forms.ValidationError(f"“{typed[:60]}” does not match.")
