"""What a purge tells client devices: SyncEvent payloads shaped like the scope.

One event per affected member and conversation, never one per message: an id list names its
message ids (the chat service's external ids), and so does a `matching` scope (a device cannot
run the server's full-text search, so it is told what matched); a range names its bounds, a whole
conversation or an erasure says so; a scope narrowed to some senders names them.
`delete_attachments` writes `attachments_deleted` events: drop the files, keep the messages. Every payload carries `purge_request` and `up_to_id` (the high-water mark:
messages above it were not part of the purge, so a device must keep them).

    {"purge_request": 41, "scope": "range", "effect": "delete_for_everyone", "up_to_id": 90211,
     "start": "2026-01-01T00:00:00+00:00", "end": null}
"""

from chatdata.models import ChatUser
from chatdata.purge.scopes import MATCHING, MESSAGES, RANGE, USER


def lists_ids(spec):
    """Whether the events name the message ids (kept per conversation while the unit runs)."""
    return spec.kind in (MESSAGES, MATCHING)


def base_payload(request, spec):
    payload = {
        "purge_request": request.pk,
        "scope": spec.kind,
        "effect": spec.effect,
        "up_to_id": request.high_water_mark,
    }
    scope = spec.scope
    if spec.kind in (RANGE, USER):
        payload["start"] = scope.start.isoformat() if scope.start else None
        payload["end"] = scope.end.isoformat() if scope.end else None
    if spec.kind == USER:
        payload["sender"] = ChatUser.objects.values_list("external_id", flat=True).get(pk=scope.user)
    if spec.senders:
        names = dict(ChatUser.objects.filter(pk__in=spec.senders).values_list("id", "external_id"))
        payload["senders"] = [names[pk] for pk in spec.senders if pk in names]
    return payload


def event_for_unit(request, spec, conversation_pks, kind, ids_by_conversation, extra=None):
    """Yield (conversation pks, payload) pairs: one pair for all of them, or one per
    conversation when the payload differs (id lists)."""
    if not conversation_pks:
        return
    payload = base_payload(request, spec)
    if extra:
        payload.update(extra)
    if lists_ids(spec):
        for pk in sorted(conversation_pks):
            yield [pk], dict(payload, message_ids=ids_by_conversation.get(str(pk), []))
    else:
        yield list(conversation_pks), payload
