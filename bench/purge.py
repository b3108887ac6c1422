"""bench/purge: chatsweep's background purge against the two obvious alternatives.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/purge.py [--messages 1000000]

Loads `--messages` messages with children into one conversation (plus 25% more in 500 other
conversations that must survive), then, reloading the same data before each:
  (a) chatsweep: do_preview_purge, approval by a second moderator, do_execute_purge, run by a real
      `manage.py rqworker --burst` subprocess (RQ's forking worker: peak memory is the larger of the
      worker and its work horse);
  (b) raw SQL in one transaction: `cascade` = one DELETE of the messages, the database cascading to
      the children; `explicit` = children deleted first, then the messages;
  (c) Django's QuerySet.delete(): `db` = on chatsweep's models (DB_CASCADE), `python` = with
      Django's default Python-side CASCADE;
and (a) again on `--small` messages for the memory comparison. Meanwhile a separate process
inserts messages into the other conversations and times each insert. Prints a table and saves
bench/results/purge-<date>-<time>.json and .txt. See bench/README.md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import psutil  # noqa: E402
from _load import Layout, count_files, load, other_expectations  # noqa: E402
from _measure import InsertProbe, TransactionWatcher, TreeMemory, latency_summary, reap  # noqa: E402
from _report import evaluate, render  # noqa: E402
from browse import fresh_witness  # noqa: E402

WORKER_APP = "chatsweep-bench-worker"
RAW_APP = "chatsweep-bench-raw"
IDLE_SECONDS = 30  # about 1,500 idle inserts: the p99 is then not decided by a handful of them


def refuse(message):
    print(f"bench/purge: {message}", file=sys.stderr)
    sys.exit(2)


def setup_django(media_root):
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        refuse("runs on PostgreSQL only: set DATABASE_URL=postgres://... (a database you can wipe)")
    if not os.environ.get("REDIS_URL"):
        refuse("set REDIS_URL to a Redis database the worker subprocess can share")
    os.environ["MEDIA_ROOT"] = str(media_root)
    fresh_witness()
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        refuse(f"runs on PostgreSQL only, not {connection.vendor}")
    from psycopg.conninfo import make_conninfo

    db = connection.settings_dict
    return make_conninfo(
        dbname=db["NAME"], user=db["USER"] or None, password=db["PASSWORD"] or None,
        host=db["HOST"] or None, port=db["PORT"] or None,
    )


def other_conversations(layout):
    return [(c, layout.members(c)[0]) for c in range(2, layout.others + 2)]


def sanity(dsn, layout, media_root, *, files_removed):
    """Scope gone with its children (and files, if the strategy removes them); the rest intact.
    Only loaded rows count: the insert probe adds messages to the other conversations."""
    max_id = layout.total_messages
    import psycopg

    with psycopg.connect(dsn) as conn:
        def one(sql, *params):
            return conn.execute(sql, params).fetchone()[0]

        child = "SELECT count(*) FROM {} c JOIN chatdata_message m ON m.id = c.message_id WHERE m.conversation_id {} 1"
        facts = {
            "scope_messages_left": one("SELECT count(*) FROM chatdata_message WHERE conversation_id = 1 AND id <= %s", max_id),
            "other_messages_left": one("SELECT count(*) FROM chatdata_message WHERE conversation_id <> 1 AND id <= %s", max_id),
            "scope_children_left": sum(
                one(child.format(t, "=")) for t in ["chatdata_reaction", "chatdata_attachment", "chatdata_messagehide", "chatdata_pendingdelivery"]
            ),
            "other_children_left": sum(
                one(child.format(t, "<>")) for t in ["chatdata_reaction", "chatdata_attachment", "chatdata_messagehide", "chatdata_pendingdelivery"]
            ),
        }
    facts["scope_files_left"] = count_files(layout, media_root, conversation_id=1)
    facts["other_files_left"] = count_files(layout, media_root) - facts["scope_files_left"]
    expected = {"scope_messages_left": 0, "scope_children_left": 0, **other_expectations(layout)}
    if files_removed:
        expected["scope_files_left"] = 0
    facts["wrong"] = {k: {"found": facts[k], "expected": v} for k, v in expected.items() if facts[k] != v}
    return facts


def tombstone_facts(dsn):
    """Rows and keys in chatdata_tombstone (it is not truncated between loads: it grows over the
    runs, as in production), and how many rows wait in the journal, not yet indexed."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows, keys, journal = conn.execute(
            "SELECT count(*), coalesce(sum(jsonb_array_length(keys)), 0), count(*) FILTER (WHERE NOT indexed) "
            "FROM chatdata_tombstone"
        ).fetchone()
    return {"rows": rows, "keys": int(keys), "journal_rows": journal}


def idle_window(probe):
    start = time.time()
    time.sleep(IDLE_SECONDS)
    return start, time.time()


def run_chatsweep(dsn, layout, media_root, staff, log):
    import django_rq
    from django.db import close_old_connections

    from chatdata.models import PurgeRequest
    from chatdata.purge.actions import do_approve_purge, do_execute_purge, do_preview_purge
    from chatdata.purge.scopes import spec_from_dict

    queue = django_rq.get_queue("default")
    if queue.count:
        refuse(f"the RQ queue 'default' at REDIS_URL already holds {queue.count} jobs; use an empty Redis database")
    counts = load(dsn, layout, media_root, log=log)
    tombstones_before = tombstone_facts(dsn)
    requester, approver = staff
    with InsertProbe(dsn, other_conversations(layout)) as probe:
        idle = idle_window(probe)
        spec = spec_from_dict({"scope": {"kind": "conversation", "conversation": 1}, "effect": "delete_for_everyone"})
        started = time.monotonic()
        request = do_preview_purge(spec, actor=requester, reason="bench/purge", ticket="BENCH")
        preview_s = time.monotonic() - started
        request = do_execute_purge(request, actor=requester)
        if request.state == PurgeRequest.State.AWAITING_APPROVAL:  # above PURGE_APPROVAL_THRESHOLD
            request = do_approve_purge(request, actor=approver)
        if request.state != PurgeRequest.State.QUEUED:
            raise SystemExit(f"expected the purge to be queued, it is {request.state}")
        watcher = TransactionWatcher(dsn, WORKER_APP, interval=0.02)
        watcher.start()
        env = dict(os.environ, PGAPPNAME=WORKER_APP, MEDIA_ROOT=str(media_root))
        purge_start = time.time()
        worker_log = media_root.parent / f"{media_root.name}-worker-{layout.messages}.log"
        with open(worker_log, "wb") as log_file:
            worker = subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", "--burst", "default"],
                cwd=ROOT, env=env, start_new_session=True, stdout=log_file, stderr=subprocess.STDOUT,
            )
        memory = TreeMemory(worker.pid, interval=0.25)
        memory.start()
        progress = []  # (seconds since start, state, checkpoint) whenever the checkpoint moves
        while (reaped := reap(worker)) is None:
            close_old_connections()
            request.refresh_from_db()
            point = (request.state, request.cursor)
            if not progress or progress[-1][1:] != point:
                progress.append((time.time() - purge_start, *point))
            time.sleep(0.25)
        purge_end = time.time()
        memory.stop()
        watcher.stop()
        probe.stop()
    request.refresh_from_db()
    if request.state != PurgeRequest.State.DONE:
        raise SystemExit(f"the purge ended {request.state} ({request.error}); worker log: {worker_log}")
    running = [t for t, state, _ in progress if state == PurgeRequest.State.RUNNING]
    work_s = (request.finished_at - request.started_at).total_seconds()
    # After the request is done the job folds the tombstone journal into the index (paced), then
    # the worker exits: that time is in the wall time and under the insert probe, not in `seconds`.
    after_done_s = purge_end - request.finished_at.timestamp()
    return {
        "strategy": "a",
        "label": "chatsweep background purge (rqworker --burst, forking worker)",
        "messages": layout.messages,
        "loaded_rows": counts,
        "preview_s": round(preview_s, 3),
        "seconds": round(work_s, 3),
        "wall_with_worker_start_s": round(purge_end - purge_start, 3),
        "fold_and_exit_after_done_s": round(after_done_s, 3),
        "tombstones_before": tombstones_before,
        "tombstones_after": tombstone_facts(dsn),
        "first_running_seen_s": round(running[0], 3) if running else None,
        "rows_per_s": round(layout.messages / work_s),
        "batches": request.batches,
        "longest_batch_s": request.longest_batch_ms / 1000,
        "checkpoint_trace": progress,
        "worker_exit": reaped,
        "worker_log": str(worker_log),
        "transactions": watcher.summary(),
        "memory_peak_mb": memory.peak_mb(),
        "memory_per_process_mb": memory.per_process_mb(),
        "preview": request.preview,
        "result": request.result,
        "inserts_idle": latency_summary(probe.between(*idle)),
        "inserts_during": latency_summary(probe.between(purge_start, purge_end)),
        # The same window in its three parts, to see which one makes the tail: the worker starting
        # (a Python process importing Django), the batches (started_at to finished_at), and the
        # tombstone fold with the worker's exit.
        "inserts_phases": {
            "worker_start": latency_summary(probe.between(purge_start, request.started_at.timestamp())),
            "batches": latency_summary(probe.between(request.started_at.timestamp(), request.finished_at.timestamp())),
            "fold_and_exit": latency_summary(probe.between(request.finished_at.timestamp(), purge_end)),
        },
        "after": sanity(dsn, layout, media_root, files_removed=True),
    }


RAW_SQL = {
    "cascade": ["DELETE FROM chatdata_message WHERE conversation_id = %(c)s AND id <= %(hwm)s"],
    "explicit": [
        f"DELETE FROM {table} x USING chatdata_message m "
        "WHERE x.message_id = m.id AND m.conversation_id = %(c)s AND m.id <= %(hwm)s"
        for table in ["chatdata_reaction", "chatdata_messagehide", "chatdata_pendingdelivery", "chatdata_attachment"]
    ]
    + ["DELETE FROM chatdata_message WHERE conversation_id = %(c)s AND id <= %(hwm)s"],
}


def run_alone(dsn, layout, media_root, log, action):
    """Load the data, let the insert probe run idle, then time `action()` (one of the baselines)
    under the probe. Returns the fields every baseline reports and what `action` returned."""
    counts = load(dsn, layout, media_root, log=log)
    with InsertProbe(dsn, other_conversations(layout)) as probe:
        idle = idle_window(probe)
        start = time.time()
        returned = action()
        end = time.time()
        probe.stop()
    return {
        "messages": layout.messages,
        "loaded_rows": counts,
        "seconds": round(end - start, 3),
        "inserts_idle": latency_summary(probe.between(*idle)),
        "inserts_during": latency_summary(probe.between(start, end)),
        "after": sanity(dsn, layout, media_root, files_removed=False),
    }, returned


def run_raw(dsn, layout, media_root, variant, log):
    import psycopg

    def delete():
        with psycopg.connect(dsn, application_name=RAW_APP) as conn:  # one transaction
            for sql in RAW_SQL[variant]:
                conn.execute(sql, {"c": 1, "hwm": layout.total_messages})

    run, _ = run_alone(dsn, layout, media_root, log, delete)
    return {
        "strategy": f"b_{variant}",
        "label": f"raw SQL, one transaction, {'one DELETE + database cascade' if variant == 'cascade' else 'children first, then messages'}",
        **run,
        "rows_per_s": round(layout.messages / run["seconds"]),
        "transactions": {"longest_s": run["seconds"]},
    }


def run_django(dsn, layout, media_root, cascade, log):
    def delete():
        out = subprocess.run(
            [sys.executable, "bench/_django_delete.py", "--cascade", cascade, "--conversation", "1", "--max-id", str(layout.total_messages)],
            cwd=ROOT, env=dict(os.environ, MEDIA_ROOT=str(media_root)), capture_output=True, text=True, check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    run, measured = run_alone(dsn, layout, media_root, log, delete)
    run["seconds"] = measured["seconds"]  # the delete() call itself, without the process start
    return {
        "strategy": f"c_{cascade}",
        "label": "Django QuerySet.delete(), " + (
            "chatsweep's models (DB_CASCADE: one DELETE)" if cascade == "db" else "Django's default CASCADE (collected in Python)"
        ),
        **run,
        "rows_per_s": round(layout.messages / measured["seconds"]),
        "transactions": {"longest_s": measured["seconds"]},
        "memory_peak_mb": measured["peak_mb"],
        "deleted": measured["deleted"],
    }


def fk_triggers_skipped():
    """Whether (a)'s batches will skip the per-row foreign-key triggers with this role and schema."""
    from django.db import transaction

    from chatdata.purge import effects, statements

    with transaction.atomic(), statements.batch_cursor() as cursor:
        skipped = effects._without_fk_triggers(cursor)
        transaction.set_rollback(True)
    return skipped


def bench_staff():
    from django.contrib.auth.models import Group, User

    from chatdata import roles

    people = []
    for name in ["bench-requester", "bench-approver"]:
        user, _ = User.objects.get_or_create(username=name)
        user.groups.add(Group.objects.get(name=roles.MODERATOR))
        people.append(user)
    return people


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages in the purged scope (default 1,000,000)")
    parser.add_argument("--small", type=int, default=200_000, help="scope of the second run of (a), for memory (0: skip)")
    parser.add_argument("--only", default="a,b,c", help="strategies to run, of a,b,c (default all)")
    parser.add_argument("--skip-python-cascade", action="store_true", help="skip (c) with Django's Python-side cascade (slow)")
    parser.add_argument("--rounds", type=int, default=1, help="run (a) and (b) this many times, interleaved; ratios use the best of each")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="where to save the results")
    parser.add_argument("--report", metavar="JSON", help="only judge and print a saved result again (and rewrite its .txt)")
    args = parser.parse_args()
    if args.messages < 1000 or args.small < 0 or not 1 <= args.rounds <= 10:
        refuse("--messages must be at least 1000, --small not negative, --rounds from 1 to 10")
    if args.report:
        return report_again(Path(args.report))
    only = set(args.only.split(","))
    if not only <= {"a", "b", "c"}:
        refuse("--only takes a comma-separated subset of a,b,c")

    media_root = Path(tempfile.mkdtemp(prefix="chatsweep-bench-media-"))
    dsn = setup_django(media_root)
    log = lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)  # noqa: E731
    from django.conf import settings

    meta = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": settings.DATABASES["default"]["NAME"],
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "cpu_busy_before_pct": psutil.cpu_percent(interval=1.0),
        "settings": {k: getattr(settings, k) for k in [
            "PURGE_BATCH_SIZE", "PURGE_BATCH_TARGET_MS", "PURGE_BATCH_PAUSE_PERCENT", "PURGE_SKIP_FK_TRIGGERS",
            "PURGE_WAL_COMPRESSION", "PURGE_INLINE_LIMIT", "PURGE_APPROVAL_THRESHOLD",
        ]},
        "fk_triggers_skipped": fk_triggers_skipped(),
        "media_root": str(media_root),
    }
    layout = Layout(args.messages)
    staff = bench_staff()
    runs = []
    steps = []
    for n in range(1, args.rounds + 1):
        if "a" in only:
            steps.append((f"(a) chatsweep, round {n}", lambda: run_chatsweep(dsn, layout, media_root, staff, log)))
        if "b" in only:
            steps += [(f"(b) raw {v}, round {n}", lambda v=v: run_raw(dsn, layout, media_root, v, log)) for v in ["cascade", "explicit"]]
    if "c" in only:
        variants = ["db"] if args.skip_python_cascade else ["db", "python"]
        steps += [(f"(c) Django {v}", lambda v=v: run_django(dsn, layout, media_root, v, log)) for v in variants]
    if "a" in only and args.small:
        steps.append((f"(a) chatsweep at {args.small:,}", lambda: run_chatsweep(dsn, Layout(args.small), media_root, staff, log)))
    for title, step in steps:
        log(f"{title}: loading and running")
        loadavg = [round(x, 2) for x in os.getloadavg()]
        run = step()
        run["title"], run["loadavg_before"] = title, loadavg
        log(f"{title}: {run['seconds']} s, {run['rows_per_s']:,} messages/s")
        runs.append(run)
    meta["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    summary = evaluate(runs, args.messages, args.small)
    text = render(meta, runs, summary)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"purge-{datetime.now().strftime('%Y-%m-%d-%H%M')}"
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=2, default=str) + "\n")
    stem.with_suffix(".txt").write_text(text + "\n")
    log(f"saved {stem}.json and {stem}.txt")


def report_again(path):
    """Judge a saved result with the current rules, print it and rewrite its .json and .txt."""
    try:
        saved = json.loads(path.read_text())
        meta, runs = saved["meta"], saved["runs"]
    except (OSError, ValueError, KeyError) as exc:
        refuse(f"{path} is not a saved bench/purge result: {exc}")
    full = max(r["messages"] for r in runs)
    small = min((r["messages"] for r in runs if r["strategy"] == "a" and r["messages"] != full), default=0)
    summary = evaluate(runs, full, small)
    text = render(meta, runs, summary)
    print(text)
    path.write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=2, default=str) + "\n")
    path.with_suffix(".txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
