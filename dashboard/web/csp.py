"""The one deliberate exception to the Content Security Policy: django-rq's dashboard.

Its templates (django_rq/templates, served under /admin/django_rq/ and inside Django's admin at
/admin/django_rq/dashboard/) carry inline <script> and <style> blocks and onclick= attributes
without nonces, so under the site's policy its job lists lose their actions and its job rows
their links. Those pages are for is_staff accounts only and escape what they show (job arguments,
tracebacks) like every Django template; they get the site's policy with inline script and style
allowed, and no nonce, since a nonce in a directive makes browsers ignore 'unsafe-inline' there.
Every other directive stays as strict as on the rest of the site. Overriding some twenty
templates of django-rq instead would break quietly with each of its releases.
"""

from django.conf import settings
from django.utils.csp import CSP


def relaxed_policy():
    return {
        **settings.SECURE_CSP,
        "script-src": [CSP.SELF, CSP.UNSAFE_INLINE],
        "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    }


def is_django_rq_view(match):
    # Both mounts keep the view's module: django-rq's own views and its ModelAdmin (the admin's
    # wrappers copy __module__ with functools.wraps).
    return match is not None and getattr(match.func, "__module__", "").split(".")[0] == "django_rq"


class RelaxedPolicyForDjangoRQ:
    """Sits inside ContentSecurityPolicyMiddleware, which then sends the policy chosen here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # _csp_config is how Django's csp_override decorator hands a view's policy to the
        # middleware; a view that set its own keeps it.
        if is_django_rq_view(getattr(request, "resolver_match", None)) and not hasattr(response, "_csp_config"):
            response._csp_config = relaxed_policy()
        return response
