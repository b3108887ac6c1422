"""Who may do what: the permission matrix of issue 4, in one place for the web, the API and the CLI.

| role       | may request                                                        | may approve / cancel / resume     |
|------------|--------------------------------------------------------------------|-----------------------------------|
| support    | one-member effects (hide_for_user, delete_conversation for one      | their own requests (cancel/resume)|
|            | member) on conversation-level scopes; delete_for_everyone of a      |                                   |
|            | `messages` scope of at most PURGE_SUPPORT_MAX_MESSAGES ids          |                                   |
| moderator  | every conversation-level deletion (messages, range, conversation,   | others' conversation-level        |
|            | conversations; any effect)                                          | requests                          |
| compliance | `user` scopes (erasure); legal holds; audit export                  | others' `user`-scope requests     |
| auditor    | nothing (read only: browse, purge requests, audit log)             | nothing                           |
| admin      | everything                                                         | everything but their own approval |

Nobody approves their own request. Cancel and resume are open to the requester and to whoever may
approve the request. Each `*_refusal` function returns None when allowed or a sentence saying why
not; the `can_*` twins return booleans for templates.
"""

from django.conf import settings

from chatdata import roles
from chatdata.purge.scopes import DELETE_FOR_EVERYONE, MESSAGES, USER


def _held(user):
    return roles.roles_of(user) if user is not None else frozenset()


def request_refusal(user, spec):
    held = _held(user)
    if not held:
        return "You hold no chatsweep role, so you cannot request deletions."
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


def _may_approve_kind(held, kind):
    if roles.ADMIN in held:
        return True
    return roles.COMPLIANCE in held if kind == USER else roles.MODERATOR in held


def approval_refusal(user, request):
    if user is not None and user.pk == request.requested_by_id:
        return "You cannot approve or reject your own request: another staff member must."
    if not _may_approve_kind(_held(user), request.scope_kind):
        who = "a compliance officer" if request.scope_kind == USER else "a moderator"
        return f"Only {who} or an admin may approve or reject this request."
    return None


def manage_refusal(user, request):
    """Cancel and resume: the requester, or whoever may approve the request."""
    if user is not None and user.pk == request.requested_by_id and _held(user):
        return None
    if _may_approve_kind(_held(user), request.scope_kind):
        return None
    return "Only the requester or someone who may approve this request can cancel or resume it."


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
