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
from _load import Layout  # noqa: E402
from _report import evaluate, render  # noqa: E402
from _strategies import refuse, run_chatsweep, run_django, run_raw  # noqa: E402
from browse import fresh_witness  # noqa: E402


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
