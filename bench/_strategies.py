"""The strategies bench/purge.py times, each on freshly loaded data under the insert probe:
(a) chatsweep's background purge run by a real RQ worker, (b) raw SQL, (c) Django's delete(),
and the checks that each removed exactly the scope (sanity)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _load import count_files, load, other_expectations
from _measure import InsertProbe, TransactionWatcher, TreeMemory, latency_summary, reap

ROOT = Path(__file__).resolve().parent.parent
WORKER_APP = "chatsweep-bench-worker"
RAW_APP = "chatsweep-bench-raw"
IDLE_SECONDS = 30  # about 1,500 idle inserts: the p99 is then not decided by a handful of them


def refuse(message):
    print(f"bench/purge: {message}", file=sys.stderr)
    sys.exit(2)


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
