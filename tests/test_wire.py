"""What pages cost and keep on the wire (issue 14, items 4 and 10). htmx and the stylesheet went
uncompressed, about 78 KB of every first page: static files and pages are gzipped for a client that
accepts it. And no page is kept by the browser ("Back" showed a live button of a finished request)."""

import gzip
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def static_urls(page):
    return re.findall(r'(?:src|href)="(/static/[^"]+\.(?:js|css))"', page)


def test_the_login_page_and_its_script_and_stylesheet_go_compressed():
    client = Client(HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    page = client.get("/accounts/login/")
    assert page["Content-Encoding"] == "gzip"
    html = gzip.decompress(body(page)).decode()

    urls = static_urls(html)
    assert any("htmx" in url for url in urls) and any(url.endswith(".css") for url in urls), urls
    for url in urls:
        plain = body(Client().get(url))
        packed = client.get(url)
        assert packed.status_code == 200 and packed["Content-Encoding"] == "gzip", url
        assert gzip.decompress(body(packed)) == plain, url
        assert len(body(packed)) < len(plain) / 2, url


def test_a_client_that_does_not_accept_gzip_gets_plain_text():
    page = Client().get("/accounts/login/")
    assert "Content-Encoding" not in page
    assert b"<html" in body(page)


def test_pages_are_never_kept_by_the_browser_but_static_files_keep_whitenoises_headers():
    page = Client().get("/accounts/login/")
    assert "no-store" in page["Cache-Control"] and "private" in page["Cache-Control"]
    css = Client().get(static_urls(page.content.decode())[0])
    assert "no-store" not in css.get("Cache-Control", "")
