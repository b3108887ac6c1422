"""Who may do what: the permission matrix of issue 4, in one place for the web, the API and the CLI.

| role       | may request                                                        | may approve / cancel / resume     |
|------------|--------------------------------------------------------------------|-----------------------------------|
| support    | one-member effects (hide_for_user, delete_conversation for one      | their own requests (cancel/resume)|
|            | member) on conversation-level scopes; delete_for_everyone of a      |                                   |
|            | `messages` scope of at most PURGE_SUPPORT_MAX_MESSAGES ids          |                                   |
| moderator  | every conversation-level deletion (messages, range, conversation,   | others' conversation-level        |
|            | conversations, matching: what a search finds; any effect, only      | requests                          |
|            | attachments included)                                               |                                   |
| compliance | `user` scopes (erasure); legal holds; audit export                  | others' `user`-scope requests     |
| auditor    | nothing (read only: browse, purge requests, audit log)             | nothing                           |
| admin      | everything                                                         | everything but their own approval |

Nobody approves their own request, nor through an account they created, took over (set its
password) or gave the approving role within APPROVAL_COOLING_HOURS (`cooling_refusal`). Cancel and resume are open to the requester and to whoever may
approve the request. Each `*_refusal` function returns None when allowed or a sentence saying why
not; the `can_*` twins return booleans for templates.

Erasure requests (chatdata.erasure) follow the `user` row: compliance officers (and admins) take
them and export a subject's data; a second compliance officer or an admin, never the requester,
approves or rejects; the requester and those approvers cancel and resume. Auditors may look at
them. The purges that carry out an approved erasure (PurgeRequest.erasure) are governed by the
erasure's rules, whatever their scope: deleting the subject's peer conversations is part of the
erasure the second officer approved, not a moderator's conversation-level deletion.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.timesince import timesince

from chatdata import roles, staff_history
from chatdata.purge.scopes import DELETE_FOR_EVERYONE, MESSAGES, USER


def _held(user):
    return roles.roles_of(user) if user is not None else frozenset()


def request_refusal(user, spec, *, erasure=None):
    """`erasure`: the ErasureRequest the purge carries out, if any."""
    held = _held(user)
    if not held:
        return "You hold no chatsweep role, so you cannot request deletions."
    if erasure is not None:
        return _erasure_purge_refusal(user, held, erasure)
    if roles.ADMIN in held:
        return None
    if spec.kind == USER:
        if roles.COMPLIANCE in held:
            return None
        return "Only compliance officers may purge a user's data (an erasure)."
    if roles.MODERATOR in held:
        return None
    if roles.SUPPORT in held:
        if spec.one_member:
            return None
        limit = settings.PURGE_SUPPORT_MAX_MESSAGES
        if spec.kind == MESSAGES and spec.effect == DELETE_FOR_EVERYONE:
            if len(spec.scope.ids) <= limit:
                return None
            return f"Support may delete at most {limit} selected messages for everyone; ask a moderator."
        return "Support may hide messages for one member or delete a few selected messages; ask a moderator."
    return "Your role is read-only: you cannot request deletions."


def _erasure_purge_refusal(user, held, erasure):
    """A purge carrying out an erasure is made while the erasure runs, by its requester."""
    if erasure.state != "running":
        return f"Erasure #{erasure.pk} is {erasure.state}: only a running erasure makes purges."
    if user.pk != erasure.requested_by_id:
        return f"Only the requester of erasure #{erasure.pk} makes its purges (its approver approves them)."
    if roles.ADMIN in held or roles.COMPLIANCE in held:
        return None
    return "Only compliance officers may purge a user's data (an erasure)."


def _may_approve_kind(held, kind):
    if roles.ADMIN in held:
        return True
    return roles.COMPLIANCE in held if kind == USER else roles.MODERATOR in held


def _governing_kind(request):
    """The scope kind whose rules apply: a purge carrying out an erasure follows the erasure's."""
    return USER if getattr(request, "erasure_id", None) else request.scope_kind


def approval_refusal(user, request):
    if user is not None and user.pk == request.requested_by_id:
        return "You cannot approve or reject your own request: another staff member must."
    kind = _governing_kind(request)
    if not _may_approve_kind(_held(user), kind):
        who = "a compliance officer" if kind == USER else "a moderator"
        return f"Only {who} or an admin may approve or reject this request."
    return cooling_refusal(user, request)


def _approving_sources(user, kind):
    """The role sources (group names, "superuser") through which `user` may approve `kind`."""
    wanted = {roles.ADMIN, roles.COMPLIANCE if kind == USER else roles.MODERATOR}
    sources = set(user.groups.filter(name__in=wanted).values_list("name", flat=True))
    if user.is_superuser:
        sources.add(staff_history.SUPERUSER)
    return sources


def _ago(moment, now):
    if now - moment < timedelta(minutes=1):
        return "less than a minute ago"
    return f"{timesince(moment, now, depth=1)} ago".replace("\xa0", " ")


def _chain_text(chain, now, first):
    """'Your account was created by x 2 hours ago, whose account was created by y ...', newest link first."""
    parts = []
    for event in reversed(chain):
        whose = "Your account" if first and not parts else "whose account"
        what = " was created" if event.action == staff_history.CREATED else "'s password was set"
        parts.append(f"{whose}{what} by {event.actor_name} {_ago(event.at, now)}")
    return ", ".join(parts)


def cooling_refusal(user, request):
    """The two-person rule's cooling period: an account the requester created, took over or gave
    the approving role (directly, or through accounts they control: chatdata.staff_history) within
    APPROVAL_COOLING_HOURS may not approve or reject their request. A role the approver held
    besides, from anyone else, still lets them."""
    hours = settings.APPROVAL_COOLING_HOURS
    if not hours or user is None or request.requested_by_id is None:
        return None
    now = timezone.now()
    events = staff_history.events_since(now - timedelta(hours=hours))
    if not events:
        return None
    chains = staff_history.controlled_accounts(request.requested_by_id, events)
    if user.pk in chains:
        why = _chain_text(chains[user.pk], now, first=True)
    else:
        grants = staff_history.latest_grants(user.pk, events)
        held = _approving_sources(user, request.scope_kind)
        tainted = {source: grants[source] for source in held if source in grants and grants[source].actor_id in chains}
        if not held or len(tainted) < len(held):
            return None
        grant = max(tainted.values(), key=lambda event: event.id)
        role = roles.ADMIN if grant.source == staff_history.SUPERUSER else grant.role
        why = f"Your account was given the {role} role by {grant.actor_name} {_ago(grant.at, now)}"
        if chains[grant.actor_id]:
            why += ", " + _chain_text(chains[grant.actor_id], now, first=False)
    return (
        f"{why}; an account the requester created, took over or promoted cannot approve or reject their "
        f"requests for {hours} hours."
    )


def manage_refusal(user, request):
    """Cancel and resume: the requester, or whoever may approve the request."""
    if user is not None and user.pk == request.requested_by_id and _held(user):
        return None
    if _may_approve_kind(_held(user), _governing_kind(request)):
        return None
    return "Only the requester or someone who may approve this request can cancel or resume it."


# --- erasure requests ---------------------------------------------------------------------------


def erasure_open_refusal(user):
    if roles.has_role(user, roles.COMPLIANCE):
        return None
    return "Only compliance officers and admins take erasure requests."


def erasure_approval_refusal(user, erasure):
    """Approve or reject an erasure: a second compliance officer or an admin, never the requester
    (the rule of a `user` purge, cooling rules and all)."""
    return approval_refusal(user, erasure)


def erasure_manage_refusal(user, erasure):
    """Cancel or resume an erasure: its requester, or whoever may approve it."""
    return manage_refusal(user, erasure)


def erasure_export_refusal(user):
    if roles.has_role(user, roles.COMPLIANCE):
        return None
    return "Only compliance officers and admins may export a data subject's data."


def can_view_erasures(user):
    """Compliance officers, auditors and admins see erasure requests and their certificates."""
    return roles.has_role(user, roles.COMPLIANCE, roles.AUDITOR)


def holds_refusal(user):
    if roles.has_role(user, roles.COMPLIANCE):
        return None
    return "Only compliance officers and admins manage legal holds."


def import_refusal(user):
    """import_chat rewrites names and titles and adds data: an admin's call. An operator may also
    run it without naming an account (see chatdata.importer)."""
    if roles.has_role(user):
        return None
    return "Only admins import chat data."


def can_request(user, spec):
    return request_refusal(user, spec) is None


def can_approve(user, request):
    return approval_refusal(user, request) is None


def can_manage(user, request):
    return manage_refusal(user, request) is None


def can_manage_holds(user):
    return holds_refusal(user) is None


def can_export_audit(user):
    return roles.has_role(user, roles.COMPLIANCE)


def can_view_audit(user):
    return roles.has_role(user, roles.COMPLIANCE, roles.AUDITOR)


def can_view_purges(user):
    """Any staff role may look at purge requests and their progress."""
    return bool(_held(user))


def can_view_approvals(user):
    """Whoever may approve some kind of request: moderators (conversation-level requests),
    compliance (erasures) and admins. Each row still says whether *this* user may approve it."""
    return roles.has_role(user, roles.MODERATOR, roles.COMPLIANCE)


def can_view_holds(user):
    """Every staff role: holds are named in every preview and refusal they cause anyway."""
    return bool(_held(user))
