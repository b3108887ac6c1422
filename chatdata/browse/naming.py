"""How a person names a chat user or a conversation: by the chat service's external id (what a
ticket carries, e.g. u000031 or g-launch) or by name (a display name, a conversation's title).
Internal database ids are never asked for nor shown. One definition for every form that takes a
user or a conversation, and the suggestions offered while typing.
"""

from django.db.models import Q

from chatdata.models import ChatUser, Conversation

SUGGESTIONS = 8
SHOWN_CANDIDATES = 5


class UnknownName(ValueError):
    """Nothing, or more than one thing, answers to the name given; the message says which."""


def _one(model, noun, name_field, text):
    text = (text or "").strip()
    if not text:
        return None
    found = model.objects.filter(external_id=text).first()
    if found is not None:
        return found
    named = list(model.objects.filter(**{name_field: text}).order_by("id")[: SHOWN_CANDIDATES + 1])
    if not named:
        named = list(model.objects.filter(**{f"{name_field}__iexact": text}).order_by("id")[: SHOWN_CANDIDATES + 1])
    if len(named) == 1:
        return named[0]
    if not named:
        raise UnknownName(f"No {noun} has the external id or name “{text}”.")
    ids = ", ".join(item.external_id for item in named[:SHOWN_CANDIDATES])
    more = ", …" if len(named) > SHOWN_CANDIDATES else ""
    raise UnknownName(f"Several {noun}s are called “{text}” ({ids}{more}): give the external id.")


def find_user(text) -> ChatUser | None:
    """The chat user `text` names (external id first, then display name), None for nothing typed.
    Raises UnknownName when no user, or several, answer to it."""
    return _one(ChatUser, "chat user", "display_name", text)


def find_conversation(text) -> Conversation | None:
    """The conversation `text` names (external id first, then title); see find_user."""
    return _one(Conversation, "conversation", "title", text)


def suggest_users(prefix, limit=SUGGESTIONS):
    """Users whose external id or name starts with `prefix`, for a list of suggestions."""
    prefix = (prefix or "").strip()
    if not prefix:
        return []
    rows = ChatUser.objects.filter(Q(external_id__startswith=prefix) | Q(display_name__istartswith=prefix))
    return list(rows.order_by("display_name", "id")[:limit])


def suggest_conversations(prefix, limit=SUGGESTIONS):
    """Conversations whose external id or title starts with `prefix`."""
    prefix = (prefix or "").strip()
    if not prefix:
        return []
    rows = Conversation.objects.filter(Q(external_id__startswith=prefix) | Q(title__istartswith=prefix))
    return list(rows.order_by("title", "external_id")[:limit])
