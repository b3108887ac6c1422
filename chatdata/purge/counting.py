"""Counting many things in one statement: count_rows, and InScope, the counts over a scope's
messages that name the scope once (the preview's counts, chatdata.purge.preview)."""

from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connection

from chatdata.models import Attachment, Membership, MessageHide, PendingDelivery, Reaction


@dataclass(frozen=True)
class InScope:
    """What count_rows counts over the scope's messages, named once (a WITH query) however many
    counts read them: rows of `model` whose `column` is one of the scope's `of` values, or the
    scope's own rows when `model` is None; `distinct`: the distinct values of that column instead."""

    model: type | None = None
    column: str = "message_id"
    of: str = "id"
    distinct: str | None = None

    def sql(self, quote):
        counted = f"COUNT(DISTINCT {quote(self.distinct)})" if self.distinct else "COUNT(*)"
        if self.model is None:
            return f"(SELECT {counted} FROM scope)"
        table, column = quote(self.model._meta.db_table), quote(self.model._meta.get_field(self.column).column)
        if self.of == "id" and not self.distinct:
            # A join, not IN: the scope's ids are unique, so PostgreSQL need not de-duplicate them
            # first (a month of one conversation: 18 ms where IN took 70).
            return f"(SELECT {counted} FROM scope JOIN {table} AS counted ON counted.{column} = scope.{quote('id')})"
        return f"(SELECT {counted} FROM {table} WHERE {column} IN (SELECT {quote(self.of)} FROM scope))"


def count_rows(querysets, scope=None):
    """{key: the number of rows of querysets[key]}, as `.count()` would give each, by ONE
    statement (a scalar subquery per key in one SELECT): one round trip, on one snapshot. A value
    may be an InScope over `scope` (a Message queryset): the scope's SQL is then compiled once
    and PostgreSQL reads the scope once, however many counts are over it."""
    if not querysets:
        return {}
    quote = connection.ops.quote_name
    parts, params, with_scope = [], [], ""
    in_scope = scope is not None and any(isinstance(qs, InScope) for qs in querysets.values())
    if in_scope:
        try:
            scope_sql, scope_params = scope.order_by().values("id", "conversation_id").query.sql_with_params()
        except EmptyResultSet:
            in_scope = False
        else:
            materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
            with_scope = f"WITH scope AS {materialized}({scope_sql}) "
            params.extend(scope_params)
    for qs in querysets.values():
        if isinstance(qs, InScope):
            parts.append(qs.sql(quote) if in_scope else "0")
            continue
        qs = qs.order_by()
        if not qs.query.values_select and not qs.query.annotation_select:
            qs = qs.values("pk")
        try:
            sql, qs_params = qs.query.sql_with_params()
        except EmptyResultSet:  # .none(), an empty __in: what .count() answers without asking
            parts.append("0")
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS counted)")
        params.extend(qs_params)
    with connection.cursor() as cursor:
        cursor.execute(with_scope + "SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {key: int(value) for key, value in zip(querysets, row)}


# The counts of a delete over its scope's messages (count_rows).
SCOPE_MESSAGES = InScope()
SCOPE_CONVERSATIONS = InScope(distinct="conversation_id")
SCOPE_MEMBERS = InScope(Membership, column="conversation", of="conversation_id", distinct="user_id")
CHILD_COUNTS = {
    "attachments": InScope(Attachment, column="message"),
    "reactions": InScope(Reaction, column="message"),
    "hides": InScope(MessageHide, column="message"),
    "pending_deliveries": InScope(PendingDelivery, column="message"),
}
