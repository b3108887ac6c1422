"""What every endpoint shares: the acting person, their address, error bodies, and the
translation of the domain's refusals into HTTP statuses (never a second decision)."""

from typing import Annotated

from django.core.exceptions import PermissionDenied
from pydantic import Field
from ninja import Schema

from chatdata.audit import through_api_token
from chatdata.purge.actions import PurgeRefused
from dashboard.web.guards import client_ip

REFUSAL_STATUS = {
    PurgeRefused.NOT_PERMITTED: 403,
    PurgeRefused.HOLD: 409,
    PurgeRefused.APPROVAL_NEEDED: 409,
    PurgeRefused.BAD_STATE: 409,
    PurgeRefused.EXPIRED: 409,
    PurgeRefused.SCOPE_CHANGED: 409,
}


class FieldError(Schema):
    field: str | None = None
    message: str


class ErrorOut(Schema):
    detail: str
    code: str
    errors: list[FieldError] = []


class Invalid(Exception):
    """Bad input: 422 with the field and the message (the CLI's and the web's words)."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut}


def responses(ok, status=200):
    return {status: ok, **ERRORS}


def actor(request):
    return request.auth.owner


def allow(refusal):
    """403 with the sentence of a chatdata.permissions refusal, if any."""
    if refusal:
        raise PermissionDenied(refusal)


def act(request, action, *args, **kwargs):
    """Call a do_* action as the token's owner, its audit entries carrying the token's name."""
    with through_api_token(request.auth.name):
        return action(*args, actor=request.auth.owner, ip=client_ip(request), **kwargs)


def page_limit(limit, default=50, maximum=500):
    if limit is None:
        return default
    if limit < 1 or limit > maximum:
        raise Invalid(f"limit must be between 1 and {maximum}.", "limit")
    return limit


# Ids as PostgreSQL's bigint holds them: anything else is a 422, never a database error.
Id = Annotated[int, Field(ge=0, le=2**63 - 1)]
