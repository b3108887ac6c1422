from chatdata.models.api import ApiRequestOrigin, ApiToken, CallbackAttempt
from chatdata.models.chat import (
    Attachment,
    ChatUser,
    Conversation,
    Membership,
    Message,
    MessageHide,
    PendingDelivery,
    Reaction,
    SyncEvent,
)
from chatdata.models.compliance import AuditEntry, LegalHold
from chatdata.models.erasure import ErasureFile, ErasureRequest, Tombstone
from chatdata.models.notices import NoticeCursor
from chatdata.models.purge import FileOutbox, PurgeItem, PurgeRequest
from chatdata.models.selection import Selection

__all__ = [
    "ApiRequestOrigin",
    "ApiToken",
    "Attachment",
    "AuditEntry",
    "CallbackAttempt",
    "ChatUser",
    "Conversation",
    "ErasureFile",
    "ErasureRequest",
    "FileOutbox",
    "LegalHold",
    "Membership",
    "Message",
    "MessageHide",
    "NoticeCursor",
    "PendingDelivery",
    "PurgeItem",
    "PurgeRequest",
    "Reaction",
    "Selection",
    "SyncEvent",
    "Tombstone",
]
