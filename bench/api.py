"""bench/api: preview + create through the API at a steady rate, on a big database.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/api.py \
        [--messages 1000000] [--rate 50] [--seconds 30] [--no-load]

Loads `--messages` messages with `manage.py seed_demo --reset` (unless --no-load; it empties the
chat data of that database: give it one of its own), makes a moderator with an API token, starts
the app as production would serve it (gunicorn, `--workers` processes of `--server-threads` threads,
DEBUG off; `--server runserver` for Django's threaded development server) on a free port, and sends
`POST /api/v1/purge-requests` at `--rate` requests a second for `--seconds` seconds: open loop (each
request leaves at its scheduled time, whatever the earlier ones do, so a slow server cannot hide its
queue), from a pool of `--threads` (8) threads, which also bounds the server's database connections. Each request previews a scope and creates a previewed request
(counts per table, samples, the frozen high-water mark, the audit entry): 90% the whole of a random
conversation, 10% a month of the biggest conversation, deleted for everyone. The figure is the
latency from the scheduled send to the full response: p50, p95, p99, max, and errors (anything but
201). Target: p99 under 200 ms with no errors. Then, in-process, one preview of each kind is run
under CaptureQueriesContext: its number of queries and their time, the first place to look when
the target is missed. Prints the figures and saves bench/results/api-<date>-<time>.json and .txt.
"""

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET_P99_MS = 200
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from browse import cpu_pressure, load_data, refuse, setup_django  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moderator_token():
    from django.contrib.auth.models import Group, User

    from chatdata import roles
    from chatdata.api_tokens import do_create_api_token

    user, _ = User.objects.get_or_create(username="bench-moderator")
    user.groups.add(Group.objects.get(name=roles.MODERATOR))
    return do_create_api_token(actor=user, name=f"bench {datetime.now(UTC):%Y-%m-%d %H:%M}")[1]


def bodies(count, seed=1):
    """`count` request bodies: 90% a random conversation, 10% a month of the biggest one."""
    from django.db.models import Count, Max, Min

    from chatdata.models import Conversation, Message

    rng = random.Random(seed)
    pks = list(Conversation.objects.filter(last_message_at__isnull=False).values_list("pk", flat=True))
    biggest = (
        Message.objects.values("conversation").annotate(n=Count("id")).order_by("-n").values_list("conversation", flat=True)[:1]
    )[0]
    span = Message.objects.filter(conversation=biggest).aggregate(first=Min("sent_at"), last=Max("sent_at"))
    out = []
    for _ in range(count):
        if rng.random() < 0.9:
            scope = {"kind": "conversation", "conversation": rng.choice(pks)}
        else:
            start = span["first"] + (span["last"] - span["first"]) * rng.random()
            scope = {"kind": "range", "conversation": biggest, "start": start.isoformat(),
                     "end": (start + timedelta(days=30)).isoformat()}
        out.append({"scope": scope, "effect": "delete_for_everyone", "reason": "bench", "ticket": "BENCH"})
    return out, biggest


def server_command(args, port):
    if args.server == "runserver":
        return [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"]
    return [
        sys.executable, "-m", "gunicorn", "dashboard.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers), "--threads", str(args.server_threads), "--access-logfile", "-",
    ]


def start_server(command, port):
    env = {
        **os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0", "API_RATE_LIMIT": "0",
    }
    # Its log goes to a file: a pipe nobody reads fills up after a few hundred requests and every
    # request thread then blocks writing its log line.
    log = tempfile.TemporaryFile(mode="w+")
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    log.seek(0)
    refuse("the server did not start: " + log.read()[-2000:])


def run_load(url, token, payloads, rate, seconds, threads):
    import requests

    local = threading.local()

    def session():
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Bearer {token}"
        return local.session

    results = []
    lock = threading.Lock()

    def send(scheduled, body):
        status, error = None, ""
        try:
            response = session().post(url, json=body, timeout=30)
            status = response.status_code
            if status != 201:
                error = response.text[:200]
        except Exception as exc:  # noqa: BLE001 - every failure is a figure here
            error = repr(exc)[:200]
        finished = time.perf_counter()
        with lock:
            results.append({"latency_ms": (finished - scheduled) * 1000, "status": status, "error": error})

    total = int(rate * seconds)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        start = time.perf_counter() + 0.5
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, scheduled, payloads[i % len(payloads)])
    return results


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def profile_previews(token, payloads):
    """One preview + create of each kind in-process, with its queries counted."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    client = Client()
    out = {}
    for kind in ("conversation", "range"):
        body = next(p for p in payloads if p["scope"]["kind"] == kind)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            with override_settings(ALLOWED_HOSTS=["testserver"], API_RATE_LIMIT=0):
                response = client.post("/api/v1/purge-requests", json.dumps(body), content_type="application/json",
                                       headers={"Authorization": f"Bearer {token}"}, secure=True)
            elapsed = (time.perf_counter() - started) * 1000
        slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]
        out[kind] = {
            "status": response.status_code, "ms": round(elapsed, 1), "queries": len(queries.captured_queries),
            "query_ms": round(sum(float(q["time"]) for q in queries.captured_queries) * 1000, 1),
            "slowest": [{"ms": round(float(q["time"]) * 1000, 1), "sql": q["sql"][:300]} for q in slowest],
        }
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--conversations", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    # Bounded: runserver opens a thread and a database connection per request in flight.
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--server", choices=("gunicorn", "runserver"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--server-threads", type=int, default=2)
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    args.users = args.users or max(10, args.messages // 50)
    args.conversations = args.conversations or max(5, args.messages // 33)

    setup_django()
    from django.core.management import call_command

    from chatdata.models import Message

    call_command("migrate", verbosity=0)
    load = None if args.no_load else load_data(args)
    messages = Message.objects.count()
    token = moderator_token()
    payloads, biggest = bodies(2000, seed=args.seed)
    port = free_port()
    server = start_server(server_command(args, port), port)
    url = f"http://127.0.0.1:{port}/api/v1/purge-requests"
    try:
        run_load(url, token, payloads[-50:], rate=10, seconds=2, threads=args.threads)  # warm-up
        pressure_before = cpu_pressure()
        results = run_load(url, token, payloads, rate=args.rate, seconds=args.seconds, threads=args.threads)
        pressure_after = cpu_pressure()
    finally:
        server.terminate()
        server.wait(timeout=30)
    profile = profile_previews(token, payloads)

    latencies = [r["latency_ms"] for r in results]
    errors = [r for r in results if r["status"] != 201]
    figures = {
        "requests": len(results), "errors": len(errors), "error_samples": [e["error"] or e["status"] for e in errors[:5]],
        "p50_ms": round(percentile(latencies, 0.50), 1), "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1), "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.mean(latencies), 1),
    }
    met = figures["p99_ms"] < TARGET_P99_MS and not errors
    document = {
        "bench": "api", "at": datetime.now(UTC).isoformat(), "messages": messages, "rate": args.rate,
        "seconds": args.seconds, "threads": args.threads, "biggest_conversation": biggest, "load": load and {
            k: v for k, v in load.items() if k != "output"}, "figures": figures, "target_p99_ms": TARGET_P99_MS,
        "target_met": met, "profile": profile, "loadavg": os.getloadavg(), "cpu_pressure_avg60": [pressure_before, pressure_after],
        "cpus": os.cpu_count(), "server": " ".join(server_command(args, 0)[1:]).replace(":0 ", " ") + ", DEBUG=0",
    }
    lines = [
        f"bench/api: preview + create, {args.rate:g} req/s for {args.seconds:g} s against {messages:,} messages"
        f" ({document['server']})",
        f"  {figures['requests']} requests, {figures['errors']} errors; latency p50 {figures['p50_ms']} ms, "
        f"p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms",
        f"  target p99 < {TARGET_P99_MS} ms with no errors: {'MET' if met else 'MISSED'}",
        f"  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; CPU pressure avg60 {pressure_before} -> {pressure_after}",
    ]
    for kind, p in profile.items():
        lines.append(f"  one {kind} preview in-process (HTTP {p['status']}): {p['ms']} ms, {p['queries']} queries ({p['query_ms']} ms in SQL)")
        for q in p["slowest"]:
            lines.append(f"      {q['ms']} ms  {re.sub(r'\\s+', ' ', q['sql'])[:160]}")
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (out / f"api-{stamp}.json").write_text(json.dumps(document, indent=2, default=str))
    (out / f"api-{stamp}.txt").write_text(text + "\n")
    print(f"saved {out / f'api-{stamp}.json'}")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
