"""Tombstones: a journal of rows not yet indexed (issue 13, bench/purge).

A purge batch used to insert its 6,000 keys into the GIN index inside its transaction: a tree
descent and a WAL record per key into an index of random keys that grows with every purge, and
after each checkpoint a full-page image of nearly every leaf it touches (measured with 2.2 million
keys stored: 41 MB of WAL for a 200,000-message purge whose deletes wrote 26 MB; the first batch's
insert 250 ms). Rows now arrive with `indexed = false`, outside the (now partial) GIN index, and
chatdata.erasure.tombstones.fold_journal indexes them one row per transaction after the run.
Existing rows stay indexed: the index is rebuilt `WHERE indexed`, with everything in it.
"""

from django.db import migrations, models


def partial_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS tombstone_keys_idx")
        schema_editor.execute(
            "CREATE INDEX tombstone_keys_idx ON chatdata_tombstone USING gin (keys jsonb_path_ops) "
            "WITH (fastupdate = off) WHERE indexed"
        )


def full_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS tombstone_keys_idx")
        schema_editor.execute(
            "CREATE INDEX tombstone_keys_idx ON chatdata_tombstone USING gin (keys jsonb_path_ops) WITH (fastupdate = off)"
        )


class Migration(migrations.Migration):

    dependencies = [
        ("chatdata", "0013_notices"),
    ]

    operations = [
        migrations.AddField(
            model_name="tombstone",
            name="indexed",
            field=models.BooleanField(default=True),
        ),
        migrations.AddIndex(
            model_name="tombstone",
            index=models.Index(condition=models.Q(("indexed", False)), fields=["id"], name="tombstone_journal_idx"),
        ),
        migrations.RunPython(partial_index, full_index),
    ]
