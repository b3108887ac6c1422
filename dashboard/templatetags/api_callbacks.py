"""The callback attempts of a request made through the API, for its page (chatdata.callbacks)."""

from django import template

from chatdata.models import CallbackAttempt

register = template.Library()


@register.inclusion_tag("api/callbacks.html")
def callback_attempts(purge=None, erasure=None):
    attempts = CallbackAttempt.objects.select_related("origin__token")
    if purge is not None:
        attempts = attempts.filter(origin__purge_request=purge)
    else:
        attempts = attempts.filter(origin__erasure=erasure)
    return {"attempts": list(attempts.order_by("id")[:100])}
