"""Loading the demo data through the ORM (SQLite, the local default): bulk_create in chunks.

One transaction; foreign keys are deferred to commit on SQLite as on PostgreSQL, so the chunks of
different tables may arrive in any order. bulk_create fills auto_now_add fields with the wall clock,
which would make two seeds differ: those fields are written again with the generated values.
"""

import json
import time
from datetime import timedelta

from django.db import transaction

from chatdata.models import Attachment
from chatdata.seed.files import stored_attachments
from chatdata.seed.generator import COLUMNS, EPOCH, DemoData

CHUNK = 2_000


def _converter(model):
    columns = COLUMNS[model]
    steps = []
    for column in columns:
        kind = next(f for f in model._meta.concrete_fields if f.attname == column).get_internal_type()
        if kind == "DateTimeField":
            steps.append(lambda ms: None if ms is None else EPOCH + timedelta(milliseconds=ms))
        elif kind == "JSONField":
            steps.append(json.loads)
        else:
            steps.append(None)
    return lambda row: model(**{c: (v if step is None else step(v)) for c, step, v in zip(columns, steps, row)})


class _Chunks:
    def __init__(self, model):
        self.model, self.build, self.objects, self.rows = model, _converter(model), [], 0
        self.clock_fields = [f.attname for f in model._meta.concrete_fields if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False)]

    def add(self, row):
        self.objects.append(self.build(row))
        if len(self.objects) >= CHUNK:
            self.flush()

    def flush(self):
        if not self.objects:
            return
        wanted = [[getattr(obj, name) for name in self.clock_fields] for obj in self.objects]
        self.model.objects.bulk_create(self.objects, batch_size=CHUNK)
        if self.clock_fields:
            for obj, values in zip(self.objects, wanted):
                for name, value in zip(self.clock_fields, values):
                    setattr(obj, name, value)
            self.model.objects.bulk_update(self.objects, self.clock_fields, batch_size=CHUNK)
        self.rows += len(self.objects)
        self.objects = []


def load(plan):
    started = time.perf_counter()
    with transaction.atomic(), stored_attachments() as files:
        chunks = {model: _Chunks(model) for model in COLUMNS}
        emit = {model: chunk.add for model, chunk in chunks.items()}
        emit[Attachment] = lambda row: chunks[Attachment].add(files.store(row))
        DemoData(plan).generate(emit)
        for chunk in chunks.values():
            chunk.flush()
        files.fix_renamed_rows()
    return {model: chunk.rows for model, chunk in chunks.items()}, files, {"generate + insert": time.perf_counter() - started}
