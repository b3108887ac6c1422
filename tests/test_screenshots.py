"""The browser tests' screenshots (issue 11, item 11): written under the var dir, copied into the
committed docs/screenshots/ only with UPDATE_SCREENSHOTS=1 (conftest checks the whole run leaves
the checkout unchanged)."""

import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.conftest import ROOT
from tests.screenshots import DOCS, output_dir, shot

pytestmark = pytest.mark.browser


def test_it_writes_under_the_var_dir_and_leaves_docs_alone(page, settings, tmp_path, monkeypatch):
    monkeypatch.delenv("UPDATE_SCREENSHOTS", raising=False)
    settings.VAR_DIR = tmp_path / "var"
    page.set_content("<p>hello</p>")

    path = shot(page, "01-hello.png", docs=tmp_path / "docs")

    assert path == tmp_path / "var" / "screenshots" / "01-hello.png"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "docs").exists()


def test_it_copies_into_docs_when_asked(page, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("UPDATE_SCREENSHOTS", "1")
    settings.VAR_DIR = tmp_path / "var"
    page.set_content("<p>hello</p>")

    path = shot(page, "01-hello.png", docs=tmp_path / "docs")

    assert (tmp_path / "docs" / "01-hello.png").read_bytes() == path.read_bytes()


def test_it_refuses_a_bad_update_screenshots(page, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("UPDATE_SCREENSHOTS", "please")
    settings.VAR_DIR = tmp_path / "var"
    with pytest.raises(ImproperlyConfigured, match="UPDATE_SCREENSHOTS='please' is not valid"):
        shot(page, "01-hello.png", docs=tmp_path / "docs")
    assert not (tmp_path / "var").exists() and not (tmp_path / "docs").exists()


def test_it_writes_where_git_does_not_look_by_default():
    target = output_dir() / "01-login.png"
    if not target.is_relative_to(ROOT):
        pytest.skip("CHATSWEEP_VAR_DIR is outside the checkout")
    assert subprocess.run(["git", "check-ignore", "-q", str(target)], cwd=ROOT).returncode == 0
    assert not target.is_relative_to(DOCS)
