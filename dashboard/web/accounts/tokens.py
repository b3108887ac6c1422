"""API tokens: every staff member makes, names and revokes their own; admins see and revoke
everyone's (chatdata.api_tokens decides, and audits). A new token's secret is shown once, on the
page the creating POST renders, and never again."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatdata.api_tokens import (
    TokenInvalid,
    TokenRefused,
    create_refusal,
    do_create_api_token,
    do_revoke_api_token,
    tokens_visible_to,
)
from chatdata.models import ApiToken
from dashboard.web.guards import client_ip


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “ticketing”.")
    expires_at = forms.DateTimeField(
        required=False, label="Expires", help_text="Optional; in the site's time zone, e.g. 2027-01-31 18:00.",
    )
    callback_url = forms.URLField(
        required=False, max_length=500, assume_scheme="https", label="Callback URL",
        help_text="Optional: chatsweep POSTs a signed notice here when a request this token made ends.",
    )


def _page(request, form, secret=None, created=None, status=200):
    if create_refusal(request.user):
        raise PermissionDenied(create_refusal(request.user))
    return render(request, "tokens/list.html", {
        "section": "tokens",
        "form": form,
        "tokens": list(tokens_visible_to(request.user)[:500]),
        "secret": secret,
        "created": created,
    }, status=status)


@require_GET
def tokens(request):
    return _page(request, TokenForm())


@require_http_methods(["POST"])
def create(request):
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            token, secret = do_create_api_token(actor=request.user, ip=client_ip(request), **form.cleaned_data)
        except TokenRefused as exc:
            raise PermissionDenied(exc.message) from None
        except TokenInvalid as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            # Rendered, not redirected: the secret must not travel in a URL or a session.
            return _page(request, TokenForm(), secret=secret, created=token, status=201)
    return _page(request, form, status=400)


@require_POST
def revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk)
    try:
        do_revoke_api_token(token, actor=request.user, ip=client_ip(request))
    except TokenRefused as exc:
        raise PermissionDenied(exc.message) from None
    except TokenInvalid as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("tokens:list")
