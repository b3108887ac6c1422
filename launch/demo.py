"""`./chatsweep demo`: set up a local demo, then run the web server, an RQ worker and RQ's cron together.

Setup is idempotent, so a second start is fast: migrate, load demo data with seed_demo only when
the database holds no chat data yet, and print one login per role (passwords kept under var/).

The web server (`runserver --noreload`), the worker (`rqworker default`) and the cron
(`rqcron chatdata.cron`: it enqueues the audit witness job every minute, chatdata.witness) run as
child processes, each in its own process group, so Ctrl-C in the terminal reaches only this
launcher, which then stops them in order (SIGINT: the worker finishes its current job; escalating
if they hang) before it releases the embedded Redis. If one child dies, the others are stopped. The
children also get SIGTERM from the kernel if the launcher itself is killed (Linux
PR_SET_PDEATHSIG), so no orphaned server keeps the port.
"""

import argparse
import ctypes
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from chatdata.parsing import argparse_type, parse_count, parse_int

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_TIMEOUT = 90
STOP_GRACE = 10  # seconds for a warm stop before asking again, then killing


class Stop(Exception):
    """Raised by the signal handler to leave the wait loop."""


class DemoError(Exception):
    pass


def main(argv=None):
    args = _parse_args(argv)
    # Interruptible setup even when started with SIGINT ignored (a background job of a script), and
    # a SIGTERM or hang-up ends it through the same path, so the embedded Redis is released.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
        port = args.port if args.port is not None else _port_from_env()
    except ImproperlyConfigured as exc:
        return _fail(str(exc))
    from django.conf import settings

    _say(f"chatsweep demo: database {_describe_database(settings)}, Redis {_describe_redis(settings)}")
    from django.core.management import CommandError

    try:
        _check_port_free(port)
        _check_redis(settings)
        _setup(settings, args)
        logins = _demo_logins()
    except (DemoError, CommandError, ImproperlyConfigured) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted during setup; run it again to continue.", code=130)
    return _run(port, logins)


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="./chatsweep demo",
        description="Set up a local demo, then run the web server, an RQ worker and RQ's cron together; Ctrl-C stops them.",
    )
    parser.add_argument("--port", type=argparse_type(parse_int, "--port", minimum=1, maximum=65535),
                        help="web server port on 127.0.0.1 (default: $PORT or 8000)")
    sizes = parser.add_argument_group("demo data size, passed to seed_demo on the first start")
    for name in ("users", "conversations", "messages", "seed"):
        sizes.add_argument(f"--{name}", type=argparse_type(parse_count, f"--{name}"), metavar="N")
    return parser.parse_args(argv)


def _port_from_env():
    from dashboard.env import env_int

    return env_int("PORT", 8000, minimum=1, maximum=65535)


def _setup(settings, args):
    from django.core.management import call_command

    from chatdata.models import ChatUser, Conversation

    if settings.EMBEDDED_REDIS:
        from launch import embedded_redis

        embedded_redis.ensure_started()  # released at exit, after the children are gone
    # No collectstatic: whitenoise serves static files straight from the apps (WHITENOISE_USE_FINDERS).
    with _step("Migrating the database"):
        call_command("migrate", interactive=False, verbosity=0)
    if ChatUser.objects.exists() or Conversation.objects.exists():
        _say(f"Demo data already present ({Conversation.objects.count():,} conversations): not loading it again.")
    else:
        sizes = [f"--{name}={value}" for name, value in vars(args).items() if name != "port" and value is not None]
        with _step("Loading demo data (seed_demo" + "".join(f" {s}" for s in sizes) + ")"):
            call_command("seed_demo", *sizes)


def _demo_logins():
    from django.core.management import call_command
    from django.db import connections

    from chatdata.management.commands.create_demo_logins import logins_file

    out = io.StringIO()
    call_command("create_demo_logins", stdout=out)
    connections.close_all()  # the children open their own
    return out.getvalue().rstrip() + f"\n  (passwords kept in {logins_file()})"


def _run(port, logins):
    children = {}
    stopping = []

    def on_signal(signum, frame):
        if not stopping:
            stopping.append(signum)
            raise Stop

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    exit_code = 0
    try:
        children["web server"] = _spawn("runserver", f"{HOST}:{port}", "--noreload")
        children["RQ worker"] = _spawn("rqworker", "default", "--with-scheduler")  # callbacks retry later
        children["RQ cron"] = _spawn("rqcron", "chatdata.cron", "--logging-level", "WARNING")
        _wait_until_serving(port, children)
        _say(
            f"\nchatsweep is running at http://{HOST}:{port}/ "
            f"(web server pid {children['web server'].pid}, RQ worker pid {children['RQ worker'].pid}, "
            f"RQ cron pid {children['RQ cron'].pid}).\n"
            f"Log in with one of these; each login is named after its role:\n{logins}\n"
            "Ctrl-C stops the web server, the worker, the cron and the embedded Redis.\n"
        )
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    others = [other for other in children if other != name]
                    raise DemoError(
                        f"The {name} stopped unexpectedly (exit code {child.returncode}); "
                        f"stopping the {' and '.join(others) or 'demo'}."
                    )
            time.sleep(0.3)
    except Stop:
        _say("\nStopping the web server, the RQ worker and the RQ cron ...")
    except DemoError as exc:
        print(f"\n{exc}", file=sys.stderr, flush=True)
        exit_code = 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        _stop_all(children)
        _release_redis()
    _say("Stopped.")
    return exit_code


def _spawn(*command):
    return subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), *command],
        cwd=BASE_DIR,
        stdin=subprocess.DEVNULL,
        process_group=0,  # Ctrl-C in the terminal reaches the launcher only
        preexec_fn=_parent_death_signal(),  # one prctl call; the launcher runs no threads
    )


def _parent_death_signal():
    """A function for the child to run before exec: get SIGTERM when the launcher dies."""
    if not sys.platform.startswith("linux"):
        return lambda: None
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    return lambda: libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_until_serving(port, children):
    deadline = time.monotonic() + READY_TIMEOUT
    url = f"http://{HOST}:{port}/login/"
    while time.monotonic() < deadline:
        for name, child in children.items():
            if child.poll() is not None:
                raise DemoError(f"The {name} exited while starting (exit code {child.returncode}).")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                response.read()
                return
        except urllib.error.HTTPError as exc:
            _say(f"Warning: the web server answers {url} with HTTP {exc.code}; see its output above.")
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise DemoError(f"The web server did not answer {url} within {READY_TIMEOUT} s.")


def _stop_all(children):
    """Stop each child's whole process group and wait until nothing of it is left.

    A group whose leader already died is stopped too: RQ's scheduler and work horse are forks of
    the worker, so they hold the embedded Redis's users lock for as long as they live, and the
    launcher could not be the last one out of it.
    """
    for child in children.values():
        _signal(child, signal.SIGINT)
    for name, child in children.items():
        if _wait_for_group(child, STOP_GRACE):
            continue
        # The worker finishes its job on the first SIGINT; the second one stops it now.
        _say(f"The {name} (or a process it started) is still running after {STOP_GRACE} s: interrupting it again.")
        _signal(child, signal.SIGINT)
        if _wait_for_group(child, 5):
            continue
        _say(f"Killing the {name} (process group {child.pid}).")
        _signal(child, signal.SIGKILL)
        _wait_for_group(child, 5)


def _wait_for_group(child, timeout):
    """True once no live process is left in the child's group (the child leads its own group)."""
    deadline = time.monotonic() + timeout
    while True:
        child.poll()  # reaps the leader, so it does not linger as a zombie
        if not _live_members(child.pid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _live_members(group):
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except (ProcessLookupError, psutil.Error):
            pass  # gone meanwhile
    return members


def _signal(child, signum):
    try:
        os.killpg(child.pid, signum)  # the whole group: RQ's work horse and scheduler too
    except ProcessLookupError:
        pass


def _release_redis():
    from django.conf import settings

    if settings.EMBEDDED_REDIS:
        from launch import embedded_redis

        if embedded_redis.release():
            _say("Stopped the embedded Redis.")
        else:
            _say("The embedded Redis keeps running: another process still uses it (the last one out stops it).")


def _check_port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the web server will: a port left in TIME_WAIT by the last run is free to use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise DemoError(
                f"port {port} on {HOST} is not available ({exc.strerror}): "
                f"start with another one, e.g. `PORT={port + 1} ./chatsweep demo`."
            ) from None


def _check_redis(settings):
    if settings.EMBEDDED_REDIS:
        return
    import django_rq
    import redis

    try:
        django_rq.get_connection("default").ping()
    except redis.RedisError as exc:
        raise DemoError(f"Cannot reach Redis at REDIS_URL ({_redact(settings.REDIS_URL)}): {exc}") from None


def _describe_database(settings):
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite {db['NAME']}"
    return f"PostgreSQL {db['NAME']} on {db.get('HOST') or 'local socket'}"


def _describe_redis(settings):
    if settings.EMBEDDED_REDIS:
        return f"embedded ({settings.EMBEDDED_REDIS_SOCKET})"
    return _redact(settings.REDIS_URL)


def _redact(url):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


class _step:
    """Prints what is being done and how long it took."""

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        _say(f"{self.what} ...")
        self.started = time.monotonic()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            _say(f"{self.what}: done in {time.monotonic() - self.started:.1f} s.")


def _say(text):
    print(text, flush=True)


def _fail(message, code=1):
    print(f"chatsweep demo: {message}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
