"""Settings come from the environment; a bad value stops the start with a message naming it.

Each case starts a fresh interpreter (settings are read once per process) with a clean
environment: none of chatsweep's variables set except the ones under test.
"""

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUR_VARIABLES = {
    "ALLOWED_HOSTS", "APPROVAL_COOLING_HOURS", "AUDIT_WITNESS_FILE", "CSRF_COOKIE_SECURE", "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL", "DEBUG", "IMPORT_MAX_BODY_BYTES", "LOG_LEVEL", "LOGIN_FAILURE_LIMIT", "LOGIN_FAILURE_WINDOW_MINUTES",
    "ERASURE_CERTIFICATE_KEY", "ERASURE_DEADLINE_DAYS", "ERASURE_PSEUDONYM_KEY",
    "MEDIA_ROOT", "PURGE_APPROVAL_THRESHOLD", "PURGE_BATCH_PAUSE_PERCENT", "PURGE_BATCH_SIZE", "PURGE_BATCH_TARGET_MS",
    "PURGE_INLINE_LIMIT", "PURGE_MAX_IDS", "PURGE_PREVIEW_TTL", "PURGE_SKIP_FK_TRIGGERS", "PURGE_STALE_SECONDS", "PURGE_SUPPORT_MAX_MESSAGES",
    "PURGE_WAL_COMPRESSION", "REDIS_URL", "SECRET_KEY", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "TIME_ZONE",
}
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 50,
    "ERASURE_PSEUDONYM_KEY": "p" * 40,
    "ERASURE_CERTIFICATE_KEY": "c" * 40,
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
    "'witness': str(s.AUDIT_WITNESS_FILE), "
    "'purge': [s.PURGE_MAX_IDS, s.PURGE_INLINE_LIMIT, s.PURGE_APPROVAL_THRESHOLD, s.PURGE_BATCH_SIZE, "
    "s.PURGE_SUPPORT_MAX_MESSAGES, s.PURGE_STALE_SECONDS, s.PURGE_WAL_COMPRESSION, s.PURGE_BATCH_TARGET_MS, "
    "s.PURGE_BATCH_PAUSE_PERCENT, s.PURGE_SKIP_FK_TRIGGERS, s.PURGE_PREVIEW_TTL], 'import_max_body': s.IMPORT_MAX_BODY_BYTES, "
    "'erasure': [s.ERASURE_DEADLINE_DAYS, s.ERASURE_PSEUDONYM_KEY, s.ERASURE_CERTIFICATE_KEY]}))"
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
    ("PURGE_PREVIEW_TTL", {"PURGE_PREVIEW_TTL": "0"}),
    ("PURGE_PREVIEW_TTL", {"PURGE_PREVIEW_TTL": "1h"}),
    ("PURGE_STALE_SECONDS", {"PURGE_STALE_SECONDS": "1m"}),
    ("PURGE_WAL_COMPRESSION", {"PURGE_WAL_COMPRESSION": "gzip"}),
    ("IMPORT_MAX_BODY_BYTES", {"IMPORT_MAX_BODY_BYTES": "0"}),
    ("IMPORT_MAX_BODY_BYTES", {"IMPORT_MAX_BODY_BYTES": "64k"}),
    ("IMPORT_MAX_BODY_BYTES", {"IMPORT_MAX_BODY_BYTES": "16777217"}),
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
    ("ERASURE_DEADLINE_DAYS", {"ERASURE_DEADLINE_DAYS": "0"}),
    ("ERASURE_DEADLINE_DAYS", {"ERASURE_DEADLINE_DAYS": "a month"}),
    ("ERASURE_PSEUDONYM_KEY", {"DEBUG": "0", "SECRET_KEY": "s" * 40, "ERASURE_CERTIFICATE_KEY": "c" * 40}),
    ("ERASURE_PSEUDONYM_KEY", {"DEBUG": "0", "SECRET_KEY": "s" * 40, "ERASURE_PSEUDONYM_KEY": "short", "ERASURE_CERTIFICATE_KEY": "c" * 40}),
    ("ERASURE_CERTIFICATE_KEY", {"DEBUG": "0", "SECRET_KEY": "s" * 40, "ERASURE_PSEUDONYM_KEY": "p" * 40}),
    ("ERASURE_CERTIFICATE_KEY", {"DEBUG": "0", "SECRET_KEY": "s" * 40, "ERASURE_PSEUDONYM_KEY": "p" * 40, "ERASURE_CERTIFICATE_KEY": "c" * 31}),
    ("SESSION_COOKIE_SECURE", {"SESSION_COOKIE_SECURE": "perhaps"}),
    # Every process (web server, worker, cron) must write the same file, whatever its working directory.
    ("AUDIT_WITNESS_FILE", {"AUDIT_WITNESS_FILE": "var/audit-witness.jsonl"}),
    ("AUDIT_WITNESS_FILE", {"AUDIT_WITNESS_FILE": "/tmp"}),
    ("SECURE_SSL_REDIRECT", {"SECURE_SSL_REDIRECT": "sometimes"}),
    ("SECURE_HSTS_SECONDS", {"SECURE_HSTS_SECONDS": "-1"}),
    ("SECURE_HSTS_SECONDS", {"SECURE_HSTS_SECONDS": "1y"}),
    ("SECURE_HSTS_INCLUDE_SUBDOMAINS", {"SECURE_HSTS_INCLUDE_SUBDOMAINS": "all"}),
    # Meaningless without HSTS (the demo's default), or short of what the preload list demands.
    ("SECURE_HSTS_INCLUDE_SUBDOMAINS", {"SECURE_HSTS_INCLUDE_SUBDOMAINS": "1"}),
    ("SECURE_HSTS_PRELOAD", {"SECURE_HSTS_PRELOAD": "1", "SECURE_HSTS_SECONDS": "31536000"}),
    ("SECURE_HSTS_PRELOAD", {"SECURE_HSTS_PRELOAD": "1", "SECURE_HSTS_SECONDS": "3600",
                             "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1"}),
    ("SECURE_PROXY_SSL_HEADER", {"SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"}),
    ("SECURE_PROXY_SSL_HEADER", {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto:"}),
    ("SECURE_PROXY_SSL_HEADER", {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https, http"}),
    ("SECURE_PROXY_SSL_HEADER", {"SECURE_PROXY_SSL_HEADER": "X Forwarded Proto"}),
    ("SECURE_PROXY_SSL_HEADER", {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto=https"}),
    ("SECURE_PROXY_SSL_HEADER", {"SECURE_PROXY_SSL_HEADER": "-Forwarded-Proto"}),
    # WSGI passes these two without the HTTP_ prefix: the setting would never match, and redirect forever.
    ("SECURE_PROXY_SSL_HEADER", {"SECURE_PROXY_SSL_HEADER": "Content-Type: https"}),
    ("APPROVAL_COOLING_HOURS", {"APPROVAL_COOLING_HOURS": "-1"}),
    ("APPROVAL_COOLING_HOURS", {"APPROVAL_COOLING_HOURS": "1.5"}),
    ("APPROVAL_COOLING_HOURS", {"APPROVAL_COOLING_HOURS": "9000"}),
    ("LOGIN_FAILURE_LIMIT", {"LOGIN_FAILURE_LIMIT": "0"}),
    ("LOGIN_FAILURE_LIMIT", {"LOGIN_FAILURE_LIMIT": "ten"}),
    ("LOGIN_FAILURE_WINDOW_MINUTES", {"LOGIN_FAILURE_WINDOW_MINUTES": "0"}),
    ("LOGIN_FAILURE_WINDOW_MINUTES", {"LOGIN_FAILURE_WINDOW_MINUTES": "15m"}),
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


def test_it_never_prints_a_short_erasure_key(tmp_path):
    result = start(tmp_path, DEBUG="0", SECRET_KEY="s" * 40, ERASURE_PSEUDONYM_KEY="p" * 40, ERASURE_CERTIFICATE_KEY="tiny-cert-key")

    assert result.returncode != 0
    assert "ERASURE_CERTIFICATE_KEY='<hidden>'" in result.stderr
    assert "tiny-cert-key" not in result.stderr


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
        PURGE_PREVIEW_TTL="900",
        AUDIT_WITNESS_FILE=str(tmp_path / "witness" / "audit.jsonl"),
        IMPORT_MAX_BODY_BYTES="1048576",
        ERASURE_DEADLINE_DAYS="14",
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
    assert shown["witness"] == str(tmp_path / "witness" / "audit.jsonl")
    assert shown["purge"] == [500, 0, 20000, 5000, 0, 300, "off", 400, 0, "off", 900]
    assert shown["import_max_body"] == 1_048_576
    assert shown["erasure"] == [14, "p" * 40, "c" * 40]


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
    assert shown["witness"] == str(var / "audit-witness.jsonl")
    assert shown["purge"] == [10_000, 2_000, 10_000, 2_000, 20, 60, "lz4", 300, 25, "auto", 3600]
    assert shown["import_max_body"] == 65_536
    deadline, pseudonym_key, certificate_key = shown["erasure"]
    assert deadline == 30
    assert "development" in pseudonym_key and "development" in certificate_key and pseudonym_key != certificate_key
    assert var.is_dir()  # created, so SQLite can open its file on a fresh clone
    assert not (var / "redis.sock").exists()  # a plain django.setup() starts no Redis


# --- HTTPS, HSTS, the proxy header, the Content Security Policy (issue 11, item 9) ----------------

SHOW_SECURE = (
    "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
    "'redirect': s.SECURE_SSL_REDIRECT, 'hsts': s.SECURE_HSTS_SECONDS, 'subdomains': s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
    "'preload': s.SECURE_HSTS_PRELOAD, 'proxy': s.SECURE_PROXY_SSL_HEADER, 'csp': s.SECURE_CSP, "
    "'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE}))"
)
# A key Django's deploy check accepts (50 characters, many distinct ones), unlike PRODUCTION's.
DEPLOY_KEY = "k8#Vq2!wZ0pLr5$Tn9@Xc3^Ym7&Hb1*Jd4(Gf6)Se0_Ua2+Ri8"
STRICT_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'", "<CSP_NONCE_SENTINEL>"],
    "style-src": ["'self'", "<CSP_NONCE_SENTINEL>"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def test_it_keeps_the_demo_on_plain_http(tmp_path):
    result = start(tmp_path, SHOW_SECURE)

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["redirect"], shown["hsts"], shown["subdomains"], shown["preload"], shown["proxy"]) == (
        False, 0, False, False, None
    )
    assert shown["csp"] == STRICT_CSP  # the same policy as production: the demo and the tests exercise it


def test_it_is_https_only_when_debug_is_off(tmp_path):
    result = start(tmp_path, SHOW_SECURE, **PRODUCTION)

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["redirect"], shown["hsts"], shown["subdomains"], shown["preload"], shown["proxy"]) == (
        True, 31_536_000, False, False, None
    )
    assert shown["session_secure"] is True and shown["csrf_secure"] is True
    assert shown["csp"] == STRICT_CSP


@pytest.mark.parametrize(("value", "expected"), [
    ("X-Forwarded-Proto", ["HTTP_X_FORWARDED_PROTO", "https"]),
    ("x-forwarded-proto", ["HTTP_X_FORWARDED_PROTO", "https"]),
    ("X-Forwarded-Ssl: on", ["HTTP_X_FORWARDED_SSL", "on"]),
    ("  Front-End-Https:On  ", ["HTTP_FRONT_END_HTTPS", "On"]),
])
def test_it_reads_the_proxy_header(tmp_path, value, expected):
    result = start(tmp_path, SHOW_SECURE, **PRODUCTION, SECURE_PROXY_SSL_HEADER=value)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["proxy"] == expected


def test_it_takes_explicit_https_values(tmp_path):
    result = start(
        tmp_path, SHOW_SECURE, **PRODUCTION, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="63072000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1", SECURE_HSTS_PRELOAD="1",
    )

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["redirect"], shown["hsts"], shown["subdomains"], shown["preload"]) == (False, 63_072_000, True, True)


def deploy_check(tmp_path, **variables):
    # DJANGO_ALLOW_ASYNC_UNSAFE is the test run's own (Playwright): production never sets it.
    env = {key: value for key, value in os.environ.items() if key not in OUR_VARIABLES | {"DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update({**PRODUCTION, "CHATSWEEP_VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": DEPLOY_KEY, **variables})
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )


def test_it_passes_the_deploy_check_with_production_values(tmp_path):
    result = deploy_check(
        tmp_path,
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert result.stderr == ""


def test_it_leaves_subdomains_and_preloading_to_the_operator(tmp_path):
    """Both commit every subdomain of the domain to HTTPS (preloading for months, beyond recall):
    chatsweep cannot know that they all serve HTTPS, so it does not default them on, and the deploy
    check says so, nothing else."""
    result = deploy_check(tmp_path)

    assert result.returncode == 0, result.stderr
    warnings = sorted(set(re.findall(r"\(security\.(W\d+)\)", result.stderr)))
    assert warnings == ["W005", "W021"], result.stderr


@pytest.mark.django_db
def test_it_redirects_plain_http_and_trusts_the_proxy_header_as_parsed(client, settings, monkeypatch):
    from dashboard.env import env_proxy_header

    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto")
    settings.SECURE_PROXY_SSL_HEADER = env_proxy_header("SECURE_PROXY_SSL_HEADER")
    settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS = True, 31_536_000

    plain = client.get("/login/")
    claimed_http = client.get("/login/", headers={"X-Forwarded-Proto": "http"})
    through_the_proxy = client.get("/login/", headers={"X-Forwarded-Proto": "https"})

    assert (plain.status_code, plain["Location"]) == (301, "https://testserver/login/")
    assert claimed_http.status_code == 301
    assert through_the_proxy.status_code == 200
    assert through_the_proxy["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in plain  # HSTS only over HTTPS
ACCOUNTS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.APPROVAL_COOLING_HOURS, s.LOGIN_FAILURE_LIMIT, s.LOGIN_FAILURE_WINDOW_MINUTES]))"
)


def test_the_account_settings_default_to_a_day_and_ten_failures_in_15_minutes(tmp_path):
    result = start(tmp_path, ACCOUNTS)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [24, 10, 15]


def test_the_account_settings_take_their_values_and_0_hours_turns_the_cooling_off(tmp_path):
    result = start(tmp_path, ACCOUNTS, APPROVAL_COOLING_HOURS="0", LOGIN_FAILURE_LIMIT="3", LOGIN_FAILURE_WINDOW_MINUTES="60")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [0, 3, 60]
