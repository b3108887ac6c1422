"""Make the audit log append-only in the database itself (DESIGN.md invariant 4).

A trigger refuses every UPDATE and DELETE of chatdata_auditentry, whoever connects: the
application, the Django admin, or someone at a SQL prompt. Changing the log takes disabling the
trigger first (which needs the table owner's rights and still breaks the hash chain that
`manage.py verify_audit` checks). TRUNCATE is left alone on purpose: it needs the owner's rights too,
and the test runner empties tables with it between transactional tests. (Migration 0006 refuses it
after all, and makes both triggers fire in replica mode too; tests/conftest.py lets the test flush
through.)
"""

from django.db import migrations

PG_FORWARDS = [
    """
    CREATE OR REPLACE FUNCTION chatdata_auditentry_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'chatdata_auditentry is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER auditentry_append_only
    BEFORE UPDATE OR DELETE ON chatdata_auditentry
    FOR EACH ROW EXECUTE FUNCTION chatdata_auditentry_append_only()
    """,
]
PG_BACKWARDS = [
    "DROP TRIGGER IF EXISTS auditentry_append_only ON chatdata_auditentry",
    "DROP FUNCTION IF EXISTS chatdata_auditentry_append_only()",
]
SQLITE_FORWARDS = [
    """
    CREATE TRIGGER auditentry_no_update BEFORE UPDATE ON chatdata_auditentry
    BEGIN SELECT RAISE(ABORT, 'chatdata_auditentry is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER auditentry_no_delete BEFORE DELETE ON chatdata_auditentry
    BEGIN SELECT RAISE(ABORT, 'chatdata_auditentry is append-only: DELETE refused'); END
    """,
]
SQLITE_BACKWARDS = [
    "DROP TRIGGER IF EXISTS auditentry_no_update",
    "DROP TRIGGER IF EXISTS auditentry_no_delete",
]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement, params=None)


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, PG_FORWARDS)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_FORWARDS)
    else:
        raise NotImplementedError(f"no append-only trigger for {vendor}: chatsweep supports PostgreSQL and SQLite")


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, PG_BACKWARDS if vendor == "postgresql" else SQLITE_BACKWARDS)


class Migration(migrations.Migration):
    dependencies = [("chatdata", "0004_purge_compliance")]
    operations = [migrations.RunPython(forwards, backwards)]
