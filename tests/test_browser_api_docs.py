"""The API's interactive docs (Swagger UI) in real Chromium: served from chatsweep's own static
files (ninja's bundle), no CDN, under the site's Content Security Policy with no violation (the
`browser` marker makes conftest fail the test on any)."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_renders_the_docs_from_local_files_without_a_csp_violation(page, live_server):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/v1/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "chatsweep API" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock-summary-path").first.wait_for()
    assert page.locator(".opblock-summary-path").count() >= 25
    assert requested and all(url.startswith(live_server.url) or url.startswith("data:") for url in requested), requested
