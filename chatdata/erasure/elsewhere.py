"""What is the data subject's outside the messages they sent, removed after the purges.

The engine deletes messages with everything hanging on them; what the subject left on other
people's messages and in conversations is no message of theirs, so no purge scope covers it:
their reactions, their per-message hides, their pending deliveries, their memberships, and their
own sync events. This step removes them, with the engine's conventions: batches by ascending id
of at most BATCH rows, each one transaction that first checks the request still belongs to this
attempt (and takes a heartbeat), with the counts so far saved in the same transaction, so a job
killed anywhere resumes with nothing counted twice. It runs once the purges have ended, as a step
of the erasure job rather than as a new kind of purge unit: it needs no preview (it follows
from the approved erasure), no high-water mark (the subject's rows are all of it) and touches
only rows that belong to the subject.

What a legal hold keeps stays: reactions, hides and pending deliveries on a held message, and
memberships of a conversation under an active conversation hold (the hold keeps the conversation
as it is). The residue check leaves the same rows out and the certificate lists them.

Devices mirror it: every other member of a conversation where the subject had a membership or a
reaction gets one `member_erased` sync event (one per member and conversation, never one per
row), written in the final transaction with the membership removals. With
peer_conversations=delete, a peer conversation the peers purge did not remove because it held no
messages is removed here, with a `conversation_deleted` event to its members.
"""

from django.db import connection, transaction
from django.utils import timezone

from chatdata.models import LegalHold, Membership, Message, MessageHide, PendingDelivery, Reaction, SyncEvent
from chatdata.purge import effects
from chatdata.purge.predicates import active_holds, held_q

BATCH = 5_000
COUNT_KEYS = ("reactions", "hides", "pending_deliveries", "memberships", "sync_events", "conversations", "members_notified")
ROW_TABLES = (("reactions", Reaction), ("hides", MessageHide), ("pending_deliveries", PendingDelivery))


def _kept_messages(holds):
    """Messages a hold keeps, as a subquery (None when no hold is active)."""
    q = held_q(holds)
    return Message.objects.filter(q).values("id") if q is not None else None


def _held_conversations(holds):
    return {h.conversation_id for h in holds if h.kind == LegalHold.Kind.CONVERSATION and h.conversation_id}


def _batch(model, subject, holds):
    rows = model.objects.filter(user_id=subject)
    kept = _kept_messages(holds)
    if kept is not None:
        rows = rows.exclude(message_id__in=kept)
    return list(rows.order_by("id").values_list("id", "message__conversation_id")[:BATCH])


def remove(erasure, still_ours):
    """Run the step to its end; False if the request stopped being this attempt's meanwhile.
    `still_ours()` returns the row-locked request, or None."""
    subject = erasure.subject_id
    for key, model in ROW_TABLES:
        while True:
            with transaction.atomic():
                erasure = still_ours()
                if erasure is None:
                    return False
                state = erasure.progress.setdefault("elsewhere", dict.fromkeys(COUNT_KEYS, 0))
                rows = _batch(model, subject, active_holds())
                if rows:
                    model.objects.filter(id__in=[pk for pk, _ in rows])._raw_delete(model.objects.db)
                    state[key] += len(rows)
                    if model is Reaction:
                        touched = set(erasure.progress.get("touched", [])) | {conversation for _, conversation in rows}
                        erasure.progress["touched"] = sorted(touched)
                erasure.heartbeat_at = timezone.now()
                erasure.save(update_fields=["progress", "heartbeat_at"])
            if len(rows) < BATCH:
                break
    with transaction.atomic():
        erasure = still_ours()
        if erasure is None:
            return False
        _finish(erasure, subject)
    _sweep_files(erasure)
    return True


def _sweep_files(erasure):
    """Remove the subject's recorded attachment files whose rows are gone but which are still in
    storage (a file written back behind the engine's back, or one whose outbox entry was lost);
    their outbox entries go with them. Outside any transaction: no row refers to them."""
    from chatdata.models import Attachment, ErasureFile, FileOutbox

    storage = Attachment._meta.get_field("file").storage
    removed = 0
    paths = ErasureFile.objects.filter(request=erasure).values_list("path", flat=True).order_by("id")
    for path in paths.iterator(chunk_size=1_000):
        if not storage.exists(path) or Attachment.objects.filter(file=path).exists():
            continue
        storage.delete(path)
        FileOutbox.objects.filter(path=path).delete()
        removed += 1
    if removed:
        with transaction.atomic():
            erasure = type(erasure).objects.select_for_update().get(pk=erasure.pk)
            erasure.progress.setdefault("elsewhere", {})["files"] = erasure.progress["elsewhere"].get("files", 0) + removed
            erasure.save(update_fields=["progress"])


def _finish(erasure, subject):
    """Memberships, empty peer conversations and the subject's own sync events, with the events
    for the other members, in one transaction (a user's memberships are a few thousand rows)."""
    state = erasure.progress.setdefault("elsewhere", dict.fromkeys(COUNT_KEYS, 0))
    holds = active_holds()
    now = timezone.now()
    memberships = Membership.objects.filter(user_id=subject).exclude(conversation_id__in=_held_conversations(holds))
    gone = list(memberships.values_list("conversation_id", flat=True))
    touched = set(erasure.progress.get("touched", [])) | set(gone)
    state["memberships"] += memberships._raw_delete(memberships.db)
    payload = {"erasure": erasure.pk, "member": erasure.subject.external_id, "removed": ["reactions", "membership"]}
    if touched:
        state["members_notified"] += effects.write_events(
            conversation_pks=touched, kind=SyncEvent.Kind.MEMBER_ERASED, payload=payload, now=now
        )
    if erasure.peer_conversations == "delete":
        for pk in _empty_peers(erasure, holds):
            effects.write_events(
                conversation_pks=[pk], kind=SyncEvent.Kind.CONVERSATION_DELETED, payload={"erasure": erasure.pk}, now=now
            )
            effects.remove_conversation(pk)
            state["conversations"] += 1
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM chatdata_syncevent WHERE user_id = %s", [subject])
        state["sync_events"] += cursor.rowcount
    erasure.progress["touched"] = []
    erasure.heartbeat_at = now
    erasure.save(update_fields=["progress", "heartbeat_at"])


def _empty_peers(erasure, holds):
    from chatdata.models import Conversation

    held = _held_conversations(holds)
    peers = [pk for pk in erasure.progress.get("peers", []) if pk not in held]
    with_messages = set(Message.objects.filter(conversation_id__in=peers).values_list("conversation_id", flat=True).distinct())
    existing = Conversation.objects.filter(pk__in=peers).values_list("pk", flat=True)
    return sorted(pk for pk in existing if pk not in with_messages)
