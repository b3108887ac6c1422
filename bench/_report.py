"""Ratios and targets of bench/purge (issue 3), and the text table it prints and saves."""

TARGETS = {
    "a_vs_b": "chatsweep within 1.5x of the faster raw SQL DELETE (a/b <= 1.5)",
    "c_vs_a": "chatsweep at least 3x faster than Django's QuerySet.delete() (c/a >= 3)",
    "longest_batch": "no batch transaction over 0.5 s",
    "memory": "worker peak memory under 150 MB",
    "memory_flat": "worker peak memory the same for the small and the full scope (within 10%)",
    "insert_p99": "p99 of inserts into other conversations during the purge within 3x of idle",
}


def _ratio(x, y):
    return round(x / y, 2) if x and y else None


def evaluate(runs, messages, small):
    """Checks against the targets. With several rounds, times and ratios use the best (fastest)
    run of each strategy, the machine's noise only ever slowing a run down; the longest batch,
    memory and the insert latency ratio use the worst of all runs of (a)."""
    by, peaks = {}, {}
    for run in runs:
        key = run["strategy"] if run["messages"] == messages else f"{run['strategy']}@{run['messages']}"
        if key not in by or run["seconds"] < by[key]["seconds"]:
            by[key] = run
        if run.get("memory_peak_mb") is not None:
            peaks[key] = max(peaks.get(key, 0), run["memory_peak_mb"])
    a = by.get("a")
    raws = [r for k, r in by.items() if k.startswith("b_") and "@" not in k]
    b = min(raws, key=lambda r: r["seconds"]) if raws else None
    out = {"targets": TARGETS, "checks": {}}
    checks = out["checks"]
    if a and b:
        checks["a_vs_b"] = {
            "ratio": _ratio(a["seconds"], b["seconds"]),
            "against": b["strategy"],
            "per_variant": {r["strategy"]: _ratio(a["seconds"], r["seconds"]) for r in raws},
            "met": a["seconds"] / b["seconds"] <= 1.5,
        }
    if a:
        cs = {k: r for k, r in by.items() if k.startswith("c_") and "@" not in k}
        if cs:
            # The target is about Django as it is used by default (Python-side CASCADE); the
            # DB_CASCADE variant is what QuerySet.delete() costs on chatsweep's own models.
            main = cs.get("c_python") or cs.get("c_db")
            checks["c_vs_a"] = {
                "ratio": _ratio(main["seconds"], a["seconds"]),
                "against": main["strategy"],
                "per_variant": {k: _ratio(r["seconds"], a["seconds"]) for k, r in cs.items()},
                "met": main["seconds"] / a["seconds"] >= 3,
            }
        all_a = [r for r in runs if r["strategy"] == "a"]
        longest = [x for r in all_a for x in [r.get("longest_batch_s"), r["transactions"].get("longest_s")] if x is not None]
        if longest:
            checks["longest_batch"] = {"seconds": max(longest), "met": max(longest) <= 0.5}
        peak, small_peak = peaks["a"], peaks.get(f"a@{small}")
        checks["memory"] = {
            "peak_mb": peak,
            "small_peak_mb": small_peak,
            "met": peak < 150 and (small_peak is None or small_peak < 150),
        }
        if small_peak:
            spread = abs(peak - small_peak) / small_peak
            checks["memory_flat"] = {"difference_pct": round(spread * 100, 1), "met": spread <= 0.10}
        full = [r for r in all_a if r["messages"] == messages]
        worst = max(full, key=lambda r: r["inserts_during"]["p99_ms"] / r["inserts_idle"]["p99_ms"])
        idle, during = worst["inserts_idle"]["p99_ms"], worst["inserts_during"]["p99_ms"]
        checks["insert_p99"] = {
            "idle_ms": idle, "during_ms": during, "ratio": _ratio(during, idle), "met": during <= 3 * idle,
            "per_run": [_ratio(r["inserts_during"]["p99_ms"], r["inserts_idle"]["p99_ms"]) for r in full],
        }
        # For scale, not judged: the same ratio while the raw DELETE of (b) ran on the same data.
        checks["insert_p99"]["raw_sql_ratios"] = {
            r["title"]: _ratio(r["inserts_during"]["p99_ms"], r["inserts_idle"]["p99_ms"])
            for r in runs if r["strategy"].startswith("b_")
        }
    return out


def render(meta, runs, summary):
    lines = [
        f"bench/purge  {meta['started_at']}  database {meta['database']}  {meta['cpus']} cpus, "
        f"load average before {meta['loadavg_before']} after {meta.get('loadavg_after')}, "
        f"cpu busy before {meta['cpu_busy_before_pct']}%",
        f"settings {meta['settings']}, foreign-key triggers skipped by (a): {meta.get('fk_triggers_skipped', 'not recorded')}",
        "",
        f"{'strategy':<10} {'load':>5} {'messages':>9} {'seconds':>8} {'msgs/s':>8} {'longest tx s':>12} {'peak MB':>8} "
        f"{'ins p50/p99 idle ms':>19} {'ins p50/p99 during ms':>21}  what",
    ]
    for r in runs:
        ii, id_ = r["inserts_idle"], r["inserts_during"]
        lines.append(
            f"{r['strategy']:<10} {(r.get('loadavg_before') or [0])[0]:>5.2f} {r['messages']:>9,} {r['seconds']:>8.2f} {r['rows_per_s']:>8,} "
            f"{r['transactions'].get('longest_s') or 0:>12.3f} {r.get('memory_peak_mb') or 0:>8.1f} "
            f"{ii['p50_ms'] or 0:>8.2f}/{ii['p99_ms'] or 0:<10.2f} {id_['p50_ms'] or 0:>9.2f}/{id_['p99_ms'] or 0:<11.2f} {r['label']}"
        )
    lines.append("")
    for r in runs:
        if r["strategy"] == "a":
            lines.append(
                f"(a) at {r['messages']:,}: preview {r['preview_s']} s, wall incl. worker start {r['wall_with_worker_start_s']} s, "
                f"batches {r.get('batches')}, longest batch {r.get('longest_batch_s')} s (engine) / "
                f"{r['transactions'].get('longest_s')} s (pg_stat_activity, {r['transactions'].get('transactions_seen')} transactions), "
                f"peak MB per process {r['memory_per_process_mb']}"
            )
            if "tombstones_before" in r:
                before, after = r["tombstones_before"], r["tombstones_after"]
                lines.append(
                    f"    tombstones before: {before['keys']:,} keys in {before['rows']:,} rows ({before['journal_rows']} in the journal); "
                    f"after: {after['keys']:,} keys ({after['journal_rows']} in the journal); "
                    f"journal folded and worker exited {r['fold_and_exit_after_done_s']} s after the request was done"
                )
            if "inserts_phases" in r:
                lines.append("    insert p99 by part of the window: " + ", ".join(
                    f"{name.replace('_', ' ')} {part['p99_ms'] if part['n'] else '-'} ms ({part['n']} inserts)"
                    for name, part in r["inserts_phases"].items()
                ))
        if r["after"]["wrong"]:
            lines.append(f"!! {r['strategy']} left the data wrong: {r['after']['wrong']}")
    lines.append("")
    for key, text in summary["targets"].items():
        check = summary["checks"].get(key)
        if check is None:
            lines.append(f"[ -- ] {text}: not measured")
            continue
        detail = ", ".join(f"{k}={v}" for k, v in check.items() if k != "met")
        lines.append(f"[{'MET ' if check['met'] else 'MISS'}] {text}: {detail}")
    return "\n".join(lines)
