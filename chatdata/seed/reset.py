"""Is there chat data already, and emptying it for `seed_demo --reset`.

Only chat data goes: the chat tables and the attachment files they name. Staff accounts, audit
entries and everything else stay. If some other table (a legal hold, say) still refers to chat rows,
the reset refuses instead of deleting them along or leaving dangling references.
"""

from django.apps import apps
from django.core.files.storage import default_storage
from django.core.management.color import no_style
from django.db import connection, transaction

from chatdata.models import Attachment, ChatUser, Conversation, Membership, Message, MessageHide, PendingDelivery, Reaction, SyncEvent

# Children first, so the DELETE fallback never trips a foreign key.
CHAT_MODELS = (PendingDelivery, Reaction, MessageHide, Attachment, SyncEvent, Message, Membership, Conversation, ChatUser)


# TRUNCATE refuses tables with deferred foreign-key checks still pending, which happens when the
# transaction already wrote chat rows (only ever inside an enclosing one, as in tests): run those
# checks first, and defer again afterwards, as Django's constraints expect.
RUN_PENDING_CHECKS = ("SET CONSTRAINTS ALL IMMEDIATE",)
DEFER_CHECKS = ("SET CONSTRAINTS ALL DEFERRED",)


def chat_row_counts():
    return {model: model._base_manager.count() for model in CHAT_MODELS}


def has_chat_data():
    return any(model._base_manager.exists() for model in CHAT_MODELS)


def _outside_references():
    """(model, field) pairs of other tables whose foreign keys point at chat tables."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model in CHAT_MODELS:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model in CHAT_MODELS:
                found.append((model, field))
    return found


def reset_blockers():
    """Human-readable reasons the chat data cannot be emptied (empty when it can)."""
    blockers = []
    for model, field in _outside_references():
        count = model._base_manager.filter(**{f"{field.name}__isnull": False}).count()
        if count:
            blockers.append(f"{model._meta.verbose_name_plural} ({model._meta.label}.{field.name}): {count}")
    return blockers


def truncatable(models):
    """The part of `models` that one TRUNCATE may empty: PostgreSQL refuses to truncate a table
    that another table's foreign key points at (even an empty one) unless that table goes too."""
    references = [
        (model, field.related_model)
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is not None
    ]
    chosen = set(models)
    while blocked := {target for source, target in references if target in chosen and source not in chosen}:
        chosen -= blocked
    return chosen


def reset_chat_data():
    """Empty every chat table (ids restart at 1) and delete the attachment files; return the old counts.

    On PostgreSQL the message-side tables are TRUNCATEd (instant at any size); the few small tables
    that other tables point at (legal holds point at users and conversations) are emptied with DELETE.
    """
    counts = chat_row_counts()
    files = list(Attachment._base_manager.exclude(file="").values_list("file", flat=True).iterator())
    ops, style = connection.ops, no_style()
    fast = truncatable(CHAT_MODELS) if connection.vendor == "postgresql" else set()
    truncate = [model._meta.db_table for model in CHAT_MODELS if model in fast]
    delete = [model._meta.db_table for model in CHAT_MODELS if model not in fast]
    statements = ops.sql_flush(style, truncate, reset_sequences=True) if truncate else []
    statements += [f"DELETE FROM {ops.quote_name(table)}" for table in delete]
    statements += ops.sequence_reset_by_name_sql(style, [{"table": table, "column": "id"} for table in delete])
    if truncate:
        statements = [*RUN_PENDING_CHECKS, *statements, *DEFER_CHECKS]
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    if delete and connection.vendor == "postgresql" and not connection.in_atomic_block:
        # DELETE leaves each old row behind as a dead tuple until a vacuum: seeding again and
        # again would grow these tables (and slow every scan of them) without bound. Vacuumed
        # while empty, they also give their pages back.
        with connection.cursor() as cursor:
            for table in delete:
                cursor.execute(f"VACUUM {ops.quote_name(table)}")
    # After the rows are gone, never before: a failed reset must not leave rows without files.
    for name in files:
        default_storage.delete(name)
    return counts
