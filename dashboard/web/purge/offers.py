"""What the deletion pages offer one staff member, from the permission matrix.

The matrix (chatdata.permissions) judges a concrete PurgeSpec; a page has to decide what to show
before anything is chosen. So it asks with probe specs of each kind (pk 1 stands for any id):
the UI then offers exactly the actions the server would accept from this person, and the server
still checks the real spec when it arrives.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from chatdata.models import Conversation
from chatdata.permissions import can_request
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


def _may(user, scope, effect, member=None):
    try:
        return can_request(user, PurgeSpec(scope, effect, member=member))
    except PurgeInvalid:  # a probe the settings make impossible (PURGE_MAX_IDS below the limit)
        return False


@dataclass(frozen=True)
class ConversationOffer:
    """The deletions `user` may request in one conversation (probe pk 1 stands for any id)."""

    hide_messages: bool
    delete_messages: bool
    delete_messages_limit: int | None  # support's cap on selected messages, None when uncapped
    range_hide: bool
    range_delete: bool
    range_attachments: bool
    clear_member: bool
    remove_member: bool
    clear_all: bool
    delete_all: bool
    one_member_applies: bool  # rooms keep no per-member history

    @classmethod
    def build(cls, user, conversation):
        pk = conversation.pk
        one_member = conversation.kind != Conversation.Kind.ROOM
        limit = settings.PURGE_SUPPORT_MAX_MESSAGES
        delete_messages = _may(user, MessagesScope((1,), pk), DELETE_FOR_EVERYONE)
        # One more than the cap, unless a request cannot hold that many anyway (then the cap never bites).
        probe = min(limit + 1, settings.PURGE_MAX_IDS)
        uncapped = probe <= limit or _may(user, MessagesScope(tuple(range(1, probe + 1)), pk), DELETE_FOR_EVERYONE)
        range_scope = RangeScope(pk, end=timezone.now())
        return cls(
            hide_messages=one_member and _may(user, MessagesScope((1,), pk), HIDE_FOR_USER, 1),
            delete_messages=delete_messages,
            delete_messages_limit=limit if delete_messages and not uncapped else None,
            range_hide=one_member and _may(user, range_scope, HIDE_FOR_USER, 1),
            range_delete=_may(user, range_scope, DELETE_FOR_EVERYONE),
            range_attachments=_may(user, range_scope, DELETE_ATTACHMENTS),
            clear_member=one_member and _may(user, ConversationScope(pk), HIDE_FOR_USER, 1),
            remove_member=one_member and _may(user, ConversationScope(pk), DELETE_CONVERSATION, 1),
            clear_all=_may(user, ConversationScope(pk), DELETE_FOR_EVERYONE),
            delete_all=_may(user, ConversationScope(pk), DELETE_CONVERSATION),
            one_member_applies=one_member,
        )

    @property
    def selection(self):
        return self.hide_messages or self.delete_messages

    @property
    def range(self):
        return self.range_hide or self.range_delete or self.range_attachments

    @property
    def whole(self):
        return self.clear_member or self.remove_member or self.clear_all or self.delete_all

    @property
    def anything(self):
        return self.selection or self.range or self.whole


def may_batch_delete(user):
    return _may(user, ConversationsScope((1,)), DELETE_CONVERSATION)


def matching_effects(user):
    """The effects `user` may apply to what a search found ("Select all N matching"), in the
    order the page offers them; empty when none."""
    return tuple(effect for effect in (DELETE_FOR_EVERYONE, DELETE_ATTACHMENTS) if _may(user, MatchingScope(text="x"), effect))


def may_erase(user):
    return _may(user, UserScope(1), DELETE_FOR_EVERYONE)
