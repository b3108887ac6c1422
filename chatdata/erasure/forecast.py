"""What approving an erasure would remove, counted now, for the approver's page (read-only).

The run previews its purges only when their phase comes (chatdata.erasure.run), so before the
approval there is no stored preview to show. This asks the engine the same question the `sent`
purge will ask: compute_preview of a `user` scope, delete for everyone, under the holds in force
now (its counts and `holds`: what each hold keeps out), in one read snapshot, then counts what the
elsewhere step will take (the subject's rows on other people's messages, their memberships) and,
with peer_conversations=delete, the peer conversations and the other person's messages in them.
Counts only: no sample of the subject's messages is kept or shown. The figures can move before
the run; the run's own previews and counts are what the certificate reports.
"""

from chatdata.models import Conversation, Membership, Message, MessageHide, PendingDelivery, Reaction
from chatdata.purge.predicates import active_holds, held_q
from chatdata.purge.preview import compute_preview, high_water_mark, read_snapshot
from chatdata.purge.scopes import DELETE_FOR_EVERYONE, PurgeSpec, UserScope
from chatdata.purge.validation import check_spec

SENT_KEYS = ("messages", "attachments", "reactions", "hides", "pending_deliveries", "conversations")


def _elsewhere(subject, holds):
    """The subject's reactions, hides and pending deliveries on other people's messages, and their
    memberships, outside what holds keep."""
    kept = held_q(holds)
    kept_ids = Message.objects.filter(kept).values("id") if kept is not None else None
    counts = {}
    for key, model in (("reactions", Reaction), ("hides", MessageHide), ("pending_deliveries", PendingDelivery)):
        rows = model.objects.filter(user_id=subject).exclude(message__sender_id=subject)
        if kept_ids is not None:
            rows = rows.exclude(message_id__in=kept_ids)
        counts[key] = rows.count()
    held_conversations = [h.conversation_id for h in holds if h.conversation_id]
    counts["memberships"] = Membership.objects.filter(user_id=subject).exclude(conversation_id__in=held_conversations).count()
    return counts


def _peers(erasure):
    peers = Conversation.objects.filter(kind=Conversation.Kind.PEER, memberships__user_id=erasure.subject_id)
    pks = list(peers.values_list("pk", flat=True))
    others = Message.objects.filter(conversation_id__in=pks).exclude(sender_id=erasure.subject_id).count()
    return {"conversations": len(pks), "others_messages": others}


def erasure_forecast(erasure):
    """{"sent": counts of the subject's messages and what hangs on them, "held": messages holds
    keep out, "holds": [{id, description, messages}], "elsewhere": counts, "peers": {conversations,
    others_messages}, "deletes_peers": bool}."""
    spec = PurgeSpec(UserScope(erasure.subject_id), DELETE_FOR_EVERYONE)
    with read_snapshot():
        resolved = check_spec(spec)
        holds = active_holds()
        preview, _ = compute_preview(spec, resolved=resolved, hwm=high_water_mark(), holds=holds)
        elsewhere = _elsewhere(erasure.subject_id, holds)
        peers = _peers(erasure)
    return {
        "sent": {key: preview[key] for key in SENT_KEYS},
        "held": preview["excluded_by_hold"],
        "holds": preview["holds"],
        "elsewhere": elsewhere,
        "peers": peers,
        "deletes_peers": erasure.peer_conversations == "delete",
    }
