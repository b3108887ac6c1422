"""chatsweep's JSON API, /api/v1/ (issue 15, DESIGN.md §6), built with django-ninja: the OpenAPI
document is generated from these functions and their schemas, never written by hand.

Every endpoint resolves the bearer token to its owner (dashboard.api.auth) and calls the same
chatdata functions as the web; this package only translates. The statuses:
401 no, unknown, expired or revoked token; 403 the role may not (chatdata.permissions' sentence);
404 unknown id; 409 the request's state or a legal hold does not allow it; 422 bad input, with the
field and the message the web and the CLI give; 429 beyond API_RATE_LIMIT, with Retry-After.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from chatdata.api_tokens import TokenInvalid, TokenRefused
from chatdata.purge.actions import PurgeRefused
from chatdata.purge.holds import HoldRefused
from chatdata.purge.scopes import PurgeInvalid
from dashboard.api.auth import RateLimited, TokenAuth, Unauthenticated
from dashboard.api.common import REFUSAL_STATUS, Invalid

api = NinjaAPI(
    title="chatsweep API",
    version="1",
    description=__doc__,
    urls_namespace="api",
    auth=TokenAuth(),
)


def _error(request, status, detail, code, errors=(), headers=None):
    response = api.create_response(request, {"detail": detail, "code": code, "errors": list(errors)}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(Unauthenticated)
def _unauthenticated(request, exc):
    return _error(request, 401, exc.message, "unauthenticated", headers={"WWW-Authenticate": "Bearer"})


@api.exception_handler(AuthenticationError)
def _authentication(request, exc):
    return _error(request, 401, "Send an API token: Authorization: Bearer cs_…", "unauthenticated",
                  headers={"WWW-Authenticate": "Bearer"})


@api.exception_handler(RateLimited)
def _rate_limited(request, exc):
    return _error(request, 429, str(exc), "rate_limited", headers={"Retry-After": str(exc.retry_after)})


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return _error(request, 403, str(exc) or "Not allowed.", "not_permitted")


@api.exception_handler(TokenRefused)
def _token_refused(request, exc):
    return _error(request, 403, exc.message, "not_permitted")


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(request, 404, "Not found.", "not_found")


@api.exception_handler(PurgeInvalid)
def _invalid(request, exc):
    return _error(request, 422, exc.message, "invalid", [{"field": exc.field, "message": exc.message}])


@api.exception_handler(Invalid)
def _invalid_input(request, exc):
    return _error(request, 422, exc.message, "invalid", [{"field": exc.field, "message": exc.message}])


@api.exception_handler(TokenInvalid)
def _token_invalid(request, exc):
    return _error(request, 422, exc.message, "invalid", [{"field": exc.field, "message": exc.message}])


@api.exception_handler(ValidationError)
def _validation(request, exc):
    errors = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "payload")]
        errors.append({"field": ".".join(location) or None, "message": error.get("msg", "invalid")})
    detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors) or "Invalid input."
    return _error(request, 422, detail, "invalid", errors)


@api.exception_handler(PurgeRefused)
def _refused(request, exc):
    return _error(request, REFUSAL_STATUS.get(exc.code, 409), exc.message, exc.code)


@api.exception_handler(HoldRefused)
def _hold_refused(request, exc):
    # Permission was asked first by the endpoint (403); what is left is the hold's state.
    return _error(request, 409, exc.message, "bad_state")


@api.exception_handler(HttpError)
def _http_error(request, exc):
    return _error(request, exc.status_code, str(exc), "error")


from dashboard.api import audit, browse, erasures, holds, purges, sync  # noqa: E402  (routers use `api`'s types)

api.add_router("/purge-requests", purges.router)
api.add_router("/erasure-requests", erasures.router)
api.add_router("/legal-holds", holds.router)
api.add_router("/audit-entries", audit.router)
api.add_router("/", browse.router)
api.add_router("/sync-events", sync.router)


def urlpatterns():
    """The API's URLs, exempt from LoginRequiredMiddleware: the token is the login."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback.login_required = False
    return patterns, app_name, namespace
