"""axe-core, the real engine (shipped by the PyPI package axe-playwright-python), on every page the
browser tests visit (issue 14, Done-when).

`watch(context)` adds axe to every document of a Playwright browser context (an init script: the
page's Content Security Policy does not apply to it), and `check_before_actions` makes every
action that may leave or change a page (goto, click, press, back, closing it...) first run axe on
the page as it is, if it changed since axe last looked. conftest.axe_violations does both for
every browser test and fails it on a violation of impact serious or critical. `check(page)` runs
axe on the page's current state at once and returns what it found.

Why before each action rather than on the load event: a run started on `load` races the test,
which may already be clicking its way to the next page, and would miss the states reached by
htmx or typing; run just before the action, it sees the page the test saw.
Moderate and minor findings are collected too (`moderate`), to be fixed or listed in the README.

Pages that are not ours are left out: Django's admin and django-rq's dashboard (their own
templates), the API docs' Swagger UI (a vendored bundle).
"""

from pathlib import Path
from urllib.parse import urlsplit

import axe_playwright_python
from playwright.sync_api import BrowserContext, Locator, Page
from playwright.sync_api import Error as PlaywrightError

AXE_SCRIPT = Path(axe_playwright_python.__file__).with_name("axe.min.js")
FAILING = frozenset({"serious", "critical"})
NOT_OURS = ("/admin/", "/api/v1/docs")
# Every document notes whether it changed since axe last looked (its own DOM, htmx swaps, scripts);
# axe then runs only on a state it has not seen.
TRACK_CHANGES = """
window.__axeDirty = true;
new MutationObserver(() => { window.__axeDirty = true; })
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
# A document still loading (the test acted before it had: Playwright waits for elements, not for
# load) is looked at once it has loaded, its stylesheet and fonts applied; a region htmx is
# refreshing (dimmed while its request is in flight, `.htmx-request`: inactive content, which WCAG
# 1.4.3 exempts from contrast) once it has settled, for at most two seconds. Colours judged on a
# half-styled page or a fading region would be noise.
RUN = """(force) => {
  if (typeof axe === "undefined" || (!force && window.__axeDirty === false)) return null;
  const loaded = document.readyState === "complete"
    ? Promise.resolve() : new Promise((resolve) => window.addEventListener("load", resolve, {once: true}));
  const settled = () => new Promise((resolve) => {
    const started = Date.now();
    const poll = () => (!document.querySelector(".htmx-request") || Date.now() - started > 2000) ? resolve() : setTimeout(poll, 25);
    poll();
  });
  return loaded.then(() => document.fonts.ready).then(settled).then(() => axe.run(document, {resultTypes: ["violations"]})).then((result) => {
    window.__axeDirty = false;
    return result.violations;
  });
}"""
# Gone before axe could answer: the page navigated or closed under it. Not a finding.
GONE = ("Execution context was destroyed", "has been closed", "Target closed", "navigation")
# The actions that may leave a page or change it: axe looks at the page just before each.
ACTIONS = {
    Page: ("goto", "go_back", "go_forward", "reload", "click", "press", "close"),
    Locator: ("click", "dblclick", "press", "check", "uncheck", "select_option", "set_checked", "tap"),
    BrowserContext: ("close",),
}


class Findings:
    def __init__(self):
        self.failing = []   # "url: rule (impact): help [nodes]"
        self.moderate = []
        self.checked = 0
        self.skipped = 0

    def add(self, url, violations):
        self.checked += 1
        for violation in violations:
            nodes = violation.get("nodes", [])
            targets = ", ".join(" ".join(map(str, node.get("target", []))) for node in nodes[:5])
            line = f"{url}: {violation['id']} ({violation.get('impact')}): {violation.get('help')} [{targets}]"
            if nodes:  # what axe saw on the first one: its markup and why it fails
                summary = " ".join((nodes[0].get("failureSummary") or "").split())
                line += f"\n    {nodes[0].get('html', '')[:200]}\n    {summary[:300]}"
            (self.failing if violation.get("impact") in FAILING else self.moderate).append(line)


def ours(url):
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and not parts.path.startswith(NOT_OURS)


def check(page, into=None, *, force=True):
    """Run axe on the page's current state now (with force=False only if it changed since axe
    last ran there); the Findings, added to `into` if given."""
    findings = Findings() if into is None else into
    if page.is_closed() or not getattr(page.context, "axe_watched", False) or not ours(page.url):
        return findings
    try:
        violations = page.evaluate(RUN, force)
    except PlaywrightError as exc:
        if not any(text in str(exc) for text in GONE):
            raise
        findings.skipped += 1
        return findings
    if violations is not None:
        findings.add(page.url, violations)
    return findings


def watch(context, *, javascript=True):
    """Give every page of `context` axe and the change tracking (an init script, which the
    page's Content Security Policy does not apply to). A context without JavaScript cannot run
    axe (and Playwright's evaluate waits for ever there): its pages are left out, the same pages
    with JavaScript are checked by the other tests."""
    if not javascript:
        return
    context.add_init_script(path=str(AXE_SCRIPT))
    context.add_init_script(TRACK_CHANGES)
    context.axe_watched = True


def _pages_of(target):
    if isinstance(target, Page):
        return [target]
    if isinstance(target, Locator):
        return [target.page]
    return list(target.pages)  # a context about to close: each of its pages as they are


def check_before_actions(monkeypatch, findings):
    """Patch the actions in ACTIONS so that axe looks at a changed page before each (for the
    length of one test: `monkeypatch` undoes it)."""
    busy = []  # axe's own calls go through here too: never recurse

    def wrap(cls, name):
        original = getattr(cls, name)

        def action(self, *args, **kwargs):
            if not busy:
                busy.append(True)
                try:
                    for page in _pages_of(self):
                        check(page, findings, force=False)
                finally:
                    busy.pop()
            return original(self, *args, **kwargs)

        action.__name__ = name
        monkeypatch.setattr(cls, name, action)

    for cls, names in ACTIONS.items():
        for name in names:
            wrap(cls, name)
