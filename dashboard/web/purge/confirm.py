"""Confirming a previewed request (the "Are you sure?" step of the deletion workflow), on the
preview page for its requester and on the approval page for the second person.

The rule (when typing is asked, what matches) is chatdata.purge.confirmation's, shared with the
API and `manage.py purge`; this form only puts it on a page, its error next to the field.
"""

from django import forms

from chatdata.purge.confirmation import _digits, confirmation_for, erasure_confirmation_for, is_count  # noqa: F401 (tests use them)


class ConfirmForm(forms.Form):
    confirmation = forms.CharField(label="Type to confirm", required=False, max_length=300)

    def __init__(self, *args, purge=None, erasure=None, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.purge = purge
        self.rule = confirmation_for(purge) if purge is not None else erasure_confirmation_for(erasure)
        self.count = self.rule.count
        self.irreversible = self.rule.irreversible
        self.typed = self.rule.typed
        self.name = self.rule.name
        if self.typed:
            field = self.fields["confirmation"]
            field.widget.attrs.update(autocomplete="off", spellcheck="false")
            field.help_text = self.prompt

    @property
    def prompt(self):
        return self.rule.prompt

    def clean_confirmation(self):
        typed = (self.cleaned_data.get("confirmation") or "").strip()
        if problem := self.rule.problem(typed):
            raise forms.ValidationError(problem)
        return typed
