"""What the purge benchmark observes from outside the thing it measures.

- `InsertProbe`: a separate process playing the chat service, inserting one message at a time
  (autocommit, as a chat backend would) into conversations outside the scope, at a steady rate;
  its latencies are what a purge must not degrade.
- `TransactionWatcher`: polls pg_stat_activity for the worker's backends (found by the
  application_name the worker's libpq takes from PGAPPNAME) and records how long each
  transaction has been open. It sees every transaction of the worker whatever the engine records,
  with an error of one polling interval.
- `TreeMemory`: peak resident memory of a process and its children (RQ's work horse), from
  /proc/<pid>/status VmHWM through psutil, sampled every 250 ms in bench/purge (VmHWM is the
  process's own high-water mark, so sampling misses nothing but a process's last interval). Not ru_maxrss from
  wait4: Python starts children with vfork, and the kernel then charges the parent's peak (the
  benchmark's own ~90 MB) to the child at exec.
"""

import multiprocessing
import os
import random
import statistics
import threading
import time
from datetime import UTC, datetime

import psutil
import psycopg


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def latency_summary(latencies_ms):
    return {
        "n": len(latencies_ms),
        "p50_ms": round(percentile(latencies_ms, 50), 3) if latencies_ms else None,
        "p99_ms": round(percentile(latencies_ms, 99), 3) if latencies_ms else None,
        "max_ms": round(max(latencies_ms), 3) if latencies_ms else None,
        "mean_ms": round(statistics.fmean(latencies_ms), 3) if latencies_ms else None,
    }


def _probe_main(dsn, conversations, interval, stop, out):
    """Insert messages until `stop` is set; put [(wall time, latency ms)] on `out`."""
    rng = random.Random(os.getpid())
    samples = []
    with psycopg.connect(dsn, autocommit=True, application_name="chatsweep-bench-probe") as conn:
        n = 0
        while not stop.is_set():
            conversation, sender = rng.choice(conversations)
            n += 1
            started = time.perf_counter()
            conn.execute(
                "INSERT INTO chatdata_message (external_id, conversation_id, sender_id, sent_at, kind, body, payload) "
                "VALUES (%s, %s, %s, %s, 'text', %s, '{}')",
                (f"probe-{os.getpid()}-{time.time_ns()}-{n}", conversation, sender, datetime.now(UTC), f"probe {n}"),
            )
            samples.append((time.time(), (time.perf_counter() - started) * 1000))
            time.sleep(max(0.0, interval - (time.perf_counter() - started)))
    out.put(samples)


class InsertProbe:
    def __init__(self, dsn, conversations, interval=0.02):
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._out = ctx.Queue()
        self._process = ctx.Process(target=_probe_main, args=(dsn, conversations, interval, self._stop, self._out))
        self.samples = []

    def __enter__(self):
        self._process.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self._process.is_alive() or not self.samples:
            self._stop.set()
            self.samples = self._out.get(timeout=60)
            self._process.join(timeout=10)
        return self.samples

    def between(self, start, end):
        return [ms for t, ms in self.samples if start <= t <= end]


class TransactionWatcher(threading.Thread):
    def __init__(self, dsn, application_name, interval=0.01):
        super().__init__(daemon=True)
        self.dsn, self.application_name, self.interval = dsn, application_name, interval
        self.longest = {}  # (pid, xact_start) -> (seconds open when last seen, query)
        self._stop_event = threading.Event()

    def run(self):
        with psycopg.connect(self.dsn, autocommit=True, application_name="chatsweep-bench-watcher") as conn:
            while not self._stop_event.is_set():
                rows = conn.execute(
                    "SELECT pid, xact_start, extract(epoch FROM clock_timestamp() - xact_start), left(query, 120) "
                    "FROM pg_stat_activity WHERE application_name = %s AND xact_start IS NOT NULL",
                    (self.application_name,),
                ).fetchall()
                for pid, xact_start, seconds, query in rows:
                    key = (pid, xact_start)
                    if seconds > self.longest.get(key, (0, ""))[0]:
                        self.longest[key] = (float(seconds), query)
                time.sleep(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=5)

    def summary(self):
        if not self.longest:
            return {"transactions_seen": 0, "longest_s": None, "longest_query": None}
        seconds, query = max(self.longest.values())
        return {"transactions_seen": len(self.longest), "longest_s": round(seconds, 3), "longest_query": query}


class TreeMemory(threading.Thread):
    """Peak VmHWM (bytes) per process of the tree rooted at `pid`, sampled every `interval`."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peaks = {}  # pid -> (name, peak bytes)
        self._stop_event = threading.Event()

    def _sample(self):
        try:
            root = psutil.Process(self.pid)
            processes = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for process in processes:
            try:
                with open(f"/proc/{process.pid}/status") as f:
                    hwm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
                name = " ".join(process.cmdline()[-3:])
            except (OSError, StopIteration, psutil.Error):
                continue
            if hwm > self.peaks.get(process.pid, ("", 0))[1]:
                self.peaks[process.pid] = (name, hwm)

    def run(self):
        while not self._stop_event.is_set():
            self._sample()
            time.sleep(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=5)

    def peak_mb(self):
        return round(max((peak for _, peak in self.peaks.values()), default=0) / 2**20, 1)

    def per_process_mb(self):
        return {f"{pid} {name}": round(peak / 2**20, 1) for pid, (name, peak) in self.peaks.items()}


def reap(process):
    """Reap a finished Popen child without blocking: None while it runs, else its exit code."""
    pid, status, _ = os.wait4(process.pid, os.WNOHANG)
    if not pid:
        return None
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode
