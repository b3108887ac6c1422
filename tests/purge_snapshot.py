"""Snapshots of every chat table and of stored files, for tests that compare states of the data.

A snapshot is {table: {pk: row}} where a row is the tuple of every concrete column, read with
plain SQL-backed `values_list` so nothing of the models' Python side is involved. Comparing two
snapshots says exactly which rows appeared, disappeared or changed.
"""

import hashlib
from pathlib import Path

from chatdata.models import (
    Attachment,
    ChatUser,
    Conversation,
    LegalHold,
    Membership,
    Message,
    MessageHide,
    PendingDelivery,
    Reaction,
    SyncEvent,
)

CHAT_MODELS = [ChatUser, Conversation, Membership, Message, MessageHide, Attachment, Reaction, PendingDelivery, SyncEvent, LegalHold]


def columns(model, *, skip=()):
    return [f.attname for f in model._meta.concrete_fields if f.attname not in skip]


def snapshot(*, skip=None):
    """{table: {pk: {column: value}}}; `skip` maps a model to columns left out (e.g. wall-clock times)."""
    skip = skip or {}
    state = {}
    for model in CHAT_MODELS:
        names = columns(model, skip=skip.get(model, ()))
        state[model._meta.db_table] = {
            row[0]: dict(zip(names, row, strict=True)) for row in model.objects.order_by("pk").values_list(*names)
        }
    return state


def stored_files(media_root):
    """{relative path: sha256} of every file under media_root."""
    root = Path(media_root)
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def diff(before, after):
    """{table: {"removed": pks, "added": pks, "changed": {pk: {column: (old, new)}}}}, empty tables left out."""
    out = {}
    for table in before.keys() | after.keys():
        old, new = before.get(table, {}), after.get(table, {})
        changed = {
            pk: {c: (old[pk][c], new[pk][c]) for c in old[pk] if old[pk][c] != new[pk].get(c)}
            for pk in old.keys() & new.keys()
            if old[pk] != new[pk]
        }
        entry = {"removed": sorted(old.keys() - new.keys()), "added": sorted(new.keys() - old.keys()), "changed": changed}
        if any(entry.values()):
            out[table] = entry
    return out
