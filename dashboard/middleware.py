"""Request-wide context for the domain's audit.

`staff_audit_context` names who changes a staff account during this request, and from where, for
chatdata.staff_audit's signal receivers: the logged-in person (read only if a change happens) and
their address. It covers every view, Django's admin included.
"""

from chatdata import staff_audit
from dashboard.views.oversight import client_ip


def staff_audit_context(get_response):
    def middleware(request):
        def acting_user():
            user = getattr(request, "user", None)
            return user if user is not None and user.is_authenticated else None

        with staff_audit.web_request(user=acting_user, ip=client_ip(request), via=f"web {request.method} {request.path}"):
            return get_response(request)

    return middleware
