"""Legal holds: placing and releasing them, and finding the ones a purge meets.

What a hold covers is defined in chatdata.models.compliance. Every destructive purge excludes held
messages batch by batch (chatdata.purge.predicates), and its preview counts and names them. A
`user` scope (an erasure) is refused before anything runs, with the hold named, only when it meets
a hold on that user: the person is under hold, so erasing them would defeat it. A conversation
hold keeps its messages out of a user scope like out of any other, counted in the preview; an
erasure request lists them, with their hold, in what its certificate says was kept and why
(chatdata.erasure), so nothing is kept silently.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from chatdata.audit import audit_refusal, write_audit
from chatdata.models import ChatUser, Conversation, LegalHold, Message
from chatdata.parsing import InvalidText, check_text
from chatdata.permissions import holds_refusal
from chatdata.purge.inputs import PurgeInvalid, check_bounds, parse_moment
from chatdata.purge.predicates import active_holds, hold_q
from chatdata.purge.scopes import USER


REASON_REQUIRED = "A legal hold needs a reason (the matter or case it serves)."


class HoldRefused(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _refuse(message, *, actor, target, scope=None, ip=None):
    """Audit a refused attempt (after the caller's transaction: call it outside), then raise."""
    audit_refusal("hold.refused", message, actor=actor, target=target, scope=scope, ip=ip)
    raise HoldRefused(message)


def _overlaps(a_start, a_end, b_start, b_end):
    return (a_start is None or b_end is None or a_start < b_end) and (b_start is None or a_end is None or b_start < a_end)


def holds_meeting(spec, *, hwm=None, holds=None):
    """The active holds that stop a `user` scope: a hold on that user whose window overlaps the
    scope's. Empty for other scopes (their held messages are only kept out)."""
    if spec.kind != USER:
        return []
    holds = active_holds() if holds is None else holds
    scope = spec.scope
    return [
        hold
        for hold in holds
        if hold.kind == LegalHold.Kind.USER
        and hold.user_id == scope.user
        and _overlaps(hold.start, hold.end, scope.start, scope.end)
    ]


def covered_messages(hold):
    """Messages the hold keeps right now (0 once released): one COUNT over the predicate every
    purge uses to leave held messages alone, served by the (sender, sent_at) or
    (conversation, sent_at, id) index."""
    if not hold.is_active or (hold.kind == LegalHold.Kind.CONVERSATION and hold.conversation_id is None):
        return 0
    return Message.objects.filter(hold_q(hold)).count()


def held_text(holds):
    """The holds named, each with the messages it keeps now: "legal hold #3 on user u1, placed
    6 Mar 2026, 14:05 UTC (case 7), which keeps 12 messages"."""
    parts = []
    for hold in holds:
        kept = covered_messages(hold)
        parts.append(f"{hold.describe()}, which keeps {kept:,} message{'s' if kept != 1 else ''}")
    return "; ".join(parts)


def hold_refusal_message(spec, holds):
    return (
        f"This {spec.kind} scope meets {held_text(holds)}. Release the hold or narrow the scope first; "
        "or erase everything the hold does not keep, through an erasure request."
    )


@dataclass(frozen=True)
class Covering:
    """An active hold that keeps some of what a page shows: `messages` it keeps there, and
    whether the hold is on that very user or conversation (`direct`) or reaches it (a user hold
    on a member, a conversation hold on one of the user's conversations)."""

    hold: LegalHold
    messages: int
    direct: bool


def holds_on_user(chat_user):
    """The active holds that keep any of what `chat_user` sent: theirs first, then conversation
    holds covering some of their messages (a handful of holds, one COUNT each)."""
    found = []
    for hold in active_holds():
        if hold.kind == LegalHold.Kind.USER and hold.user_id == chat_user.pk:
            found.append(Covering(hold, covered_messages(hold), True))
        elif hold.kind == LegalHold.Kind.CONVERSATION and hold.conversation_id is not None:
            kept = Message.objects.filter(hold_q(hold), sender_id=chat_user.pk).count()
            if kept:
                found.append(Covering(hold, kept, False))
    return sorted(found, key=lambda c: (not c.direct, c.hold.pk))


def holds_on_conversation(conversation):
    """The active holds that keep any of `conversation`: its own first, then user holds on
    people whose messages in it they keep."""
    found = []
    for hold in active_holds():
        if hold.kind == LegalHold.Kind.CONVERSATION and hold.conversation_id == conversation.pk:
            found.append(Covering(hold, covered_messages(hold), True))
        elif hold.kind == LegalHold.Kind.USER:
            kept = Message.objects.filter(hold_q(hold), conversation_id=conversation.pk).count()
            if kept:
                found.append(Covering(hold, kept, False))
    return sorted(found, key=lambda c: (not c.direct, c.hold.pk))


def do_add_legal_hold(*, actor, user=None, conversation=None, start=None, end=None, reason, ip=None):
    """Place a hold on a ChatUser or a Conversation (exactly one), optionally for a time window."""
    if refusal := holds_refusal(actor):
        subject = user or conversation
        _refuse(refusal, actor=actor, target=f"{'user' if user is not None else 'conversation'} {getattr(subject, 'external_id', '')}", ip=ip)
    return _add_legal_hold(actor=actor, user=user, conversation=conversation, start=start, end=end, reason=reason, ip=ip)


@transaction.atomic
def _add_legal_hold(*, actor, user, conversation, start, end, reason, ip):
    if (user is None) == (conversation is None):
        raise PurgeInvalid("A legal hold covers either one user or one conversation.", "user")
    if not (reason or "").strip():
        raise PurgeInvalid(REASON_REQUIRED, "reason")
    try:
        check_text(reason, "reason")
    except InvalidText as exc:
        raise PurgeInvalid(exc.message, "reason") from None
    start, end = parse_moment(start, "start"), parse_moment(end, "end")
    check_bounds(start, end)
    if user is not None and not isinstance(user, ChatUser):
        raise PurgeInvalid("user must be a ChatUser.", "user")
    if conversation is not None and not isinstance(conversation, Conversation):
        raise PurgeInvalid("conversation must be a Conversation.", "conversation")
    subject = user or conversation
    hold = LegalHold.objects.create(
        kind=LegalHold.Kind.USER if user is not None else LegalHold.Kind.CONVERSATION,
        user=user,
        conversation=conversation,
        subject_external_id=subject.external_id,
        start=start,
        end=end,
        reason=reason.strip(),
        created_by=actor,
    )
    write_audit(
        "hold.add",
        actor=actor,
        target=f"{hold.kind} {hold.subject_external_id}",
        scope=hold_scope(hold),
        reason=hold.reason,
        ip=ip,
    )
    return hold


def do_release_legal_hold(hold, *, actor, reason="", ip=None):
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
        refusal = holds_refusal(actor)
        if not refusal and hold.released_at is not None:
            refusal = f"Legal hold #{hold.pk} was already released on {hold.released_at:%Y-%m-%d %H:%M} UTC."
        if not refusal:
            return _release(hold, actor=actor, reason=reason, ip=ip)
    _refuse(refusal, actor=actor, target=f"{hold.kind} {hold.subject_external_id}", scope=hold_scope(hold), ip=ip)


def _release(hold, *, actor, reason, ip):
    hold.released_at = timezone.now()
    hold.released_by = actor
    hold.release_reason = (reason or "").strip()
    hold.save(update_fields=["released_at", "released_by", "release_reason"])
    write_audit(
        "hold.release",
        actor=actor,
        target=f"{hold.kind} {hold.subject_external_id}",
        scope=hold_scope(hold),
        reason=hold.release_reason,
        ip=ip,
    )
    return hold


def hold_scope(hold):
    """The hold as a JSON dict, for the audit log and `legal_hold list --json`."""
    return {
        "hold": hold.pk,
        "kind": hold.kind,
        "subject": hold.subject_external_id,
        "start": hold.start.isoformat() if hold.start else None,
        "end": hold.end.isoformat() if hold.end else None,
        "reason": hold.reason,
        "created_by": hold.created_by.get_username() if hold.created_by_id else None,
        "created_at": hold.created_at.isoformat(),
        "released_at": hold.released_at.isoformat() if hold.released_at else None,
        "released_by": hold.released_by.get_username() if hold.released_by_id else None,
    }
