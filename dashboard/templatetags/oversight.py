"""`{% oversight_access as can %}`: what the navigation and buttons offer the current user
(can.approvals, can.holds, can.manage_holds, can.audit, can.export_audit). The views check the
same rules again on the server. `{% approvals_waiting %}` and `{% unread_notices %}`: the
header's counts."""

from django import template

from chatdata.approvals import awaiting_count
from chatdata.notices import unread_count
from dashboard.web.guards import access

register = template.Library()


@register.simple_tag(takes_context=True)
def oversight_access(context):
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return access(user) if user is not None else {}


def _person(context):
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return user if user is not None and user.is_authenticated else None


@register.simple_tag(takes_context=True)
def approvals_waiting(context):
    """`{% approvals_waiting as n %}`: the requests the user may approve now (the navigation's count)."""
    user = _person(context)
    return awaiting_count(user) if user is not None else 0


@register.simple_tag(takes_context=True)
def unread_notices(context):
    """`{% unread_notices as n %}`: the user's unread notices (chatdata.notices)."""
    user = _person(context)
    return unread_count(user) if user is not None else 0
