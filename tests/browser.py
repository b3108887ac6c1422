"""What the browser tests share: signing in through the login form."""

from tests.conftest import PASSWORD


def sign_in(page, live_server, username, *, on_form=None):
    """Log `username` in through the login form and wait for the home page; `on_form(page)` runs
    once the form is shown (a screenshot of it, say)."""
    page.goto(f"{live_server.url}/login/")
    if on_form is not None:
        on_form(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
