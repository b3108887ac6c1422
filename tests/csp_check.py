"""What the Content Security Policy demands of a rendered page, checked on its HTML.

The policy (dashboard/settings.py SECURE_CSP) allows scripts and styles from the site itself and
inline ones only with the request's nonce; inline `style=` and `on...=` attributes cannot carry a
nonce, so none may appear. htmx would inject a <style> of its own unless told not to (a meta
htmx-config). `problems(response)` lists every breach, empty when the page complies.
"""

import json
import re
from html.parser import HTMLParser

NONCE_IN_HEADER = re.compile(r"'nonce-([^']+)'")
URL_ATTRIBUTES = {"href", "src", "action", "formaction"}


class _Collector(HTMLParser):
    def __init__(self, nonce):
        super().__init__(convert_charrefs=True)
        self.nonce = nonce
        self.problems = []
        self.loads_htmx = False
        self.htmx_config = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        where = f"<{tag}{' id=' + attributes['id'] if attributes.get('id') else ''}>"
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"{where} has a style attribute ({value!r}): use a class")
            elif name.startswith("on") or name.startswith("hx-on"):
                self.problems.append(f"{where} has an inline handler {name}=: use static/chatsweep.js")
            elif name in URL_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"{where} has a javascript: URL in {name}")
        if tag == "script":
            src = attributes.get("src")
            if src is None:
                self._needs_nonce(where, attributes)
            elif not src.startswith("/") or src.startswith("//"):
                self.problems.append(f"{where} loads a script from elsewhere: {src}")
            elif "django_htmx/htmx" in src:
                self.loads_htmx = True
        elif tag == "style":
            self._needs_nonce(where, attributes)
        elif tag == "meta" and attributes.get("name") == "htmx-config":
            self.htmx_config = json.loads(attributes.get("content") or "{}")

    handle_startendtag = handle_starttag

    def _needs_nonce(self, where, attributes):
        if self.nonce is None or attributes.get("nonce") != self.nonce:
            self.problems.append(f"inline {where} without the response's nonce")


def problems(response):
    """Every way the response's HTML breaks the policy (or goes without one)."""
    policy = response.headers.get("Content-Security-Policy")
    if policy is None:
        return ["no Content-Security-Policy header"]
    found = NONCE_IN_HEADER.search(policy)
    collector = _Collector(found.group(1) if found else None)
    collector.feed(response.content.decode())
    collector.close()
    if collector.loads_htmx:
        config = collector.htmx_config or {}
        with_nonce = collector.nonce is not None and config.get("inlineStyleNonce") == collector.nonce
        if config.get("includeIndicatorStyles") is not False and not with_nonce:
            collector.problems.append("htmx will inject its indicator <style> without the nonce")
    return collector.problems


# In the browser: every violation the page reports, as a console error the watch collects (Chromium
# also logs its own "Refused to ..." line for each; both are kept, either means a violation).
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => console.error(
  "CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline code")
  + " on " + event.documentURI + (event.sample ? " (" + event.sample + ")" : "")));
"""


def watch(context, into=None):
    """Collect the CSP violations of every page of a Playwright browser context into a list."""
    found = [] if into is None else into
    context.add_init_script(_REPORT_VIOLATIONS)

    def on_console(message):
        if message.text.startswith("CSP violation") or "Content Security Policy" in message.text:
            found.append(message.text)

    context.on("console", on_console)
    return found
