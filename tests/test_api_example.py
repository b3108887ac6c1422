"""docs/examples/api_client.py against a live server: preview, execute, wait, print."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api_helpers import token_for
from tests.builders import make_conversation, make_history, make_user

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps what migrations wrote for the tests after
def test_it_previews_executes_and_prints_the_result(live_server, moderator):
    alice, bob = make_user("alice"), make_user("bob")
    make_history(make_conversation("group", [alice, bob], external_id="g-launch"), alice, 7)
    env = {**os.environ, "CHATSWEEP_URL": live_server.url, "CHATSWEEP_TOKEN": token_for(moderator)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs/examples/api_client.py"), "--conversation", "g-launch", "--reason", "spam", "--yes"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "previewed: conversation g-launch" in done.stdout and "done." in done.stdout
    assert "messages: 7 (previewed 7)" in done.stdout
