"""Full-text search over message bodies on PostgreSQL (SQLite falls back to a LIKE scan).

The 'simple' configuration: bodies are in many languages, so no stemming. The expression must stay
exactly what `SearchVector("body", config="simple")` emits, or the planner will not use the index.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS msg_body_fts_idx ON chatdata_message "
    "USING gin (to_tsvector('simple'::regconfig, COALESCE(body, '')))"
)
DROP = "DROP INDEX IF EXISTS msg_body_fts_idx"


# Message external ids are only ever looked up by equality: the varchar_pattern_ops twin that
# Django adds to every unique CharField on PostgreSQL is pure write cost on the largest table.
FIND_LIKE_INDEX = (
    "SELECT indexname FROM pg_indexes WHERE tablename = 'chatdata_message' "
    "AND indexname LIKE 'chatdata_message_external_id_%%_like'"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FIND_LIKE_INDEX)
            for (name,) in cursor.fetchall():
                schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("chatdata", "0002_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
