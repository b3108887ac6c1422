"""Request-wide context for the domain's audit.

`staff_audit_context` names who changes a staff account during this request, and from where, for
chatdata.staff_audit's signal receivers: the logged-in person (read only if a change happens) and
their address. It covers every view, Django's admin included.

`RefusalNet` is the safety net under DESIGN.md §4's "every refused attempt has an audit entry":
the actions record their own refusals (chatdata.audit.audit_refusal), with the request and the
reason; a state-changing request (POST, PUT, PATCH, DELETE) by a signed-in person that is answered
4xx although no audit entry was written while it ran (a page guard, a CSRF failure, a new view
that forgot) gets one generic `request.refused` entry naming the method, path, status and, for a
PermissionDenied, its sentence. So a refusal is recorded once: by the action, or else here.
Anonymous requests are left out: they never reach a view (the login page takes them), and
recording them would let anyone grow the log.
"""

from django.core.exceptions import PermissionDenied

from chatdata import staff_audit
from chatdata.audit import audit_refusal, counting_writes
from dashboard.web.guards import client_ip

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def staff_audit_context(get_response):
    def middleware(request):
        def acting_user():
            user = getattr(request, "user", None)
            return user if user is not None and user.is_authenticated else None

        with staff_audit.web_request(user=acting_user, ip=client_ip(request), via=f"web {request.method} {request.path}"):
            return get_response(request)

    return middleware


class RefusalNet:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in STATE_CHANGING:
            return self.get_response(request)
        with counting_writes() as written:
            response = self.get_response(request)
        user = getattr(request, "user", None)
        if 400 <= response.status_code < 500 and not written.count and user is not None and user.is_authenticated:
            why = getattr(request, "refusal_reason", "") or response.reason_phrase
            audit_refusal(
                "request.refused",
                f"{response.status_code}: {why}",
                actor=user,
                target=f"{request.method} {request.path}",
                ip=client_ip(request),
            )
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionDenied):
            request.refusal_reason = str(exception)
        return None
