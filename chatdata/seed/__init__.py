"""Deterministic, realistic demo chat data (`manage.py seed_demo`).

generator.py makes the rows from a SeedPlan; postgres.py loads them through COPY, orm.py through
bulk_create (SQLite); files.py writes the attachment files; reset.py empties chat data first.
"""

from django.db import connection

from chatdata.seed.generator import SeedPlan


def load(plan):
    """Load `plan` into the (empty) chat tables: (rows per model, attachment files, phase timings)."""
    if connection.vendor == "postgresql":
        from chatdata.seed import postgres

        return postgres.load(plan)
    from chatdata.seed import orm

    return orm.load(plan)


__all__ = ["SeedPlan", "load"]
