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

__all__ = [
    "Attachment",
    "ChatUser",
    "Conversation",
    "Membership",
    "Message",
    "MessageHide",
    "PendingDelivery",
    "Reaction",
    "SyncEvent",
]
