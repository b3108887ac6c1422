"""API tokens, which request each token made, and the callbacks sent for them (issue 15).

A token's secret is shown once, when it is made; only its sha256 is stored (the secret has 256
bits of entropy, so a plain hash is enough: there is nothing to brute-force). `prefix` is the
secret's first characters, kept in clear so a person can tell their tokens apart.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Where chatsweep POSTs a signed notice when a request this token made ends.
    callback_url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["owner", "id"], name="apitoken_owner_idx")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def state(self, now=None):
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class ApiRequestOrigin(models.Model):
    """A purge or erasure request made through the API, and the token that made it."""

    token = models.ForeignKey(ApiToken, on_delete=models.PROTECT, related_name="requests")
    purge_request = models.OneToOneField(
        "chatdata.PurgeRequest", on_delete=models.DO_NOTHING, null=True, blank=True, related_name="api_origin"
    )
    erasure = models.OneToOneField(
        "chatdata.ErasureRequest", on_delete=models.DO_NOTHING, null=True, blank=True, related_name="api_origin"
    )
    # The final state a callback was sent for (a resumed request may end again).
    notified_state = models.CharField(max_length=20, blank=True)
    notified_attempt = models.IntegerField(default=0)


class CallbackAttempt(models.Model):
    """One try at delivering a callback; every try is kept and shown on the request's page."""

    origin = models.ForeignKey(ApiRequestOrigin, on_delete=models.CASCADE, related_name="callback_attempts")
    delivery = models.CharField(max_length=64)  # one id per notice, the same across its retries
    number = models.IntegerField()
    url = models.URLField(max_length=500)
    event = models.CharField(max_length=40)
    at = models.DateTimeField(default=timezone.now)
    status_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    ok = models.BooleanField(default=False)
    duration_ms = models.IntegerField(default=0)

    class Meta:
        ordering = ["id"]
