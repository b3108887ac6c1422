"""The audit log: append-only in the database, hash-chained, and checked by verify_audit.
(tests/test_audit_witness.py: the witness of the chain's head, and what it catches.)"""

import threading

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from chatdata.audit import GENESIS, entry_hash, verify_chain, write_audit
from chatdata.models import AuditEntry

pytestmark = pytest.mark.django_db


def write_three(actor):
    return [
        write_audit("purge.preview", actor=actor, target="conversation grp", scope={"kind": "conversation"}, counts={"messages": 3}, reason="spam"),
        write_audit("purge.start", actor=actor, target="conversation grp", purge_request=7, ip="192.0.2.4"),
        write_audit("purge.complete", actor=None, target="conversation grp", counts={"messages": 3}, reason="ünïcode ✓"),
    ]


def without_trigger():
    """The table owner can switch the triggers off (rolled back with the test's transaction)."""
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of the new rows must run first, or ALTER TABLE refuses.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE chatdata_auditentry DISABLE TRIGGER USER")


def plain_connection():
    """A connection of its own to the test database, outside Django and the test's transaction."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def test_it_chains_each_entry_to_the_one_before(moderator):
    persona = list(AuditEntry.objects.order_by("id"))  # mona's staff.created and staff.role_added
    first, second, third = write_three(moderator)
    assert persona[0].prev_hash == GENESIS and first.prev_hash == persona[-1].hash
    assert (second.prev_hash, third.prev_hash) == (first.hash, second.hash)
    assert (first.actor_name, first.role, third.actor_name, third.role) == ("mona", "moderator", "system", "system")
    stored = AuditEntry.objects.get(pk=second.pk)
    assert entry_hash(stored) == stored.hash  # recomputes from what the database gives back
    report = verify_chain().as_dict()
    assert {key: report[key] for key in ("ok", "checked", "first_bad_id", "problem")} == {
        "ok": True, "checked": len(persona) + 3, "first_bad_id": None, "problem": ""}


def test_it_refuses_updates_in_the_database(moderator):
    entry = write_three(moderator)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(reason="nothing to see")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE chatdata_auditentry SET actor_name = 'someone else'")
    assert AuditEntry.objects.get(pk=entry.pk).reason == "spam"


def test_it_refuses_deletes_in_the_database(moderator):
    persona = AuditEntry.objects.count()
    write_three(moderator)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.all()._raw_delete(AuditEntry.objects.db)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.order_by("id").first().delete()
    assert AuditEntry.objects.count() == persona + 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the roles come from a data migration
def test_it_refuses_update_delete_and_truncate_to_any_connection_even_in_replica_mode():
    entries = [write_audit("purge.preview", actor=None, target=f"conversation c{i}") for i in range(2)]
    with plain_connection() as other:
        for replica in (False, True):
            if replica:
                # What PURGE_SKIP_FK_TRIGGERS's grant lets a role do: ordinary triggers stop firing.
                other.execute("SET session_replication_role = replica")
            for statement in (
                "UPDATE chatdata_auditentry SET reason = 'nothing to see'",
                "DELETE FROM chatdata_auditentry WHERE id = %s" % entries[-1].pk,
                "TRUNCATE chatdata_auditentry",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    other.execute(statement)
    assert list(AuditEntry.objects.order_by("id")) == entries
    assert verify_chain().ok


def test_it_detects_an_altered_entry(moderator):
    persona = AuditEntry.objects.count()
    first, second, third = write_three(moderator)
    without_trigger()
    AuditEntry.objects.filter(pk=second.pk).update(counts={"messages": 1})
    report = verify_chain()
    assert (report.ok, report.checked, report.first_bad_id) == (False, persona + 1, second.pk)
    assert "altered" in report.problem


def test_it_detects_a_removed_entry(moderator):
    first, second, third = write_three(moderator)
    without_trigger()
    AuditEntry.objects.filter(pk=second.pk)._raw_delete(AuditEntry.objects.db)
    report = verify_chain()
    assert (report.ok, report.first_bad_id) == (False, third.pk)
    assert "removed or inserted" in report.problem


def test_it_detects_a_rewritten_entry_with_a_fresh_hash(moderator):
    first, second, third = write_three(moderator)
    without_trigger()
    forged = AuditEntry.objects.get(pk=second.pk)
    forged.reason = "approved by the board"
    forged.hash = entry_hash(forged)  # the forger recomputes this entry's hash, but not the chain after it
    forged.save()
    assert verify_chain().first_bad_id == third.pk


def test_it_rolls_back_with_the_change_it_records(moderator):
    with pytest.raises(RuntimeError), transaction.atomic():
        write_audit("hold.add", actor=moderator, target="user bob")
        raise RuntimeError("the change failed")
    assert not AuditEntry.objects.filter(action="hold.add").exists()


def test_verify_audit_reports_the_first_broken_entry(moderator, capsys):
    first, second, third = write_three(moderator)
    call_command("verify_audit")
    assert f"{AuditEntry.objects.count()} entries verified" in capsys.readouterr().out
    without_trigger()
    AuditEntry.objects.filter(pk=third.pk).update(actor_name="mallory")
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit", "--json")
    assert caught.value.returncode == 1
    assert f"entry #{third.pk}" in str(caught.value)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the roles come from a data migration
def test_it_keeps_the_chain_whole_under_concurrent_writers(moderator):
    errors = []

    def writer(n):
        try:
            for i in range(8):
                with transaction.atomic():
                    write_audit("purge.preview", actor=None, target=f"writer {n} entry {i}")
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = verify_chain()
    assert report.ok and report.checked == 32 + AuditEntry.objects.exclude(action="purge.preview").count()
