"""The story the deletion workflow's browser tests share (tests/test_browser_purge_*.py): a
moderator, a launch team of 30 messages, four months of a support archive, old channels and a room
under a legal hold; a real RQ worker; logging in and following a job page to `done`.

The worker is `manage.py rqworker default` (a long-running worker, as in production: `--burst`
would exit before the job page had anything to poll), started on the test database with this
test's Redis and purge limits, and killed at teardown.

Plain asserts here are rewritten by pytest (tests/conftest.py registers this module).
"""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from chatdata import roles
from chatdata.models import Conversation, LegalHold, Message, PurgeRequest, Reaction
from tests.builders import make_conversation, make_user
from tests.browser import sign_in
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
INLINE_LIMIT = 40  # above this many messages a purge goes to the worker
BATCH_SIZE = 5  # small batches: a run of a few hundred messages takes long enough to watch
ZONE = "Europe/Berlin"
BODIES = [
    "Can someone check ticket 4411?", "Refund issued, closing.", "客户说订单还没到。", "Escalating to tier 2.",
    "Danke, erledigt!", "Customer sent a photo of the damage.", "Please stop spamming this channel 🙄",
    "Shipping label reprinted.", "Is the outage over?", "Yes, all systems green ✅",
]


def database_url():
    db = connection.settings_dict  # NAME is the test database here
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(settings, redis_conn, media_root, tmp_path):
    """A real RQ worker on the test database, with the same purge limits as the live server."""
    settings.PURGE_INLINE_LIMIT = INLINE_LIMIT
    settings.PURGE_BATCH_SIZE = BATCH_SIZE
    settings.TIME_ZONE = ZONE
    env = dict(
        os.environ,
        DATABASE_URL=database_url(),
        REDIS_URL=os.environ["REDIS_URL"],
        MEDIA_ROOT=str(media_root),
        PURGE_INLINE_LIMIT=str(INLINE_LIMIT),
        PURGE_BATCH_SIZE=str(BATCH_SIZE),
        TIME_ZONE=ZONE,
    )
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default"],
        cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    groups = {process.pid}
    if process.poll() is None:
        groups |= {os.getpgid(child.pid) for child in psutil.Process(process.pid).children(recursive=True)}
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=30)
    log.close()


def pause_worker(process, pause):
    """Stop (or continue) the worker and its work horse, which RQ puts in a group of its own."""
    for pid in [process.pid] + [child.pid for child in psutil.Process(process.pid).children(recursive=True)]:
        os.kill(pid, signal.SIGSTOP if pause else signal.SIGCONT)


def staff(username, role):
    user = User.objects.create_user(username, password=PASSWORD)
    # get_or_create: an earlier transactional test's flush removed the groups the migration made.
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def bulk_history(conversation, senders, moments):
    """Messages at `moments`, bodies and senders in turn, in one INSERT."""
    rows = Message.objects.bulk_create(
        Message(external_id=f"{conversation.external_id}-m{i}", conversation=conversation, sender=senders[i % len(senders)],
                sent_at=at, body=BODIES[i % len(BODIES)])
        for i, at in enumerate(moments)
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=max(moments))
    return rows


@pytest.fixture
def story(db):
    mona = staff("mona", roles.MODERATOR)
    alice, bob = make_user("u-alice", "Alice Archer"), make_user("u-bob", "Bob Baker")
    lina, jurgen = make_user("u-lina", "李娜"), make_user("u-jurgen", "Jürgen Schmidt")
    team = make_conversation("group", [alice, bob, lina, jurgen], external_id="g-launch", title="Launch team")
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    team_messages = bulk_history(team, [alice, bob, lina, jurgen], [start + timedelta(hours=3 * i) for i in range(30)])
    # Support archive: four months of a busy help desk, weekday peaks and a quiet Christmas.
    archive = make_conversation("group", [alice, bob, lina], external_id="g-support-archive", title="Support archive")
    moments, day = [], datetime(2025, 12, 1, 7, 0, tzinfo=UTC)
    while day < datetime(2026, 3, 1, tzinfo=UTC):
        per_day = 1 if day.month == 12 and day.day > 22 else (6 + (day.day * 7) % 10 if day.weekday() < 5 else 2)
        moments += [day + timedelta(minutes=41 * k) for k in range(per_day)]
        day += timedelta(days=1)
    archive_messages = bulk_history(archive, [alice, bob, lina], moments)
    Reaction.objects.bulk_create(Reaction(message=m, user=bob, emoji="👍") for m in archive_messages[::9])
    # For the batch: two to delete and one room under a legal hold.
    old = make_conversation("group", [alice, bob], external_id="g-old-announcements", title="Old announcements")
    bulk_history(old, [alice], [datetime(2025, 6, 1, 9, tzinfo=UTC) + timedelta(days=i) for i in range(25)])
    peer = make_conversation("peer", [bob, lina], external_id="c2c_u-bob_u-lina", title="")
    bulk_history(peer, [bob, lina], [datetime(2025, 9, 1, 9, tzinfo=UTC) + timedelta(hours=i) for i in range(20)])
    lobby = make_conversation("room", [alice, bob, lina], external_id="r-lobby", title="Lobby 💬")
    bulk_history(lobby, [lina], [datetime(2025, 10, 1, 9, tzinfo=UTC) + timedelta(hours=i) for i in range(6)])
    LegalHold.objects.create(kind="conversation", conversation=lobby, subject_external_id="r-lobby",
                             reason="Case 2026-17: preserve the lobby", created_by=mona)
    return {"team": team, "team_messages": team_messages, "archive": archive, "archive_messages": archive_messages,
            "old": old, "peer": peer, "lobby": lobby, "bob": bob}


def mona():
    return User.objects.get(username="mona")


def log_in(page, live_server, username="mona"):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    sign_in(page, live_server, username)


def request_id(page):
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def wait_until_done(page, purge_pk):
    """The job page reaches `done` by htmx polling alone (same document), then stops polling."""
    page.locator('#job-live[data-state="done"]').wait_for(timeout=60_000)
    assert page.evaluate("window.stillHere") is True
    assert page.locator("#job-live").get_attribute("hx-trigger") is None
    assert PurgeRequest.objects.get(pk=purge_pk).state == "done"
