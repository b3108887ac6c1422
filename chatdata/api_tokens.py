"""API tokens: made, named and revoked by their owners (admins revoke anyone's), and checked on
every API call (issue 15).

    token, secret = do_create_api_token(actor=mona, name="ticketing", expires_at=None)
    token, why = authenticate("cs_…")     # (ApiToken, "") or (None, "why not")
    do_revoke_api_token(token, actor=mona)

The secret is returned once and stored as its sha256 only. A token acts with its owner's roles
and nothing more: the API resolves it to the owner and asks chatdata.permissions like the web.
A token of an owner who lost every role, or whose account was deactivated, gets nothing.
"""

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import OuterRef
from django.utils import timezone

from chatdata import roles
from chatdata.audit import write_audit
from chatdata.models import ApiToken

PREFIX = "cs_"
NAME_MAX = 100
# last_used_at is written at most this often per token: a busy integration must not turn every
# read into a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class TokenInvalid(Exception):
    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


class TokenRefused(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def hash_secret(secret):
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_refusal(user):
    if roles.roles_of(user):
        return None
    return "You hold no chatsweep role, so you cannot create API tokens."


def revoke_refusal(user, token):
    if user.pk == token.owner_id or roles.ADMIN in roles.roles_of(user):
        return None
    return "Only the token's owner or an admin may revoke it."


def _audit(action, token, *, actor, ip=None, reason=""):
    write_audit(
        action,
        actor=actor,
        target=f"API token {token.name!r} ({token.prefix}…) of {token.owner.get_username()}"[:255],
        scope={"token": token.pk, "owner": token.owner_id, "expires_at": token.expires_at.isoformat() if token.expires_at else None,
               "callback_url": token.callback_url or None},
        reason=reason,
        ip=ip,
    )


def _clean(name, expires_at, callback_url):
    name = (name or "").strip()
    if not name:
        raise TokenInvalid("Name the token: say what uses it.", "name")
    if len(name) > NAME_MAX:
        raise TokenInvalid(f"The name is longer than {NAME_MAX} characters.", "name")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenInvalid("The expiry must be in the future.", "expires_at")
    callback_url = (callback_url or "").strip()
    if callback_url:
        try:
            URLValidator(schemes=["http", "https"])(callback_url)
        except ValidationError:
            raise TokenInvalid(f"{callback_url!r} is not an http or https URL.", "callback_url") from None
        if len(callback_url) > 500:
            raise TokenInvalid("The callback URL is longer than 500 characters.", "callback_url")
    return name, expires_at, callback_url


def do_create_api_token(*, actor, name, expires_at=None, callback_url="", ip=None):
    """A new token for `actor`; returns (token, secret). The secret is not kept anywhere."""
    if refusal := create_refusal(actor):
        raise TokenRefused(refusal)
    name, expires_at, callback_url = _clean(name, expires_at, callback_url)
    secret = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            owner=actor, name=name, prefix=secret[: len(PREFIX) + 6], secret_hash=hash_secret(secret),
            expires_at=expires_at, callback_url=callback_url,
        )
        _audit("api_token.create", token, actor=actor, ip=ip)
    return token, secret


def do_revoke_api_token(token, *, actor, ip=None):
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().select_related("owner").get(pk=token.pk)
        if refusal := revoke_refusal(actor, token):
            _audit("api_token.refused", token, actor=actor, ip=ip, reason=refusal)
        elif token.revoked_at is not None:
            raise TokenInvalid("This token is already revoked.")
        else:
            token.revoked_at, token.revoked_by = timezone.now(), actor
            token.save(update_fields=["revoked_at", "revoked_by"])
            _audit("api_token.revoke", token, actor=actor, ip=ip)
            return token
    raise TokenRefused(refusal)


def authenticate(secret):
    """(token, "") for a usable secret, else (None, why). Touches last_used_at now and then."""
    if not secret or not secret.startswith(PREFIX) or len(secret) > 200:
        return None, "Send a valid API token: Authorization: Bearer cs_…"
    tokens = ApiToken.objects.select_related("owner")
    if connection.vendor == "postgresql":  # the owner's roles in the same query
        tokens = tokens.annotate(owner_roles=roles.role_names(OuterRef("owner_id")))
    token = tokens.filter(secret_hash=hash_secret(secret)).first()
    if token is None:
        return None, "Unknown API token."
    now = timezone.now()
    state = token.state(now)
    if state != "active":
        return None, f"This API token is {state}."
    if not token.owner.is_active:
        return None, "The owner of this API token is deactivated."
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    if hasattr(token, "owner_roles"):
        roles.remember_roles(token.owner, token.owner_roles)
    return token, ""


def tokens_visible_to(user):
    """Everyone's for an admin, else one's own."""
    tokens = ApiToken.objects.select_related("owner", "revoked_by")
    if roles.ADMIN in roles.roles_of(user):
        return tokens
    return tokens.filter(owner=user)
