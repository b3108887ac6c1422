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
from chatdata.models.purge import FileOutbox, PurgeItem, PurgeRequest

__all__ = [
    "Attachment",
    "AuditEntry",
    "ChatUser",
    "Conversation",
    "ErasureFile",
    "ErasureRequest",
    "FileOutbox",
    "LegalHold",
    "Membership",
    "Message",
    "MessageHide",
    "PendingDelivery",
    "PurgeItem",
    "PurgeRequest",
    "Reaction",
    "SyncEvent",
    "Tombstone",
]
