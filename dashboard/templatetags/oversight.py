"""`{% oversight_access as can %}`: what the navigation and buttons offer the current user
(can.approvals, can.holds, can.manage_holds, can.audit, can.export_audit). The views check the
same rules again on the server."""

from django import template

from dashboard.views.oversight import access

register = template.Library()


@register.simple_tag(takes_context=True)
def oversight_access(context):
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return access(user) if user is not None else {}
