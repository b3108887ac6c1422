"""The README's first command, `./chatsweep demo`, on the embedded defaults: SQLite and an
embedded Redis under a temporary var/ directory, no DATABASE_URL or REDIS_URL, a free port and a
small data set. It must serve the login page, accept a printed login, run a job on its worker,
witness the audit chain's head (on commit, and through its cron every minute), and leave no
process behind when stopped.
"""

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 300  # a cold start migrates and seeds; the machine may be busy
CLEARED = {"DATABASE_URL", "REDIS_URL", "PORT", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE", "AUDIT_WITNESS_FILE"}
SMALL = ["--users", "12", "--conversations", "16", "--messages", "400", "--seed", "7"]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def all_gone(*pids, timeout=15):
    """True once every one of the pids is gone; a process may take a moment to exit after the
    launcher has returned (the embedded Redis daemon is not its child)."""
    deadline = time.monotonic() + timeout
    while not all(gone(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class Demo:
    """`./chatsweep demo` in its own session, its output collected by a thread."""

    def __init__(self, var_dir, port):
        self.var_dir, self.port = var_dir, port
        self.env = {key: value for key, value in os.environ.items() if key not in CLEARED}
        self.env["CHATSWEEP_VAR_DIR"] = str(var_dir)
        self.lines = []

    def start(self, *args):
        self.lines = []
        self.process = subprocess.Popen(
            [str(ROOT / "chatsweep"), "demo", "--port", str(self.port), *args],
            cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.reader = threading.Thread(target=self._collect, args=(self.process.stdout,), daemon=True)
        self.reader.start()
        self.wait_for("chatsweep is running at", STARTUP_TIMEOUT)
        self.web_pid, self.worker_pid, self.cron_pid = map(
            int, re.search(r"web server pid (\d+), RQ worker pid (\d+), RQ cron pid (\d+)", self.output).groups()
        )
        self.redis_pid = int((self.var_dir / "redis.pid").read_text())
        return self

    def _collect(self, stream):
        for line in stream:
            self.lines.append(line)

    @property
    def output(self):
        return "".join(self.lines)

    def wait_for(self, text, timeout):
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop_now()
                pytest.fail(f"`./chatsweep demo` never printed {text!r}; its output:\n{self.output}")
            time.sleep(0.2)

    def logins(self):
        return dict(re.findall(r"^  (support|moderator|compliance|auditor|admin) +(\S+)", self.output, re.M))

    def ctrl_c(self):
        os.killpg(self.process.pid, signal.SIGINT)  # what the terminal does
        return self.exit_code()

    def exit_code(self):
        """Waits for the launcher to end and for its last lines to be read."""
        code = self.process.wait(60)
        self.reader.join(15)
        return code

    def stop_now(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def demo(tmp_path_factory):
    # A short path: the embedded Redis socket must fit in 107 bytes.
    demo = Demo(tmp_path_factory.mktemp("demo") / "var", free_port())
    yield demo
    if hasattr(demo, "process"):
        demo.stop_now()
        for pid in (getattr(demo, name, None) for name in ("web_pid", "worker_pid", "cron_pid", "redis_pid")):
            if pid and not gone(pid):
                os.kill(pid, signal.SIGKILL)


def log_in(demo, username, password):
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = browser.open(demo.url("/login/"), timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password})
    request = urllib.request.Request(demo.url("/login/"), data=form.encode(), headers={"Referer": demo.url("/login/")})
    response = browser.open(request, timeout=30)
    return response, browser


def run_job_through_the_demo_worker(demo):
    """Enqueue from a separate manage.py process: it must join the demo's embedded Redis."""
    code = (
        "import time, django_rq\n"
        "job = django_rq.get_queue('default').enqueue('django.utils.text.slugify', 'Hello Embedded World')\n"
        "deadline = time.monotonic() + 60\n"
        "while not job.is_finished and not job.is_failed and time.monotonic() < deadline:\n"
        "    time.sleep(0.2); job.refresh()\n"
        "print('status', job.get_status().value, 'result', job.return_value())\n"
    )
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=demo.env,
        capture_output=True, text=True, timeout=120,
    )


def test_it_serves_the_login_page_runs_jobs_and_stops_cleanly(demo):
    demo.start(*SMALL)

    page = urllib.request.urlopen(demo.url("/login/"), timeout=30)
    html = page.read().decode()
    assert page.status == 200
    assert re.search(r"<form[^>]*method=\"post\"", html, re.I)
    assert 'name="username"' in html and 'name="password"' in html

    logins = demo.logins()
    assert sorted(logins) == ["admin", "auditor", "compliance", "moderator", "support"]
    response, _ = log_in(demo, "moderator", logins["moderator"])
    assert response.status == 200
    assert urllib.parse.urlsplit(response.url).path == "/"  # landed on the home page, not the login form

    job = run_job_through_the_demo_worker(demo)
    assert "status finished result hello-embedded-world" in job.stdout, job.stdout + job.stderr

    # The login's audit entry was witnessed on commit, and the cron's job (enqueued at its start,
    # then every minute; run by the worker) witnessed the head too, once there was one.
    witness = demo.var_dir / "audit-witness.jsonl"
    deadline = time.monotonic() + 100
    while '"reason":"minute"' not in (witness.read_text() if witness.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.5)
    reasons = {json.loads(line)["reason"] for line in witness.read_text().splitlines()}
    assert reasons == {"commit", "minute"}, witness.read_text()
    verified = subprocess.run([sys.executable, "manage.py", "verify_audit"], cwd=ROOT, env=demo.env, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and "the chain reaches the newest witness" in verified.stdout, verified.stdout + verified.stderr

    assert demo.ctrl_c() == 0
    assert "Stopped the embedded Redis." in demo.output
    assert all_gone(demo.web_pid, demo.worker_pid, demo.cron_pid, demo.redis_pid), demo.output
    assert not (demo.var_dir / "redis.sock").exists()


def test_it_starts_again_quickly_with_the_same_logins_and_stops_when_a_process_dies(demo):
    first = demo.start(*SMALL).logins()
    assert demo.ctrl_c() == 0

    demo.start()
    assert "Demo data already present" in demo.output
    assert "seed_demo" not in demo.output
    assert demo.logins() == first
    response, _ = log_in(demo, "admin", first["admin"])
    assert urllib.parse.urlsplit(response.url).path == "/"

    os.kill(demo.worker_pid, signal.SIGKILL)
    assert demo.exit_code() == 1
    assert "The RQ worker stopped unexpectedly" in demo.output
    assert all_gone(demo.web_pid, demo.cron_pid, demo.redis_pid), demo.output
    assert "Stopped the embedded Redis." in demo.output  # the worker's scheduler did not keep it alive
