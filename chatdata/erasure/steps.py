"""The phases of an erasure's run, one function each (the protocol is chatdata.erasure.run's).

Each step takes the request and the attempt running it, does its work in transactions of its own
that first check the attempt still runs the request (run.locked), and returns CONTINUE (the next
phase is set) or STOP (the request ended, waits for a queued purge, or was superseded).
"""

from django.db import connection, transaction
from django.utils import timezone

from chatdata.erasure import elsewhere, residue, run, tombstones
from chatdata.models import ChatUser, Conversation, ErasureRequest, Membership, Message, PurgeRequest
from chatdata.purge.actions import PurgeRefused, do_approve_purge, do_cancel_purge, do_execute_purge, do_preview_purge
from chatdata.purge.inputs import PurgeInvalid
from chatdata.purge.predicates import active_holds, scope_messages
from chatdata.purge.scopes import ConversationsScope, PurgeSpec, UserScope

State = ErasureRequest.State
PurgeState = PurgeRequest.State
PHASES = ("prepare", "sent", "peers", "elsewhere", "subject", "verify")
CONTINUE, STOP = "continue", "stop"


def _audit(action, erasure, **kwargs):
    from chatdata.erasure.actions import audit_erasure

    return audit_erasure(action, erasure, actor=kwargs.pop("actor", None), **kwargs)


def _save(erasure, *fields):
    erasure.updated_at = timezone.now()
    erasure.save(update_fields=[*fields, "updated_at"])


def _next_phase(erasure, attempt, phase, **changes):
    with transaction.atomic():
        locked = run.locked(erasure.pk, attempt)
        if locked is None:
            return STOP
        locked.phase = phase
        locked.progress.update(changes)
        _save(locked, "phase", "progress")
    return CONTINUE


def _prepare(erasure, attempt):
    subject = erasure.subject_id
    with transaction.atomic():
        if run.locked(erasure.pk, attempt) is None:
            return STOP
        member_of = set(Membership.objects.filter(user_id=subject).values_list("conversation_id", flat=True))
        sent_in = set(Message.objects.filter(sender_id=subject).order_by().values_list("conversation_id", flat=True).distinct())
        peers = set(Conversation.objects.filter(pk__in=member_of, kind=Conversation.Kind.PEER).values_list("pk", flat=True))
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO chatdata_erasurefile (request_id, path, message_pk) "
                "SELECT %s, a.file, a.message_id FROM chatdata_attachment a JOIN chatdata_message m ON m.id = a.message_id "
                "WHERE m.sender_id = %s AND NOT EXISTS ("
                "SELECT 1 FROM chatdata_erasurefile f WHERE f.request_id = %s AND f.path = a.file)",
                [erasure.pk, subject, erasure.pk],
            )
        known = erasure.progress
    return _next_phase(
        erasure,
        attempt,
        "sent",
        conversations=sorted(set(known.get("conversations", [])) | member_of | sent_in),
        peers=sorted(set(known.get("peers", [])) | peers),
    )


def _sent_spec(erasure):
    spec = PurgeSpec(UserScope(erasure.subject_id), "delete_for_everyone")
    return spec if scope_messages(spec, holds=active_holds()).exists() else None


def _peers_spec(erasure):
    if erasure.peer_conversations != ErasureRequest.PeerConversations.DELETE:
        return None
    with_messages = sorted(
        Message.objects.filter(conversation_id__in=erasure.progress.get("peers", []))
        .order_by()
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    # Peer conversations left without messages are removed by the elsewhere step.
    return PurgeSpec(ConversationsScope(with_messages), "delete_conversation") if with_messages else None


def _purge_step(part, spec_of, next_phase):
    kind = "user" if part == "sent" else "conversations"

    def step(erasure, attempt):
        erasure.refresh_from_db()
        purge = next((p for p in reversed(run.purges_of(erasure, current=True)) if p.scope_kind == kind), None)
        try:
            if purge is None:
                spec = spec_of(erasure)
                if spec is None:
                    return _next_phase(erasure, attempt, next_phase)
                reason = f"Erasure #{erasure.pk}: {'what the data subject sent' if part == 'sent' else 'their peer conversations'}"
                purge = do_preview_purge(spec, actor=erasure.requested_by, reason=reason, ticket=erasure.ticket, erasure=erasure)
            if purge.state == PurgeState.PREVIEWED:
                purge = do_execute_purge(purge, actor=erasure.requested_by)
            if purge.state == PurgeState.AWAITING_APPROVAL:
                purge = do_approve_purge(purge, actor=erasure.approved_by)
                erasure.refresh_from_db()
                if erasure.cancel_requested and not purge.is_final:  # asked while it was being made
                    purge = do_cancel_purge(purge, actor=erasure.cancelled_by)
        except PurgeRefused as exc:
            if exc.code == PurgeRefused.HOLD:
                with transaction.atomic():
                    if (locked := run.locked(erasure.pk, attempt)) is not None:
                        run.block_if_held(locked)
                return STOP
            run.fail(erasure.pk, attempt, f"The {part} purge was refused: {exc.message}")
            return STOP
        except PurgeInvalid as exc:
            run.fail(erasure.pk, attempt, f"The {part} purge is invalid: {exc.message}")
            return STOP
        if purge.state == PurgeState.DONE:
            return _next_phase(erasure, attempt, next_phase)
        if purge.state in (PurgeState.QUEUED, PurgeState.RUNNING, PurgeState.APPROVED):
            return STOP  # its job calls continue_after_purge when it ends
        if purge.state == PurgeState.CANCELLED and erasure.cancel_requested:
            return CONTINUE  # advance() ends the request cancelled
        run.fail(erasure.pk, attempt, f"Purge #{purge.pk} ({part}) ended {purge.state}: {purge.error or purge.rejection_reason}".rstrip(": "))
        return STOP

    return step


def _elsewhere(erasure, attempt):
    def still_ours():
        return run.locked(erasure.pk, attempt)

    if not elsewhere.remove(erasure, still_ours):
        return STOP
    return _next_phase(erasure, attempt, "subject")


def _subject(erasure, attempt):
    """Pseudonymise the row, set erased_at and bury the original id, in one transaction."""
    with transaction.atomic():
        erasure = run.locked(erasure.pk, attempt)
        if erasure is None:
            return STOP
        subject = ChatUser.objects.select_for_update().get(pk=erasure.subject_id)
        now = timezone.now()
        # Sent on without what a hold on the subject keeps: the held messages need their sender's
        # row as it is, so it stays (the residue check and the certificate count it as held).
        held = erasure.outside_holds and run.subject_holds(erasure)
        if subject.erased_at is None and not held:
            tombstones.bury_user(subject.external_id, now=now)
            subject.external_id = subject.display_name = erasure.subject_pseudonym
            subject.erased_at = now
            subject.save(update_fields=["external_id", "display_name", "erased_at"])
            _audit("erasure.pseudonymise", erasure, counts=erasure.progress.get("elsewhere"))
        _scrub_purges(erasure)
        erasure.state = State.VERIFYING
        erasure.phase = "verify"
        _save(erasure, "state", "phase")
    return CONTINUE


def _scrub_purges(erasure):
    """The erasure's purges keep their counts, not the samples of the subject's messages their
    previews showed, nor the subject's id in their label."""
    for purge in PurgeRequest.objects.select_for_update().filter(erasure_id=erasure.pk):
        preview = dict(purge.preview or {}, sample_first=[], sample_last=[])
        target = f"user {erasure.subject_pseudonym}" if purge.scope_kind == "user" else purge.target
        if preview != purge.preview or target != purge.target:
            purge.preview, purge.target = preview, target
            purge.save(update_fields=["preview", "target"])


def _verify(erasure, attempt):
    from chatdata.erasure.certificate import issue

    erasure.refresh_from_db()
    found = residue.check(erasure)
    with transaction.atomic():
        erasure = run.locked(erasure.pk, attempt)
        if erasure is None:
            return STOP
        erasure.residue, erasure.kept, erasure.counts = found.residue, found.kept, deleted_counts(erasure)
        erasure.checked_at = timezone.now()
        _save(erasure, "residue", "kept", "counts", "checked_at")
        if found.clean:
            erasure.state, erasure.completed_at, erasure.finished_at = State.DONE, erasure.checked_at, erasure.checked_at
            entry = _audit("erasure.complete", erasure, counts=erasure.counts)
            erasure.audit_hash_at_completion = entry.hash
            erasure.certificate = issue(erasure)
            _save(erasure, "state", "completed_at", "finished_at", "audit_hash_at_completion", "certificate")
            erasure.files.all().delete()  # the paths of the subject's files: checked, no longer needed
        else:
            listed = ", ".join(f"{table} {n}" for table, n in found.residue.items() if n)
            run.end(erasure, State.FAILED, reason=f"The residue check found data of the subject left outside legal holds: {listed}.")
    return STOP


STEPS = {
    "prepare": _prepare,
    "sent": _purge_step("sent", _sent_spec, "peers"),
    "peers": _purge_step("peers", _peers_spec, "elsewhere"),
    "elsewhere": _elsewhere,
    "subject": _subject,
    "verify": _verify,
}
assert tuple(STEPS) == PHASES and PHASES[0] == run.FIRST_PHASE


def deleted_counts(erasure):
    """What the erasure deleted, per table: its purges' executed counts and the elsewhere step's."""
    totals = dict.fromkeys(residue.DELETED_KEYS, 0)
    for purge in run.purges_of(erasure):
        result = purge.result or {}
        for key in ("messages", "attachments", "reactions", "hides", "pending_deliveries"):
            totals[key] += result.get(key, 0)
        if purge.scope_kind == "conversations":
            totals["conversations"] += result.get("conversations", 0)
    for key, value in (erasure.progress.get("elsewhere") or {}).items():
        if key in totals:
            totals[key] += value
    return totals
