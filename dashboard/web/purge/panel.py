"""What the preview panel and the job page show, computed from a preview dict and a PurgeRequest:
count rows labelled for the effect, the per-day histogram as SVG geometry, progress figures.

The histogram is drawn by the template from the geometry here (no chart library), from the days
the engine counts (chatdata.purge.preview.affected_per_day).
"""

from datetime import date, timedelta
from math import ceil, log10

from django.conf import settings
from django.utils import timezone

from chatdata.models import PurgeRequest
from chatdata.purge.actions import cancel_refusal, resume_refusal
from chatdata.purge.scopes import MODE_ATTACHMENTS, MODE_CLEAR, MODE_DELETE, MODE_HIDE_ROWS

State = PurgeRequest.State

# --- counts ---------------------------------------------------------------------------------------

ROWS = {
    MODE_DELETE: [
        ("messages", "Messages deleted"),
        ("attachments", "Attachments (and their files)"),
        ("reactions", "Reactions"),
        ("hides", "Per-member hides"),
        ("pending_deliveries", "Pending deliveries"),
        ("conversations", "Conversations touched"),
        ("members_affected", "Members notified"),
    ],
    MODE_HIDE_ROWS: [
        ("messages", "Messages in scope"),
        ("hides", "New hides for the member"),
        ("pending_deliveries", "Their pending deliveries removed"),
        ("conversations", "Conversations"),
        ("members_affected", "Members affected"),
    ],
    MODE_ATTACHMENTS: [
        ("messages", "Messages with attachments (they stay)"),
        ("attachments", "Attachments deleted (and their files)"),
        ("conversations", "Conversations touched"),
        ("members_affected", "Members notified"),
    ],
    MODE_CLEAR: [
        ("messages", "Messages the member stops seeing"),
        ("pending_deliveries", "Their pending deliveries removed"),
        ("conversations", "Conversations changed for the member"),
        ("members_affected", "Members affected"),
    ],
}


def count_rows(spec, preview, result=None):
    """[{key, label, previewed, executed, differs}] for the effect's mode. `result` (executed
    counts) is None before the run; `differs` is only judged once the run has ended."""
    mode = (preview or {}).get("mode") or spec.mode
    rows = []
    for key, label in ROWS[mode]:
        if key == "conversations" and spec.removes_conversations:
            label = "Conversations removed"
        previewed = (preview or {}).get(key, 0)
        executed = None if result is None else result.get(key, 0)
        rows.append({"key": key, "label": label, "previewed": previewed, "executed": executed,
                     "difference": None if executed is None else executed - previewed})
    return rows


def approval_note(spec, preview):
    """Why a request needs a second person's approval, or None."""
    if spec.is_erasure:
        return "An erasure (everything a user sent) always needs approval by a second compliance officer or an admin."
    if (preview or {}).get("needs_approval"):
        return (f"More than {settings.PURGE_APPROVAL_THRESHOLD:,} messages: another moderator or an admin must "
                "approve it before it runs.")
    return None


# --- histogram ------------------------------------------------------------------------------------


def _bucket_start(day, unit):
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def _next_bucket(day, unit):
    if unit == "week":
        return day + timedelta(days=7)
    if unit == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def _nice_ceiling(value):
    """The smallest 1, 2 or 5 × 10^k at or above value (the top of the y axis)."""
    if value <= 1:
        return 1
    power = 10 ** int(log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


WIDTH, HEIGHT = 380, 170
LEFT, RIGHT, TOP, BOTTOM = 46, 10, 12, 40
MAX_BARS = 92


def histogram(days):
    """SVG geometry for [(date, n)]: bars per day, or per week / month when the span is long
    (so there are at most MAX_BARS bars), with empty days kept as gaps. None for no data."""
    days = [(day, n) for day, n in days or [] if n]
    if not days:
        return None
    first, last = days[0][0], days[-1][0]
    span = (last - first).days + 1
    unit = "day" if span <= MAX_BARS else ("week" if span <= MAX_BARS * 7 else "month")
    totals = {}
    for day, n in days:
        key = _bucket_start(day, unit)
        totals[key] = totals.get(key, 0) + n
    buckets, cursor = [], _bucket_start(first, unit)
    while cursor <= last:
        buckets.append((cursor, totals.get(cursor, 0)))
        cursor = _next_bucket(cursor, unit)
    busiest = max(buckets, key=lambda b: b[1])
    top = _nice_ceiling(busiest[1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(buckets)
    gap = slot * 0.18 if slot >= 4 else 0
    fmt = "%Y-%m" if unit == "month" else "%Y-%m-%d"
    bars = []
    for i, (start, n) in enumerate(buckets):
        h = plot_h * n / top
        label = f"{'week of ' if unit == 'week' else ''}{start.strftime(fmt)}: {n:,} message{'s' if n != 1 else ''}"
        bars.append({"x": round(LEFT + i * slot + gap / 2, 2), "y": round(TOP + plot_h - h, 2),
                     "w": round(max(slot - gap, 0.6), 2), "h": round(h, 2), "n": n, "label": label})
    total = sum(n for _, n in buckets)
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP, "bottom": TOP + plot_h, "right": WIDTH - RIGHT,
        "mid_y": TOP + plot_h / 2, "center_x": (LEFT + WIDTH - RIGHT) / 2, "x_title_y": HEIGHT - 4, "label_y": TOP + plot_h + 16,
        "bars": bars, "unit": unit, "top_value": top,
        "first_label": buckets[0][0].strftime(fmt), "last_label": buckets[-1][0].strftime(fmt),
        "single": len(buckets) == 1,
        "zone": timezone.get_current_timezone_name(),
        "description": (
            f"{total:,} message{'s' if total != 1 else ''} from {first:%Y-%m-%d} to {last:%Y-%m-%d}, in {len(buckets)} "
            f"{unit}{'s' if len(buckets) != 1 else ''}; the busiest {unit}, {busiest[0].strftime(fmt)}, has {busiest[1]:,}."
        ),
    }


# --- progress -------------------------------------------------------------------------------------


def progress_figures(purge, now=None):
    """Rate (messages per second) and seconds left of a run, from its own timestamps; None where
    they cannot be known yet."""
    now = now or timezone.now()
    figures = {"rate": None, "seconds_left": None, "elapsed": None}
    if purge.started_at is None:
        return figures
    end = purge.finished_at or (now if purge.state == State.RUNNING else purge.last_batch_at or now)
    elapsed = max((end - purge.started_at).total_seconds(), 0.0)
    figures["elapsed"] = elapsed
    if elapsed > 0 and purge.processed_messages:
        figures["rate"] = purge.processed_messages / elapsed
        left = max(purge.total_messages - purge.processed_messages, 0)
        if purge.state == State.RUNNING:
            figures["seconds_left"] = ceil(left / figures["rate"])
    return figures


def resumable(purge, user, now=None):
    """Whether `user` may resume `purge` now: the engine's rule (chatdata.purge.actions)."""
    return resume_refusal(purge, user, now) is None


def cancellable(purge, user):
    """Whether `user` may cancel `purge` now: the engine's rule (chatdata.purge.actions)."""
    return cancel_refusal(purge, user) is None
