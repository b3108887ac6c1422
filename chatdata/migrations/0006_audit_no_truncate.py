"""Refuse TRUNCATE of the audit log too, and keep its triggers firing in replica mode
(DESIGN.md invariant 4).

Migration 0005 refused UPDATE and DELETE row by row; TRUNCATE fires no row trigger, so one
statement could empty the log. A statement-level BEFORE TRUNCATE trigger now refuses it with the
same function and message.

Both triggers are ENABLE ALWAYS. An ordinary trigger does not fire while a session runs with
`session_replication_role = replica`, and PURGE_SKIP_FK_TRIGGERS asks exactly that grant of the
application's role (a superuser, or `GRANT SET ON PARAMETER session_replication_role`): with
ordinary triggers that role could rewrite the audit log with one SET. ALWAYS triggers fire in
every mode. What still switches them off is `ALTER TABLE ... DISABLE TRIGGER` or `DROP TRIGGER`,
which takes the table's owner (the role that ran `migrate`) or a superuser; what such a role then
does to the log shows in `manage.py verify_audit`: edits and removals inside the chain by its
hashes, a cut tail, a re-hashed newest entry or an emptied table by the witness of the chain's
head (chatdata.witness). README "The audit log" says which roles to run with.

SQLite has no TRUNCATE (`DELETE` without WHERE still fires 0005's trigger) and no replication
role: nothing to do there.
"""

from django.db import migrations

PG_FORWARDS = [
    """
    CREATE TRIGGER auditentry_no_truncate
    BEFORE TRUNCATE ON chatdata_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION chatdata_auditentry_append_only()
    """,
    "ALTER TABLE chatdata_auditentry ENABLE ALWAYS TRIGGER auditentry_append_only",
    "ALTER TABLE chatdata_auditentry ENABLE ALWAYS TRIGGER auditentry_no_truncate",
]
PG_BACKWARDS = [
    "DROP TRIGGER IF EXISTS auditentry_no_truncate ON chatdata_auditentry",
    "ALTER TABLE chatdata_auditentry ENABLE TRIGGER auditentry_append_only",
]


def _run(schema_editor, statements):
    if schema_editor.connection.vendor == "postgresql":
        for statement in statements:
            schema_editor.execute(statement, params=None)


def forwards(apps, schema_editor):
    _run(schema_editor, PG_FORWARDS)


def backwards(apps, schema_editor):
    _run(schema_editor, PG_BACKWARDS)


class Migration(migrations.Migration):
    dependencies = [("chatdata", "0005_audit_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
