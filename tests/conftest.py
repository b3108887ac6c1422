"""Shared fixtures: named staff personas, the shared chat world (`chat`), an isolated media root
and audit witness, a clean Redis database, and the test database's flush let through the audit
log's triggers.

Tests run against the real PostgreSQL and Redis servers given by DATABASE_URL and REDIS_URL
(`./chatsweep test` sets both to the local servers when unset).
"""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from chatdata import roles
from tests import axe_check, csp_check
from tests.builders import ChatWorld

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Helper modules shared by several test modules: their plain asserts report what differed, as a
# test module's do (pytest rewrites only test modules and conftest unless told). Registered here,
# before any test module imports them.
pytest.register_assert_rewrite(
    "tests.audit_coverage", "tests.browser_purge_story", "tests.purge_staleness", "tests.purge_views_chat"
)

PASSWORD = "correct horse battery staple"
AUDIT_TABLE = "chatdata_auditentry"
WITNESS_REDIS_KEY = "chatsweep:audit-witness"  # chatdata.witness.REDIS_KEY
# How pg_trigger.tgenabled puts a trigger back as it was.
TRIGGER_STATES = {"O": "ENABLE TRIGGER", "A": "ENABLE ALWAYS TRIGGER", "R": "ENABLE REPLICA TRIGGER", "D": "DISABLE TRIGGER"}
ROOT = Path(__file__).resolve().parent.parent


def make_staff(username, *role_names, superuser=False):
    user = User.objects.create_user(username=username, password=PASSWORD, is_superuser=superuser)
    for name in role_names:
        # get_or_create: transactional tests flush the tables, taking the migration's groups along.
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


@pytest.fixture
def moderator(db):
    return make_staff("mona", roles.MODERATOR)


@pytest.fixture
def moderator2(db):
    return make_staff("max", roles.MODERATOR)


@pytest.fixture
def support(db):
    return make_staff("sam", roles.SUPPORT)


@pytest.fixture
def compliance(db):
    return make_staff("cleo", roles.COMPLIANCE)


@pytest.fixture
def auditor(db):
    return make_staff("audrey", roles.AUDITOR)


@pytest.fixture
def admin_user(db):
    return make_staff("ada", roles.ADMIN)


@pytest.fixture
def outsider(db):
    """A logged-in account with no chatsweep role."""
    return make_staff("otto")


@pytest.fixture
def fast_passwords(settings):
    """MD5 instead of the slow production hashers, for modules that make many staff accounts: they
    ask for it with pytest.mark.usefixtures("fast_passwords")."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def chat(db):
    """The shared chat world (tests.builders.ChatWorld.two_groups): Alice and Bob in the group
    "grp" with ten of Alice's messages and in "oth" with three of Bob's. A module that tells
    another story defines its own `chat`, from ChatWorld's steps."""
    return ChatWorld().two_groups()


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def audit_witness(tmp_path, settings):
    """Each test starts without a witness of the audit chain's head: a witness file of its own, and
    no Redis copy left behind by another test (their entries are gone, their witness would not be)."""
    import django_rq

    settings.AUDIT_WITNESS_FILE = tmp_path / "audit-witness.jsonl"
    conn = django_rq.get_connection("default")
    conn.delete(WITNESS_REDIS_KEY)
    yield settings.AUDIT_WITNESS_FILE
    conn.delete(WITNESS_REDIS_KEY)


@pytest.fixture(scope="session", autouse=True)
def flush_through_the_audit_triggers():
    """Transactional tests (live_server, browser, `transaction=True`) end with Django's flush, one
    TRUNCATE of every table, which the audit log's triggers refuse here as they do in production.
    For that flush only, inside its own transaction, the test role (the tables' owner) switches
    them off and puts each back exactly as it was: the owner's bypass README describes, used on
    a throwaway database. Every other statement in the tests meets the real triggers."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        if not any(AUDIT_TABLE in sql for sql in sql_list):
            return original(self, sql_list)
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal ORDER BY tgname",
                [AUDIT_TABLE],
            )
            triggers = cursor.fetchall()
        off = [f'ALTER TABLE {AUDIT_TABLE} DISABLE TRIGGER "{name}"' for name, _ in triggers]
        back = [f'ALTER TABLE {AUDIT_TABLE} {TRIGGER_STATES[state]} "{name}"' for name, state in triggers]
        return original(self, [*off, *sql_list, *back])

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


@pytest.fixture
def redis_conn():
    import django_rq

    conn = django_rq.get_connection("default")
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Browser tests drive Debian's Chromium (never a downloaded one), headless, quiet on the network."""
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(autouse=True)
def csp_violations(request, monkeypatch):
    """Browser tests fail on any Content Security Policy violation a page reports: every context
    they open (pytest-playwright's `page` too) is watched from its first page on."""
    if request.node.get_closest_marker("browser") is None:
        yield []
        return
    browser = request.getfixturevalue("browser")
    found = []
    new_context = browser.new_context

    def watched_new_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        csp_check.watch(context, into=found)
        return context

    monkeypatch.setattr(browser, "new_context", watched_new_context)
    yield found
    assert found == [], "Content Security Policy violations:\n" + "\n".join(found)


@pytest.fixture(autouse=True)
def axe_violations(request, monkeypatch, csp_violations):
    """Browser tests fail on any axe-core violation of impact serious or critical on a page they
    visit (tests.axe_check): every context they open gets axe, and axe looks at each page before
    every action that may leave or change it."""
    findings = axe_check.Findings()
    if request.node.get_closest_marker("browser") is None:
        yield findings
        return
    browser = request.getfixturevalue("browser")
    new_context = browser.new_context

    def watched_new_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        axe_check.watch(context, javascript=kwargs.get("java_script_enabled", True))
        return context

    monkeypatch.setattr(browser, "new_context", watched_new_context)
    axe_check.check_before_actions(monkeypatch, findings)
    yield findings
    if findings.moderate:
        print("axe-core, moderate and minor (fix or list in the README):\n" + "\n".join(dict.fromkeys(findings.moderate)))
    assert not findings.failing, "axe-core violations (serious or critical):\n" + "\n".join(dict.fromkeys(findings.failing))


def checkout_state():
    """What `git status` says of the checkout, with a hash of each file it lists (so a file
    rewritten again while already modified counts too); None outside a git checkout."""
    try:
        listed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "-z"],
            cwd=ROOT, capture_output=True, check=True, timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    state = {}
    for entry in filter(None, listed.decode(errors="replace").split("\0")):
        path = ROOT / entry[3:]
        state[entry] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
    return state


@pytest.fixture(scope="session", autouse=True)
def leaves_the_checkout_as_it_was():
    """A test run writes only under the var dir and temporary directories, never into committed
    files: CI would be left with a dirty tree (issue 11). UPDATE_SCREENSHOTS=1 is the one way to
    let it change something, docs/screenshots/ (tests/screenshots.py)."""
    from tests import screenshots

    before = checkout_state()
    yield
    after = checkout_state()
    if before is None or after is None:
        return
    allowed = screenshots.DOCS.relative_to(ROOT).as_posix() + "/" if screenshots.updating() else None
    changed = sorted(
        entry[3:] for entry, _ in set(before.items()) ^ set(after.items())
        if not (allowed and entry[3:].startswith(allowed))
    )
    assert not changed, (
        "the test run changed files of the checkout (write under settings.VAR_DIR or tmp_path instead; "
        "or were they edited during the run?): " + ", ".join(dict.fromkeys(changed))
    )
