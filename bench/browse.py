"""bench/browse: load time of `seed_demo` and server time of every browse page on a big database.

    DATABASE_URL=postgres://... .venv/bin/python bench/browse.py [--messages 1000000] [--no-load]

Loads `--messages` messages into PostgreSQL with `manage.py seed_demo --reset` (users and
conversations scale with it), then requests each browse page in-process through django.test.Client,
logged in as a staff member: two warm-up requests, then `--repeat` timed ones; the figure is the
median time from request to response (middleware, views, queries and templates; no network). Every
page should stay under 150 ms. For a page over it, the slowest SQL of one request is run again under
EXPLAIN (ANALYZE, BUFFERS) and printed. Prints one line per page and saves
bench/results/browse-<date>-<time>.json and .txt. A page whose URL name does not exist yet is
reported as missing and skipped. See bench/README.md.

Runs with DEBUG off (as in production) unless DEBUG is set; attachment files go to var/bench-media
unless MEDIA_ROOT is set, apart from the demo's own files.
"""

import argparse
import html
import io
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urljoin

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LIMIT_MS = 150
sys.path.insert(0, str(ROOT))


def refuse(message):
    print(f"bench/browse: {message}", file=sys.stderr)
    sys.exit(2)


def cpu_pressure():
    """Share of the last minute in which runnable tasks waited for a CPU (Linux PSI), or None."""
    try:
        with open("/proc/pressure/cpu") as file:
            return float(re.search(r"avg60=([\d.]+)", file.readline()).group(1))
    except (OSError, AttributeError):
        return None


def fresh_witness():
    """A witness file of this run's own (unless AUDIT_WITNESS_FILE is set): the default one in var/
    remembers the audit chain of whatever database the checkout used last, and a bench's database
    has another chain, so every audited request would log a contradicted witness (and pay for it)."""
    if "AUDIT_WITNESS_FILE" not in os.environ:
        os.environ["AUDIT_WITNESS_FILE"] = str(Path(tempfile.mkdtemp(prefix="chatsweep-bench-")) / "audit-witness.jsonl")


def setup_django():
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        refuse("needs DATABASE_URL pointing at a PostgreSQL database (SQLite is not what this measures).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ.setdefault("MEDIA_ROOT", str(ROOT / "var" / "bench-media"))
    fresh_witness()
    if "DEBUG" not in os.environ:
        os.environ["DEBUG"] = "0"
        for key in ("SECRET_KEY", "ERASURE_PSEUDONYM_KEY", "ERASURE_CERTIFICATE_KEY"):
            os.environ.setdefault(key, secrets.token_urlsafe(48))
    import django

    # DEBUG off: whitenoise warns that STATIC_ROOT was never collected; pages do not need it here.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()


def load_data(args):
    from django.core.management import call_command

    out = io.StringIO()
    started = time.perf_counter()
    call_command(
        "seed_demo", reset=True, messages=args.messages, users=args.users, conversations=args.conversations,
        seed=args.seed, stdout=out,
    )
    seconds = time.perf_counter() - started
    text = out.getvalue()
    print(text.rstrip())
    loaded = re.search(r"Seeded [\d,]+ messages in ([\d.]+) s", text)
    phases = re.search(r"time: (.*)", text)
    return {
        "seconds": float(loaded.group(1)),  # seed_demo's own figure: generate, COPY, indexes, analyze, commit
        "with_reset_seconds": round(seconds, 2),  # end to end, including --reset of the previous data
        "phases": phases.group(1) if phases else "",
        "output": text,
    }


def staff_client():
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from chatdata import roles

    user, _ = User.objects.get_or_create(username="bench-auditor")
    user.groups.add(Group.objects.get(name=roles.AUDITOR))
    client = Client()
    client.force_login(user)
    return client


def subjects():
    """The heavy cases: the hugest conversation, the most active sender, a common word."""
    from django.db.models import Count

    from chatdata.models import ChatUser, Conversation, Message

    hugest = Message.objects.values("conversation").annotate(n=Count("id")).order_by("-n").first()
    busiest = Message.objects.values("sender").annotate(n=Count("id")).order_by("-n").first()
    if hugest is None:
        refuse("the database holds no messages: run without --no-load.")
    conversation = Conversation.objects.get(pk=hugest["conversation"])
    sender = ChatUser.objects.get(pk=busiest["sender"])
    newest = Message.objects.order_by("-sent_at").values_list("sent_at", flat=True).first()
    return {
        "conversation": conversation, "conversation_messages": hugest["n"],
        "sender": sender, "sender_messages": busiest["n"],
        "middle_day": (newest - timedelta(days=180)).date(), "newest_day": newest.date(),
        "name_part": sender.display_name.split()[-1][:6],
    }


def pages(s):
    """(label, url name, args, query) for every page measured; None query parts are left out."""
    conversation, sender = s["conversation"].external_id, s["sender"].external_id
    month = {"start": (s["newest_day"] - timedelta(days=30)).isoformat(), "end": s["newest_day"].isoformat()}
    return [
        ("home", "browse:home", [], {}),
        ("users ?q=name", "browse:users", [], {"q": s["name_part"]}),
        ("users ?q=external id", "browse:users", [], {"q": s["sender"].external_id}),
        ("user (most active sender)", "browse:user", [sender], {}),
        ("conversations", "browse:conversations", [], {}),
        ("conversations ?kind=group&sort=activity", "browse:conversations", [], {"kind": "group", "sort": "activity"}),
        ("conversation (hugest)", "browse:conversation", [conversation], {}),
        ("conversation (hugest) older page", "browse:conversation", [conversation], "older"),
        ("conversation (hugest) ?date=", "browse:conversation", [conversation], {"date": s["middle_day"].isoformat()}),
        ("search ?q=meeting", "browse:search", [], {"q": "meeting"}),
        ("search ?q=meeting&sender=", "browse:search", [], {"q": "meeting", "sender": sender}),
        ("search ?q=meeting&conversation=", "browse:search", [], {"q": "meeting", "conversation": conversation}),
        ("search ?q=meeting&start=&end= (30 days)", "browse:search", [], {"q": "meeting", **month}),
        ("search ?q=meeting, all filters", "browse:search", [], {"q": "meeting", "sender": sender, "conversation": conversation, **month}),
        ("search ?q=会议 (CJK prefix)", "browse:search", [], {"q": "会议"}),
    ]


def older_link(client, url):
    """The href of the "Older messages" link of a timeline page, resolved against the page's URL."""
    body = client.get(url).content.decode()
    for href, text in re.findall(r'<a\s[^>]*?href="([^"]*)"[^>]*>(.*?)</a>', body, re.DOTALL):
        href = html.unescape(href)
        if "before=" in href and "older" in text.lower():
            return urljoin(url, href)
    return None


def time_page(client, url, repeat):
    for _ in range(2):
        response = client.get(url)
    if response.status_code != 200:
        return {"status": response.status_code}
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    return {"status": 200, "median_ms": round(statistics.median(timings), 1), "min_ms": round(min(timings), 1),
            "max_ms": round(max(timings), 1)}


def slowest_query(client, url):
    """Run the page once with queries captured; EXPLAIN ANALYZE the slowest one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    queries = [q for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    if not queries:
        return len(captured.captured_queries), None
    worst = max(queries, key=lambda q: float(q["time"]))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + worst["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return len(captured.captured_queries), {"ms": round(float(worst["time"]) * 1000, 1), "sql": worst["sql"], "plan": plan}


def query_count(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured.captured_queries)


def measure(client, s, repeat):
    from django.urls import NoReverseMatch, reverse

    results = []
    for label, name, args, query in pages(s):
        row = {"page": label, "url_name": name}
        try:
            base = reverse(name, args=args)
        except NoReverseMatch:
            row["missing"] = True
            results.append(row)
            continue
        if query == "older":  # the second page, as a reader reaches it: the first page's link
            url = older_link(client, base)
            if url is None:
                row["missing"] = True
                row["note"] = "no 'Older messages' link on the first page"
                results.append(row)
                continue
        else:
            url = base + ("?" + urlencode(query) if query else "")
        row["url"] = url
        row.update(time_page(client, url, repeat))
        if row["status"] == 200:
            row["queries"] = query_count(client, url)
            if row["median_ms"] > LIMIT_MS:
                row["queries"], row["slowest_query"] = slowest_query(client, url)
        results.append(row)
    return results


def line(row):
    if row.get("missing"):
        return f"{row['page']:<44} MISSING ({row['url_name']}{': ' + row['note'] if 'note' in row else ''})"
    if row["status"] != 200:
        return f"{row['page']:<44} HTTP {row['status']}  {row['url']}"
    flag = "" if row["median_ms"] <= LIMIT_MS else f"  SLOW (> {LIMIT_MS} ms)"
    return (f"{row['page']:<44} {row['median_ms']:>7.1f} ms  (min {row['min_ms']:.1f}, max {row['max_ms']:.1f}, "
            f"{row['queries']} queries){flag}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, help="default: messages / 50 (at least 200)")
    parser.add_argument("--conversations", type=int, help="default: messages / 33 (at least 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page (default 7)")
    parser.add_argument("--no-load", action="store_true", help="measure the pages on the data already loaded")
    args = parser.parse_args()
    if args.messages < 1 or args.repeat < 1:
        refuse("--messages and --repeat must be at least 1.")
    args.users = args.users or max(200, args.messages // 50)
    args.conversations = args.conversations or max(300, args.messages // 33)
    setup_django()

    from django.db import connection

    report = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "limit_ms": LIMIT_MS,
              "database": connection.settings_dict["NAME"], "cpus": os.cpu_count(), "load_average": os.getloadavg(),
              "cpu_pressure_start": cpu_pressure()}
    if not args.no_load:
        report["plan"] = {k: getattr(args, k) for k in ("messages", "users", "conversations", "seed")}
        report["load"] = load_data(args)
        load = report["load"]
        print(f"load: {load['seconds']:.1f} s for {args.messages:,} messages ({load['with_reset_seconds']:.1f} s with --reset)")
    s = subjects()
    report["subjects"] = {
        "conversation": {"pk": s["conversation"].pk, "kind": s["conversation"].kind, "messages": s["conversation_messages"]},
        "sender": {"pk": s["sender"].pk, "messages": s["sender_messages"]},
    }
    print(f"hugest conversation: #{s['conversation'].pk} ({s['conversation'].kind}, {s['conversation_messages']:,} messages); "
          f"most active sender: #{s['sender'].pk} ({s['sender_messages']:,} messages)")
    report["pages"] = measure(staff_client(), s, args.repeat)
    report["cpu_pressure_end"] = cpu_pressure()
    lines = [line(row) for row in report["pages"]]
    slow = [row for row in report["pages"] if row.get("median_ms", 0) > LIMIT_MS]
    missing = [row for row in report["pages"] if row.get("missing") or row.get("status", 200) != 200]
    summary = (f"{len(report['pages']) - len(slow) - len(missing)} of {len(report['pages'])} pages under {LIMIT_MS} ms"
               + (f"; slow: {', '.join(r['page'] for r in slow)}" if slow else "")
               + (f"; missing or failing: {', '.join(r['page'] for r in missing)}" if missing else ""))
    lines.append(summary)
    for row in slow:
        query = row.get("slowest_query")
        if query:
            lines += ["", f"-- {row['page']}: slowest query {query['ms']} ms", query["sql"], query["plan"]]
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"browse-{datetime.now():%Y%m%d-%H%M%S}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False) + "\n")
    header = [f"bench/browse {report['started']}: {args.messages:,} messages" if not args.no_load else f"bench/browse {report['started']} (--no-load)",
              f"machine: {report['cpus']} cores, load average {report['load_average'][0]:.2f} at the start; CPU pressure "
              f"(share of the last minute with tasks waiting for a CPU) {report['cpu_pressure_start']}% at the start, "
              f"{report['cpu_pressure_end']}% at the end: the machine is shared, rerun when these are high"]
    if "load" in report:
        load = report["load"]
        header.append(f"load: {load['seconds']:.1f} s ({load['phases']}); {load['with_reset_seconds']:.1f} s with --reset")
    stem.with_suffix(".txt").write_text("\n".join(header + lines) + "\n")
    print(header[1])
    print(f"saved {stem.with_suffix('.json').relative_to(ROOT)} and .txt")
    return 1 if slow or missing else 0


if __name__ == "__main__":
    sys.exit(main())
