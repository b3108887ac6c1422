"""Settings come from the environment; a bad value stops the start with a message naming it.

Each case starts a fresh interpreter (settings are read once per process) with a clean
environment: none of chatsweep's variables set except the ones under test.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUR_VARIABLES = {
    "ALLOWED_HOSTS", "CSRF_COOKIE_SECURE", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL", "DEBUG", "LOG_LEVEL",
    "MEDIA_ROOT", "PURGE_APPROVAL_THRESHOLD", "PURGE_BATCH_PAUSE_PERCENT", "PURGE_BATCH_SIZE", "PURGE_BATCH_TARGET_MS",
    "PURGE_INLINE_LIMIT", "PURGE_MAX_IDS", "PURGE_SKIP_FK_TRIGGERS", "PURGE_STALE_SECONDS", "PURGE_SUPPORT_MAX_MESSAGES",
    "PURGE_WAL_COMPRESSION", "REDIS_URL", "SECRET_KEY", "SESSION_COOKIE_SECURE",
    "TIME_ZONE",
}
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 50,
    "DATABASE_URL": "postgres://chat:pw@db.internal:5433/chatsweep_prod",
    "REDIS_URL": "redis://cache.internal:6380/3",
    "ALLOWED_HOSTS": "sweep.example.com, admin.example.com",
    "TIME_ZONE": "Europe/Berlin",
}
SHOW = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "db = s.DATABASES['default']; print(json.dumps({"
    "'debug': s.DEBUG, 'engine': db['ENGINE'], 'db_name': db['NAME'], 'db_host': db.get('HOST'), "
    "'db_port': db.get('PORT'), 'embedded_redis': s.EMBEDDED_REDIS, 'rq': s.RQ_QUEUES['default'], "
    "'hosts': s.ALLOWED_HOSTS, 'tz': s.TIME_ZONE, 'media': str(s.MEDIA_ROOT), 'log_level': s.LOG_LEVEL, "
    "'purge': [s.PURGE_MAX_IDS, s.PURGE_INLINE_LIMIT, s.PURGE_APPROVAL_THRESHOLD, s.PURGE_BATCH_SIZE, "
    "s.PURGE_SUPPORT_MAX_MESSAGES, s.PURGE_STALE_SECONDS, s.PURGE_WAL_COMPRESSION, s.PURGE_BATCH_TARGET_MS, "
    "s.PURGE_BATCH_PAUSE_PERCENT, s.PURGE_SKIP_FK_TRIGGERS]}))"
)


def start(tmp_path, code="import django; django.setup()", **variables):
    env = {key: value for key, value in os.environ.items() if key not in OUR_VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="dashboard.settings", CHATSWEEP_VAR_DIR=str(tmp_path / "var"), **variables)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


BAD = [
    ("DEBUG", {"DEBUG": "maybe"}),
    ("PURGE_MAX_IDS", {"PURGE_MAX_IDS": "lots"}),
    ("PURGE_MAX_IDS", {"PURGE_MAX_IDS": "0"}),
    ("PURGE_INLINE_LIMIT", {"PURGE_INLINE_LIMIT": "-1"}),
    ("PURGE_INLINE_LIMIT", {"PURGE_INLINE_LIMIT": "2.5"}),
    ("PURGE_APPROVAL_THRESHOLD", {"PURGE_APPROVAL_THRESHOLD": "0"}),
    ("PURGE_BATCH_SIZE", {"PURGE_BATCH_SIZE": "-100"}),
    ("PURGE_BATCH_SIZE", {"PURGE_BATCH_SIZE": "5000000"}),
    ("PURGE_BATCH_SIZE", {"PURGE_BATCH_SIZE": "٣٠٠"}),  # Arabic-Indic digits: int() reads them, we do not
    ("PURGE_MAX_IDS", {"PURGE_MAX_IDS": "１０"}),  # fullwidth
    ("PURGE_INLINE_LIMIT", {"PURGE_INLINE_LIMIT": "1_000"}),
    ("PURGE_BATCH_TARGET_MS", {"PURGE_BATCH_TARGET_MS": "-1"}),
    ("PURGE_BATCH_TARGET_MS", {"PURGE_BATCH_TARGET_MS": "0.25"}),
    ("PURGE_BATCH_PAUSE_PERCENT", {"PURGE_BATCH_PAUSE_PERCENT": "-5"}),
    ("PURGE_BATCH_PAUSE_PERCENT", {"PURGE_BATCH_PAUSE_PERCENT": "5000"}),
    ("PURGE_SKIP_FK_TRIGGERS", {"PURGE_SKIP_FK_TRIGGERS": "yes"}),
    ("PURGE_SUPPORT_MAX_MESSAGES", {"PURGE_SUPPORT_MAX_MESSAGES": "-3"}),
    ("PURGE_STALE_SECONDS", {"PURGE_STALE_SECONDS": "0"}),
    ("PURGE_STALE_SECONDS", {"PURGE_STALE_SECONDS": "1m"}),
    ("PURGE_WAL_COMPRESSION", {"PURGE_WAL_COMPRESSION": "gzip"}),
    ("DATABASE_URL", {"DATABASE_URL": "mysql://root@127.0.0.1/chatsweep"}),
    ("DATABASE_URL", {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432"}),
    ("DATABASE_URL", {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/"}),
    ("DATABASE_URL", {"DATABASE_URL": "postgres://postgres@127.0.0.1:port/chatsweep"}),
    ("DATABASE_URL", {"DATABASE_URL": "postgres:///chatsweep"}),
    ("REDIS_URL", {"REDIS_URL": "http://127.0.0.1:6379/0"}),
    ("REDIS_URL", {"REDIS_URL": "redis://127.0.0.1:6379/queue"}),
    ("TIME_ZONE", {"TIME_ZONE": "Mars/Olympus_Mons"}),
    ("ALLOWED_HOSTS", {"ALLOWED_HOSTS": ""}),
    ("ALLOWED_HOSTS", {"ALLOWED_HOSTS": " , "}),
    ("SECRET_KEY", {"DEBUG": "0"}),
    ("SECRET_KEY", {"DEBUG": "0", "SECRET_KEY": "short"}),
    ("LOG_LEVEL", {"LOG_LEVEL": "LOUD"}),
    ("SESSION_COOKIE_SECURE", {"SESSION_COOKIE_SECURE": "perhaps"}),
]


@pytest.mark.parametrize(("name", "variables"), BAD, ids=[f"{name}={v.get(name)!r}" for name, v in BAD])
def test_it_refuses_a_bad_value_naming_the_variable(tmp_path, name, variables):
    result = start(tmp_path, **variables)

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"django.core.exceptions.ImproperlyConfigured: {name}=")
    assert "is not valid: expected" in last_line


def test_it_never_prints_a_short_secret_key(tmp_path):
    result = start(tmp_path, DEBUG="0", SECRET_KEY="hunter2")

    assert result.returncode != 0
    assert "hunter2" not in result.stderr


def test_it_refuses_through_manage_py_too(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in OUR_VARIABLES}
    env.update(CHATSWEEP_VAR_DIR=str(tmp_path / "var"), TIME_ZONE="Nowhere/Special")

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert "TIME_ZONE='Nowhere/Special' is not valid" in result.stderr


def test_it_starts_with_production_values(tmp_path):
    result = start(
        tmp_path,
        SHOW,
        **PRODUCTION,
        MEDIA_ROOT=str(tmp_path / "files"),
        LOG_LEVEL="INFO",
        PURGE_MAX_IDS="500",
        PURGE_INLINE_LIMIT="0",
        PURGE_APPROVAL_THRESHOLD="20000",
        PURGE_BATCH_SIZE="5000",
        PURGE_SUPPORT_MAX_MESSAGES="0",
        PURGE_STALE_SECONDS="300",
        PURGE_WAL_COMPRESSION="off",
        PURGE_BATCH_TARGET_MS="400",
        PURGE_BATCH_PAUSE_PERCENT="0",
        PURGE_SKIP_FK_TRIGGERS="off",
    )

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["debug"] is False
    assert (shown["engine"], shown["db_name"], shown["db_host"], shown["db_port"]) == (
        "django.db.backends.postgresql", "chatsweep_prod", "db.internal", 5433
    )
    assert shown["embedded_redis"] is False
    assert shown["rq"]["URL"] == "redis://cache.internal:6380/3"
    assert shown["hosts"] == ["sweep.example.com", "admin.example.com"]
    assert shown["tz"] == "Europe/Berlin"
    assert shown["media"] == str(tmp_path / "files")
    assert shown["log_level"] == "INFO"
    assert shown["purge"] == [500, 0, 20000, 5000, 0, 300, "off", 400, 0, "off"]


def test_it_passes_manage_py_check_with_production_values(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in OUR_VARIABLES}
    env.update(CHATSWEEP_VAR_DIR=str(tmp_path / "var"), **PRODUCTION)

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert "ERRORS" not in result.stderr


def test_it_defaults_to_a_local_demo_under_the_var_dir(tmp_path):
    result = start(tmp_path, SHOW)

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    var = tmp_path / "var"
    assert shown["debug"] is True
    assert (shown["engine"], shown["db_name"]) == ("django.db.backends.sqlite3", str(var / "chatsweep.sqlite3"))
    assert shown["embedded_redis"] is True
    assert shown["rq"]["UNIX_SOCKET_PATH"] == str(var / "redis.sock")
    assert shown["media"] == str(var / "media")
    assert shown["purge"] == [10_000, 2_000, 10_000, 6_000, 20, 60, "lz4", 300, 100, "auto"]
    assert var.is_dir()  # created, so SQLite can open its file on a fresh clone
    assert not (var / "redis.sock").exists()  # a plain django.setup() starts no Redis
