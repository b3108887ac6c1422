"""The login page.

An htmx request ("older messages") from a session that has expired is redirected to the login
page like any other request, and htmx would swap the whole login page into the timeline. Instead
the login view tells htmx to load the login page as a full page (HX-Redirect); after logging in,
`next` opens the page the link pointed at, which works without htmx too.
"""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django_htmx.http import HttpResponseClientRedirect

_login = auth_views.LoginView.as_view(redirect_authenticated_user=True)


@login_not_required
def login(request, *args, **kwargs):
    if request.htmx and request.method == "GET":
        return HttpResponseClientRedirect(request.get_full_path())
    return _login(request, *args, **kwargs)
