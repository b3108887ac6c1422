"""Strategy (c) of bench/purge.py, run in its own process so its peak memory is its own.

    python bench/_django_delete.py --cascade db|python --conversation ID --max-id N

`db`: `Message.objects.filter(...).delete()` on chatsweep's models as they are, whose children
use `on_delete=DB_CASCADE`: Django skips collection and sends one DELETE, the database cascades.
`python`: the same call on a stock Django app, whose foreign keys use the default
`on_delete=CASCADE`: Django loads every message, collects and deletes the children itself. The
models' DB_CASCADE is switched to CASCADE in this process only (the database constraints stay as
they are; they find nothing left to cascade).
Prints one JSON object: seconds, rows deleted per model, peak memory (ru_maxrss).
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cascade", choices=["db", "python"], required=True)
    parser.add_argument("--conversation", type=int, required=True)
    parser.add_argument("--max-id", type=int, required=True)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import models, transaction

    from chatdata.models import Message

    if args.cascade == "python":
        for relation in Message._meta.related_objects:
            if relation.on_delete is models.DB_CASCADE:
                relation.field.remote_field.on_delete = models.CASCADE
                relation.on_delete = models.CASCADE
    started = time.monotonic()
    with transaction.atomic():
        total, per_model = Message.objects.filter(conversation_id=args.conversation, id__lte=args.max_id).delete()
    seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 3), "deleted": per_model, "peak_mb": round(peak_mb, 1)}))


if __name__ == "__main__":
    main()
