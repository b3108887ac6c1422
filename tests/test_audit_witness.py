"""The witness of the audit chain's head (chatdata.witness): written after every commit that
appended entries, every minute, and with every export; compared by verify_chain, verify_audit
and the web, so that cutting the tail, re-hashing the newest entry or emptying the table shows.

Tampering here is what an attacker with the table owner's rights does: switch the triggers off
(tests.test_audit.without_trigger, rolled back with the test's transaction) and rewrite rows.
"""

import json
import logging

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from chatdata.audit import entry_hash, verify_chain, write_audit
from chatdata.models import AuditEntry
from tests.conftest import WITNESS_REDIS_KEY
from tests.test_audit import without_trigger

pytestmark = pytest.mark.django_db


@pytest.fixture
def witnessed(django_capture_on_commit_callbacks):
    """Writes `n` entries, each in a transaction of its own that commits (as the app's are)."""

    def write(n, start=0):
        entries = []
        for i in range(start, start + n):
            with django_capture_on_commit_callbacks(execute=True):
                entries.append(write_audit("purge.preview", actor=None, target=f"conversation c{i}", reason=f"spam {i}"))
        return entries

    return write


def file_records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def redis_records():
    return [json.loads(raw) for raw in django_rq.get_connection("default").lrange(WITNESS_REDIS_KEY, 0, -1)]


def cut_after(entry):
    without_trigger()
    AuditEntry.objects.filter(pk__gt=entry.pk)._raw_delete(AuditEntry.objects.db)


# --- writing the witness ----------------------------------------------------------------------------


def test_it_witnesses_the_head_after_every_commit(witnessed, audit_witness):
    entries = witnessed(3)
    records = file_records(audit_witness)
    assert [(r["id"], r["hash"], r["reason"]) for r in records] == [(e.pk, e.hash, "commit") for e in entries]
    assert all(r["at"].endswith("+00:00") for r in records)
    # The Redis copy holds the same, newest first.
    assert [(r["id"], r["hash"]) for r in redis_records()] == [(e.pk, e.hash) for e in reversed(entries)]


def test_it_witnesses_a_transaction_once_however_many_entries_it_wrote(django_capture_on_commit_callbacks, audit_witness):
    with django_capture_on_commit_callbacks(execute=True):
        write_audit("purge.preview", actor=None, target="a")
        last = write_audit("purge.start", actor=None, target="a")
    assert [(r["id"], r["hash"]) for r in file_records(audit_witness)] == [(last.pk, last.hash)]


def test_the_minute_job_witnesses_the_head_even_when_idle(audit_witness, redis_conn):
    from rq.cron import CronScheduler

    from chatdata.witness import witness_job

    entries = [write_audit("purge.preview", actor=None, target=f"c{i}") for i in range(2)]  # never committed: no witness
    assert not audit_witness.exists()
    witness_job()
    witness_job()  # nothing new: the head is witnessed again, a minute later
    assert [(r["id"], r["hash"], r["reason"]) for r in file_records(audit_witness)] == [(entries[-1].pk, entries[-1].hash, "minute")] * 2
    assert len(redis_records()) == 2

    scheduler = CronScheduler(connection=redis_conn)
    scheduler.load_config_from_file("chatdata.cron")  # what `manage.py rqcron chatdata.cron` runs
    (job,) = scheduler.get_jobs()
    assert job.func is witness_job and job.interval <= 60


def test_a_failed_witness_never_fails_the_action(django_capture_on_commit_callbacks, settings, tmp_path, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.AUDIT_WITNESS_FILE = blocker / "audit-witness.jsonl"
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        entry = write_audit("hold.add", actor=None, target="user bob")
    assert AuditEntry.objects.get().pk == entry.pk
    assert f"could not write the audit witness file {settings.AUDIT_WITNESS_FILE}" in caplog.text
    assert [r["id"] for r in redis_records()] == [entry.pk]  # the other witness still took it


def test_the_certificate_witnesses_only_committed_entries(audit_witness):
    from chatdata.witness import witness_head

    with pytest.raises(RuntimeError), transaction.atomic():
        write_audit("purge.complete", actor=None, target="erasure 7")
        witness_head("certificate")  # the entry above may still roll back
    assert not audit_witness.exists()
    entry = write_audit("purge.complete", actor=None, target="erasure 7")  # committed, as far as this test can tell
    record = witness_head("certificate")
    assert (record.id, record.hash, record.reason) == (entry.pk, entry.hash, "certificate")
    assert record.source == f"the audit witness file {audit_witness} and Redis (key {WITNESS_REDIS_KEY})"
    assert file_records(audit_witness)[-1]["reason"] == "certificate"


def test_a_record_cut_short_by_a_crash_does_not_swallow_the_next(witnessed, audit_witness):
    audit_witness.write_text('{"at":"2026-12-05T10:31:02+00:00","id":')
    (entry,) = witnessed(1)
    lines = audit_witness.read_text().splitlines()
    assert len(lines) == 2 and (json.loads(lines[1])["id"], json.loads(lines[1])["hash"]) == (entry.pk, entry.hash)
    assert verify_chain().witness.status == "confirmed"


def test_the_newest_witness_is_the_highest_id_whatever_the_line_order(witnessed, audit_witness):
    first, second = witnessed(2)
    # Two processes that committed one after the other may append their lines the other way round.
    audit_witness.write_text("".join(reversed(audit_witness.read_text().splitlines(keepends=True))))
    cut_after(first)
    report = verify_chain()
    assert not report.ok and f"entry #{second.pk} is missing" in report.problem


# --- what verification finds ------------------------------------------------------------------------


def test_it_names_the_entries_cut_from_the_tail(witnessed):
    entries = witnessed(6)
    cut_after(entries[2])
    report = verify_chain()
    assert (report.ok, report.first_bad_id) == (False, entries[3].pk)
    assert f"entries #{entries[3].pk} to #{entries[5].pk} are missing" in report.problem
    assert f"saw the chain up to #{entries[5].pk} with hash {entries[5].hash[:16]}" in report.problem
    assert report.as_dict()["witness"]["status"] == "contradicted"


def test_an_entry_appended_after_the_cut_does_not_hide_it(witnessed, audit_witness, caplog):
    from chatdata.witness import WitnessRefused, witness_job

    entries = witnessed(4)
    cut_after(entries[1])
    with caplog.at_level(logging.ERROR):
        (later,) = witnessed(1, start=4)
    assert later.prev_hash == entries[1].hash  # the chain itself is whole again
    # The witness does not follow a chain that lost what it saw: it keeps #4 as the newest.
    assert max(r["id"] for r in file_records(audit_witness)) == entries[3].pk
    assert f"not witnessing the audit chain: entries #{entries[2].pk} to #{entries[3].pk} are missing" in caplog.text
    with pytest.raises(WitnessRefused, match=f"entries #{entries[2].pk} to #{entries[3].pk} are missing"):
        witness_job()  # nor does the minute job: it fails, for the RQ dashboard to show
    report = verify_chain()
    assert not report.ok and f"entries #{entries[2].pk} to #{entries[3].pk} are missing" in report.problem
    assert report.checked == 3


def test_it_detects_a_rehashed_newest_entry(witnessed):
    entries = witnessed(3)
    without_trigger()
    forged = AuditEntry.objects.get(pk=entries[-1].pk)
    forged.reason = "approved by the board"
    forged.hash = entry_hash(forged)  # consistent in itself: only the witness knows better
    forged.save()
    report = verify_chain()
    assert (report.ok, report.first_bad_id) == (False, forged.pk)
    assert f"entry #{forged.pk}'s hash differs from the witness" in report.problem


def test_it_detects_a_table_emptied_with_the_triggers_off(witnessed):
    entries = witnessed(3)
    without_trigger()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE chatdata_auditentry")
    report = verify_chain()
    assert not report.ok and report.checked == 0
    assert f"the audit log is empty, but the newest witness" in report.problem
    assert f"every entry up to #{entries[-1].pk} is missing" in report.problem


def test_the_redis_copy_still_tells_when_the_file_is_gone(witnessed, audit_witness):
    entries = witnessed(3)
    audit_witness.unlink()
    cut_after(entries[0])
    report = verify_chain()
    assert not report.ok and f"entries #{entries[1].pk} to #{entries[2].pk} are missing" in report.problem
    assert "Redis" in report.problem


def test_it_confirms_the_chain_against_the_witness(witnessed):
    entries = witnessed(2)
    write_audit("purge.preview", actor=None, target="not committed yet")  # newer than the witness: fine
    report = verify_chain()
    assert report.ok and report.checked == 3
    witness = report.as_dict()["witness"]
    assert witness["status"] == "confirmed"
    assert (witness["id"], witness["hash"]) == (entries[-1].pk, entries[-1].hash)
    assert f"reaches the newest witness: entry #{entries[-1].pk}" in witness["message"]


def test_it_warns_when_there_is_no_witness_yet(capsys):
    write_audit("purge.preview", actor=None, target="c1")
    report = verify_chain()
    assert report.ok
    assert report.as_dict()["witness"]["status"] == "absent"
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert "Audit chain intact: 1 entries verified." in out
    assert "Warning: no witness of the chain's head exists yet" in out


def test_it_says_when_the_witness_cannot_be_read(witnessed, audit_witness, capsys):
    witnessed(1)
    audit_witness.write_text("this is not a witness\n")
    django_rq.get_connection("default").delete(WITNESS_REDIS_KEY)
    report = verify_chain()
    witness = report.as_dict()["witness"]
    assert witness["status"] == "unreadable"
    assert f"the audit witness file {audit_witness} could not be read" in witness["message"]
    call_command("verify_audit")
    assert "could not be read" in capsys.readouterr().out


def test_verify_audit_names_what_is_missing_with_exit_status_1(witnessed, capsys):
    entries = witnessed(4)
    call_command("verify_audit")
    assert f"the chain reaches the newest witness: entry #{entries[-1].pk}" in capsys.readouterr().out
    cut_after(entries[1])
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit", "--json")
    assert caught.value.returncode == 1
    assert f"entries #{entries[2].pk} to #{entries[3].pk} are missing" in str(caught.value)
    shown = json.loads(capsys.readouterr().out)
    assert (shown["ok"], shown["checked"], shown["first_bad_id"]) == (False, 2, entries[2].pk)
    assert (shown["witness"]["status"], shown["witness"]["id"]) == ("contradicted", entries[3].pk)
