"""`{% oversight_access as can %}`: what the navigation and buttons offer the current user
(can.approvals, can.holds, can.manage_holds, can.audit, can.export_audit). The views check the
same rules again on the server."""

from django import template

from chatdata.approvals import awaiting_count
from chatdata.notices import unread_count
from dashboard.views.oversight import access

register = template.Library()


@register.simple_tag(takes_context=True)
def oversight_access(context):
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return access(user) if user is not None else {}


@register.simple_tag(takes_context=True)
def nav_counts(context):
    """`{% nav_counts as counts %}`: counts.approvals (requests the user may approve now, for
    those who may approve any) and counts.notices (their unread notices)."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not user.is_authenticated:
        return {}
    return {"approvals": awaiting_count(user), "notices": unread_count(user)}
