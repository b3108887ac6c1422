"""Bearer tokens for the API, and the per-token rate limit.

The token resolves to its owner; every endpoint then asks chatdata.permissions about that owner,
exactly as the web does about the logged-in person. Each request of a token counts in a fixed
one-minute window in Redis (INCR + EXPIRE, one round trip); beyond API_RATE_LIMIT requests the
call is answered 429 with Retry-After (the seconds left in the window) before anything runs.
"""

import time

from django.conf import settings
from ninja.security import HttpBearer

from chatdata.api_tokens import authenticate
from dashboard.api.text import check_request_text


class Unauthenticated(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


class RateLimited(Exception):
    def __init__(self, retry_after):
        super().__init__(f"Rate limit of {settings.API_RATE_LIMIT} requests a minute reached.")
        self.retry_after = retry_after


def _redis():
    import django_rq

    return django_rq.get_connection("default")


def check_rate(token):
    limit = settings.API_RATE_LIMIT
    if not limit:
        return
    now = time.time()
    window = int(now // 60)
    key = f"chatsweep:api-rate:{token.pk}:{window}"
    pipe = _redis().pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    count, _ = pipe.execute()
    if count > limit:
        raise RateLimited(max(1, int((window + 1) * 60 - now) + 1))


class TokenAuth(HttpBearer):
    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("Send an API token: Authorization: Bearer cs_…")
        return self.authenticate(request, secret.strip())

    def authenticate(self, request, token):
        found, why = authenticate(token)
        if found is None:
            raise Unauthenticated(why)
        check_rate(found)
        check_request_text(request)
        request.api_token = found
        # The token acts as its owner: dashboard.web.middleware.RefusalNet records a refused call the
        # actions did not record themselves, as it does for the web.
        request.user = found.owner
        return found
