"""The typed confirmation: what a person types before a large or irreversible request runs.

One rule for everyone who lets a request go ahead: the requester executing it, and the second
person approving it (issue 14, item 6), on the web, through the API and with `manage.py purge`.
A request asks for it when it is irreversible (it removes rows from the store), when it runs in
the background, or above CONFIRM_TYPED_ABOVE messages. What confirms it: the conversation's title
(its external id when it has none) for a conversation-level scope, the user's external id for a
user scope, or always the number of messages, read in ASCII digits only (chatdata.parsing), so
'٣' never confirms three messages and "1,234" or "1 234" confirm 1234.

An erasure request's approver types its subject's external id (erasure_confirmation_for), the
same on the web, through the API and with `manage.py erasure approve --confirm`.

do_execute_purge, do_approve_purge and do_approve_erasure take the typed text as `confirmation`: a person at an
interface always passes what they typed ("" for nothing); None is for the engine's own callers
(an erasure's run, whose approval was confirmed on the erasure itself).
"""

import re
from dataclasses import dataclass

from chatdata.models import ChatUser, Conversation, ErasureRequest
from chatdata.parsing import InvalidNumber, parse_count
from chatdata.purge.inputs import PurgeInvalid
from chatdata.purge.scopes import CONVERSATION, MESSAGES, RANGE, USER

# Above this many messages a confirmation must be typed, whatever the effect (issue 4's "large").
CONFIRM_TYPED_ABOVE = 100
FIELD = "confirmation"


def _digits(text):
    """The typed number without the group separators people type (1,234 / 1 234 / 1.234 / 1'234)."""
    return re.sub(r"[\s,._'\u00a0\u202f]", "", text)


def is_count(text, count):
    """Whether `text` is `count` written in ASCII digits (never '٣' for 3)."""
    try:
        return parse_count(text, FIELD) == count
    except InvalidNumber:
        return False


KNOWN_NAME = "_confirmation_name"  # in a PurgeRequest's __dict__: its scope's name, loaded already


def _name(spec, resolved=None):
    """The conversation's title (its external id when untitled) or the user's external id that a
    scope names, or None; from check_spec's `resolved` when it holds them, else asked."""
    if spec.kind == USER:
        if resolved is not None and resolved.user is not None:
            return resolved.user.external_id
        return ChatUser.objects.filter(pk=spec.scope.user).values_list("external_id", flat=True).first()
    pk = spec.scope.conversation if spec.kind in (MESSAGES, RANGE, CONVERSATION) else None
    if pk and resolved is not None and pk in resolved.conversations:
        conversation = resolved.conversations[pk]
        return conversation.title.strip() or conversation.external_id
    row = Conversation.objects.filter(pk=pk).values("title", "external_id").first() if pk else None
    return (row["title"].strip() or row["external_id"]) if row else None


def remember_name(request, spec, resolved):
    """Keep the name of a request's scope from what check_spec loaded, so that confirmation_for
    asks nothing more for the request just made (the API answers with its confirmation)."""
    request.__dict__[KNOWN_NAME] = _name(spec, resolved)


@dataclass(frozen=True)
class Confirmation:
    typed: bool          # whether a person must type it
    irreversible: bool
    count: int | None    # the messages the preview counted (None: an erasure, counted when it runs)
    name: str | None     # the conversation's title or the user's external id, if the scope has one

    @property
    def prompt(self):
        if self.count is None:
            return f"Type the chat user's id, “{self.name}”, to confirm."
        count = f"{self.count:,}"
        if self.name:
            return f"Type “{self.name}” or the number of messages, {count}, to confirm."
        return f"Type the number of messages, {count}, to confirm."

    def problem(self, text):
        """None when `text` confirms the request (or nothing needs typing), else what is wrong."""
        text = (text or "").strip()
        if not self.typed:
            return None
        if not text:
            return "Type the confirmation to go ahead."
        if self.name and text.casefold() == self.name.casefold():
            return None
        if self.count is not None and is_count(_digits(text), self.count):
            return None
        return f"“{text[:60]}” does not match."

    def as_dict(self):
        return {"typed": self.typed, "irreversible": self.irreversible, "count": self.count, "name": self.name,
                "prompt": self.prompt if self.typed else ""}


def confirmation_for(request):
    """What confirms a previewed PurgeRequest (the same for its requester and its approver)."""
    spec = request.purge_spec
    count = (request.preview or {}).get("messages", 0)
    irreversible = spec.destroys
    typed = irreversible or not request.runs_inline or count > CONFIRM_TYPED_ABOVE
    name = (request.__dict__[KNOWN_NAME] if KNOWN_NAME in request.__dict__ else _name(spec)) if typed else None
    return Confirmation(typed=typed, irreversible=irreversible, count=count, name=name)


def erasure_confirmation_for(erasure):
    """What confirms the approval of an erasure request: its subject's external id (an erasure
    is counted when it runs, so there is no number to type)."""
    return Confirmation(typed=True, irreversible=True, count=None, name=erasure.subject.external_id)


def check_confirmation(request, text):
    """PurgeInvalid (field `confirmation`) unless `text` confirms the request; None skips the
    check (the engine's own callers, see the module's note)."""
    if text is None:
        return
    confirmation = erasure_confirmation_for(request) if isinstance(request, ErasureRequest) else confirmation_for(request)
    if problem := confirmation.problem(text):
        raise PurgeInvalid(f"{problem} {confirmation.prompt}", FIELD)
