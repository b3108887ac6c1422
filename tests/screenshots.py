"""The screenshots the browser tests take, for the README's tour.

Every run writes them under the var dir (`var/screenshots/` by default, git-ignored), where the
latest ones can be looked at; a test run never rewrites the committed ones in docs/screenshots/
(conftest.leaves_the_checkout_as_it_was fails the run if anything does). With UPDATE_SCREENSHOTS=1
each is copied there as well: how the README's pictures are refreshed.
"""

import shutil
from pathlib import Path

from django.conf import settings

from dashboard.env import env_bool

DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def updating():
    return env_bool("UPDATE_SCREENSHOTS", False)


def output_dir():
    return Path(settings.VAR_DIR) / "screenshots"


def shot(page, name, *, full_page=True, docs=DOCS):
    """Take `name` (e.g. "01-login.png") of the page; copy it into `docs` when updating."""
    copy = updating()  # a bad value stops here, before anything is written
    out = output_dir()
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / name), full_page=full_page)
    if copy:
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / name, docs / name)
    return out / name
