"""Forms of the compliance pages: open an erasure request, filter the overview, reject one.

The form only reads what was typed; the rules (a known chat user, a ticket, a received date not in
the future, keep or delete) are the domain's, chatdata.erasure.actions.do_open_erasure. Its
ErasureInvalid names the field at fault, and the form's fields carry the same names (`user`,
`ticket`, `received`, `peer_conversations`, `notes`), so its message lands next to that field.
"""

from django import forms

from chatdata.erasure.actions import NOTES_MAX, TICKET_MAX
from chatdata.models import ErasureRequest
from dashboard.web.oversight.forms import LocalDateTimeField, OversightForm, RejectForm

__all__ = ["EXTRA_FILTERS", "ErasureFilterForm", "OpenErasureForm", "RejectForm"]


class OpenErasureForm(OversightForm):
    user = forms.CharField(
        label="Data subject (chat user id)", max_length=191,
        help_text="The chat service's id of the person whose data is to be erased, e.g. u-alice.",
    )
    ticket = forms.CharField(label="Ticket", max_length=TICKET_MAX, help_text="Your case number for the request.")
    received = LocalDateTimeField(
        label="Received", help_text="When the request reached you. Empty: now. It is due that many days later.",
    )
    peer_conversations = forms.ChoiceField(
        label="One-to-one conversations", choices=ErasureRequest.PeerConversations.choices,
        initial=ErasureRequest.PeerConversations.KEEP, widget=forms.RadioSelect,
    )
    notes = forms.CharField(
        label="Note", required=False, max_length=NOTES_MAX, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional: how it came in, what was checked. The audit log keeps it.",
    )
    outside_holds = forms.BooleanField(
        label="If a legal hold covers the subject, erase everything it does not keep", required=False,
        help_text="Otherwise the hold blocks the request until it is released. The held messages, and the subject's row, stay.",
    )

    def open_arguments(self):
        """Keyword arguments of do_open_erasure."""
        data = self.cleaned_data
        return {
            "subject": data["user"].strip(),
            "ticket": data["ticket"],
            "received_at": data["received"],
            "peer_conversations": data["peer_conversations"],
            "notes": data["notes"],
            "outside_holds": data["outside_holds"],
        }


# The overview's views beside the single states: "pending" is what still has to be answered.
EXTRA_FILTERS = {
    "pending": "Open requests (not yet done, rejected or cancelled)",
    "due_soon": "Due within 7 days or overdue",
    "overdue": "Overdue",
    "all": "All requests",
}


class ErasureFilterForm(OversightForm):
    show = forms.ChoiceField(
        label="Show", required=False,
        choices=[*EXTRA_FILTERS.items(), ("States", list(ErasureRequest.State.choices))],
    )

    def clean_show(self):
        return self.cleaned_data["show"] or "pending"

    def filters(self):
        """Keyword arguments of chatdata.erasure.overview.erasure_requests."""
        show = self.cleaned_data["show"]
        if show in ("pending", "due_soon", "overdue"):
            return {show: True}
        return {} if show == "all" else {"state": show}
