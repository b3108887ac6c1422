"""Counts that stay fast on a million messages.

An exact COUNT(*) reads every row, or every index entry plus the heap wherever the visibility map
is not yet set (a freshly loaded table): 60 ms for the 140,000 messages of one big room here. So:
- the home page reads the planner's own estimate of each big table, pg_class.reltuples scaled by
  the table's current size in pages (what the planner itself does, so rows added since the last
  ANALYZE count too), and labels it "about";
- a count about one object (a conversation's messages, a user's) counts exactly up to a small cap
  and, past it, asks the planner how many rows it expects (EXPLAIN, from the column statistics),
  again labelled "about"; without an estimate (SQLite) it says "10,000+".
Small tables, tables never analysed, and SQLite get exact counts: there they are cheap, or no
estimate exists.
"""

import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from chatdata.models import (
    Attachment,
    ChatUser,
    Conversation,
    Membership,
    Message,
    MessageHide,
    PendingDelivery,
    Reaction,
)

# Below this many (estimated) rows an exact count of a whole table takes a few milliseconds.
EXACT_BELOW = 50_000
# Counts about one object are exact up to here.
OBJECT_COUNT_CAP = 10_000

COUNTED_TABLES = (
    ("users", "Chat users", ChatUser),
    ("conversations", "Conversations", Conversation),
    ("memberships", "Memberships", Membership),
    ("messages", "Messages", Message),
    ("attachments", "Attachments", Attachment),
    ("reactions", "Reactions", Reaction),
    ("hides", "Messages hidden for one member", MessageHide),
    ("pending", "Pending deliveries", PendingDelivery),
)

ESTIMATE_SQL = """
    SELECT c.relname,
           c.reltuples,
           c.relpages,
           pg_relation_size(c.oid) / current_setting('block_size')::bigint
    FROM pg_class c
    WHERE c.oid = ANY(%s::regclass[])
"""


@dataclass(frozen=True)
class Tally:
    value: int
    estimated: bool = False  # the planner's estimate: shown as "about N"
    capped: bool = False  # a bounded count stopped at its cap: shown as "N+"


@dataclass(frozen=True)
class TableCount:
    key: str
    label: str
    tally: Tally


def _table_estimates(tables):
    """{table: estimated rows, or None when PostgreSQL has no estimate yet}."""
    with connection.cursor() as cursor:
        cursor.execute(ESTIMATE_SQL, [list(tables)])
        rows = cursor.fetchall()
    estimates = {}
    for name, reltuples, relpages, pages_now in rows:
        if pages_now == 0:
            estimates[name] = 0
        elif reltuples < 0 or relpages == 0:
            estimates[name] = None  # never vacuumed or analysed
        else:
            estimates[name] = round(reltuples / relpages * pages_now)
    return estimates


def table_counts(*, exact_below: int = EXACT_BELOW) -> list[TableCount]:
    """Row counts of the chat tables for the home page: exact where cheap, estimated where not."""
    tables = {model._meta.db_table: (key, label, model) for key, label, model in COUNTED_TABLES}
    postgres = connection.vendor == "postgresql"
    estimates = _table_estimates(tables) if postgres else {}
    counts = []
    for table, (key, label, model) in tables.items():
        estimate = estimates.get(table)
        if estimate is not None and estimate >= exact_below:
            tally = Tally(estimate, estimated=True)
        elif postgres:
            # No usable estimate: count exactly, but never past the point where it gets slow.
            tally = bounded_count(model.objects.all(), exact_below)
        else:
            tally = Tally(model.objects.count())
        counts.append(TableCount(key, label, tally))
    return counts


def bounded_count(queryset, cap: int, column: str = "pk") -> Tally:
    """Count rows up to `cap`. Pass a `column` the query's index covers, so that PostgreSQL can
    answer from the index alone once the table is vacuumed."""
    value = queryset.order_by().values(column)[: cap + 1].count()
    return Tally(cap, capped=True) if value > cap else Tally(value)


def planner_estimate(queryset) -> int | None:
    """How many rows PostgreSQL expects `queryset` to return (None elsewhere)."""
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def count_or_estimate(queryset, *, cap: int = OBJECT_COUNT_CAP, column: str = "pk", at_least: int = 0) -> Tally:
    """Exact up to `cap` (skipped when the caller already knows there are `at_least` > cap rows),
    then the planner's estimate if it is above the cap, else "cap+"."""
    if at_least < cap:
        tally = bounded_count(queryset, cap, column)
        if not tally.capped:
            return tally
    floor = max(cap, at_least)
    estimate = planner_estimate(queryset)
    if estimate is not None and estimate > floor:
        return Tally(estimate, estimated=True)
    return Tally(floor, capped=True)


def count_of(model, field: str):
    """An annotation counting `model` rows whose `field` points at the outer row: one correlated
    subquery per row, answered from the index that leads with `field`."""
    rows = model.objects.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))
