"""Shared fixtures: named staff personas, an isolated media root and audit witness, a clean Redis
database, and the test database's flush let through the audit log's triggers.

Tests run against the real PostgreSQL and Redis servers given by DATABASE_URL and REDIS_URL
(`./chatsweep test` sets both to the local servers when unset).
"""

import os

import pytest
from django.contrib.auth.models import Group, User

from chatdata import roles

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct horse battery staple"
AUDIT_TABLE = "chatdata_auditentry"
WITNESS_REDIS_KEY = "chatsweep:audit-witness"  # chatdata.witness.REDIS_KEY
# How pg_trigger.tgenabled puts a trigger back as it was.
TRIGGER_STATES = {"O": "ENABLE TRIGGER", "A": "ENABLE ALWAYS TRIGGER", "R": "ENABLE REPLICA TRIGGER", "D": "DISABLE TRIGGER"}


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
