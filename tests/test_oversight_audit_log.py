"""The audit log page: filters, keyset paging, the CSV and JSON Lines exports (each audited, each
witnessing the chain's head), and the chain's status against its witness."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from chatdata.audit import write_audit
from chatdata.models import AuditEntry
from tests.test_audit import without_trigger

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def log(moderator, compliance, monkeypatch):
    """Entries on three days: mona's previews, cleo's holds, a system completion."""
    days = {1: datetime(2026, 5, 1, 9, tzinfo=UTC), 2: datetime(2026, 5, 2, 9, tzinfo=UTC), 3: datetime(2026, 5, 3, 9, tzinfo=UTC)}
    written = []
    for day, moment in days.items():
        monkeypatch.setattr(timezone, "now", lambda moment=moment: moment)
        written += [
            write_audit("purge.preview", actor=moderator, target=f"conversation g-{day}", purge_request=day, reason=f"spam {day}"),
            write_audit("hold.add", actor=compliance, target=f"user u-{day}", reason=f"=HYPERLINK(\"x\") case {day}"),
            write_audit("purge.complete", actor=None, target=f"conversation g-{day}", counts={"messages": day}),
        ]
    monkeypatch.undo()
    return written


def listed_ids(response):
    import re

    return [int(i) for i in re.findall(r'<tr id="entry-(\d+)"', response.content.decode())]


def test_it_filters_the_audit_log_by_several_things_at_once(client, auditor, log):
    client.force_login(auditor)
    url = reverse("audit:log")
    everything = listed_ids(client.get(url))
    assert everything == list(AuditEntry.objects.order_by("-id").values_list("id", flat=True))
    # The newest is the auditor's own login; the oldest are the personas' staff.created and role_added.
    assert everything[1 : len(log) + 1] == [e.pk for e in reversed(log)]
    by_actor = client.get(url, {"actor": "MONA"})
    assert listed_ids(by_actor) == [e.pk for e in reversed(log) if e.actor_name == "mona"]
    system_day_2 = client.get(url, {"actor": "system", "since": "2026-05-02", "until": "2026-05-02"})
    assert listed_ids(system_day_2) == [log[5].pk]
    holds_from_2 = client.get(url, {"action": "hold.*", "since": "2026-05-02"})
    assert listed_ids(holds_from_2) == [log[7].pk, log[4].pk]
    target = client.get(url, {"target": "g-3", "action": "purge.complete"})
    assert listed_ids(target) == [log[8].pk]
    request_trail = client.get(url, {"request": "2"})
    assert listed_ids(request_trail) == [log[3].pk]


@pytest.mark.parametrize(("query", "error"), [
    ({"actor": "nobody"}, "No staff account is named “nobody”."),
    ({"since": "2026-13-01"}, "“2026-13-01” is not a date"),
    ({"since": "2026-05-03", "until": "2026-05-01"}, "The end date is before the start date."),
    ({"action": "purge.everything"}, "Select a valid choice."),
    ({"after": "x"}, "This page link is out of date or damaged."),
])
def test_it_explains_a_bad_audit_filter(client, auditor, log, query, error):
    client.force_login(auditor)
    response = client.get(reverse("audit:log"), query)
    assert response.status_code == 400 and error in response.content.decode()
    assert listed_ids(response) == []


def test_it_pages_the_audit_log_newest_first_by_keyset(client, auditor, moderator):
    entries = [write_audit("purge.preview", actor=moderator, target=f"conversation c{i}") for i in range(120)]
    client.force_login(auditor)
    seen, url = [], reverse("audit:log") + "?action=purge.preview"
    for _ in range(3):
        response = client.get(url)
        seen += listed_ids(response)
        next_link = response.context["cursor"]
        if next_link is None:
            break
        url = reverse("audit:log") + f"?action=purge.preview&after={next_link}"
    assert seen == [e.pk for e in reversed(entries)]
    assert len(listed_ids(client.get(reverse("audit:log")))) == 50


def exported(client, fmt, **filters):
    response = client.post(reverse(f"audit:export_{fmt}"), filters)
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content).decode("utf-8")
    return response, body


def test_it_exports_the_filtered_log_as_csv(client, compliance, log):
    client.force_login(compliance)
    response, body = exported(client, "csv", action="hold.add", since="2026-05-02")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="chatsweep-audit-')
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert [int(r["id"]) for r in rows] == [log[4].pk, log[7].pk]  # oldest first
    first = rows[0]
    assert (first["actor"], first["role"], first["action"], first["target"]) == ("cleo", "compliance", "hold.add", "user u-2")
    assert first["reason"] == "'=HYPERLINK(\"x\") case 2"  # a spreadsheet must not run it
    assert first["hash"] == log[4].hash and first["prev_hash"] == log[3].hash
    assert datetime.fromisoformat(first["created_at"]) == datetime(2026, 5, 2, 9, tzinfo=UTC)


def test_it_exports_the_filtered_log_as_json_lines(client, compliance, log):
    client.force_login(compliance)
    response, body = exported(client, "jsonl", actor="system", until="2026-05-03")  # not the personas' creation
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    documents = [json.loads(line) for line in body.splitlines()]
    assert [d["id"] for d in documents] == [log[2].pk, log[5].pk, log[8].pk]
    assert [d["counts"] for d in documents] == [{"messages": 1}, {"messages": 2}, {"messages": 3}]
    assert documents[0]["actor"] == "system" and documents[0]["actor_id"] is None
    _, body = exported(client, "jsonl", action="hold.add", until="2026-05-01")
    assert json.loads(body)["reason"] == "=HYPERLINK(\"x\") case 1"  # exact in JSON


def test_it_audits_each_export_and_leaves_itself_out(client, compliance, log):
    client.force_login(compliance)
    before = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))  # the log and cleo's login
    _, body = exported(client, "jsonl")
    entry = AuditEntry.objects.order_by("-id").first()
    assert (entry.action, entry.actor, entry.ip) == ("audit.export", compliance, "127.0.0.1")
    assert entry.counts == {"entries": len(before)} and entry.scope == {"format": "jsonl", "filters": {}, "up_to_id": before[-1]}
    assert [json.loads(line)["id"] for line in body.splitlines()] == before
    exported(client, "csv", actor="mona", action="purge.*", since="2026-05-02")
    entry = AuditEntry.objects.order_by("-id").first()
    assert entry.counts == {"entries": 2}
    assert entry.scope["filters"] == {"actor": "mona", "action": "purge.*", "since": "2026-05-02"}


def test_it_refuses_an_export_with_bad_filters_and_audits_nothing(client, compliance, log):
    client.force_login(compliance)
    response = client.post(reverse("audit:export_csv"), {"since": "soon"})
    assert response.status_code == 400 and "“soon” is not a date" in response.content.decode()
    assert not AuditEntry.objects.filter(action="audit.export").exists()


def test_it_offers_the_export_only_to_those_who_may(client, auditor, compliance, log):
    client.force_login(auditor)
    page = client.get(reverse("audit:log")).content.decode()
    assert "Export CSV" not in page and reverse("audit:export_csv") not in page
    assert client.post(reverse("audit:export_csv")).status_code == 403
    client.force_login(compliance)
    page = client.get(reverse("audit:log"), {"actor": "mona"}).content.decode()
    assert 'action="/audit/export.csv"' in page and '<input type="hidden" name="actor" value="mona">' in page


def test_it_shows_the_chain_status_and_verifies_the_whole_chain(client, auditor, log):
    client.force_login(auditor)
    # force_login wrote an auth.login entry; the personas' creation wrote theirs.
    total = AuditEntry.objects.count()
    assert f"The newest {total} entries each match their hash" in client.get(reverse("audit:log")).content.decode()
    assert f"All {total} entries verified." in client.get(reverse("audit:verify")).content.decode()
    without_trigger()
    AuditEntry.objects.filter(pk=log[4].pk).update(reason="nothing to see")
    assert f"Entry #{log[4].pk} was altered" in client.get(reverse("audit:log")).content.decode()
    page = client.get(reverse("audit:verify")).content.decode()
    good = AuditEntry.objects.filter(pk__lt=log[4].pk).count()
    assert f"Entry #{log[4].pk} was altered" in page and f"{good} entries before it are good" in page


def test_it_compares_the_chain_with_its_witness_on_both_pages(client, auditor, log, django_capture_on_commit_callbacks):
    client.force_login(auditor)
    page = client.get(reverse("audit:log")).content.decode()
    assert "chain intact" in page and "No witness of the chain&#x27;s head exists yet" in page
    with django_capture_on_commit_callbacks(execute=True):
        newest = write_audit("hold.release", actor=None, target="user u-3")
    page = client.get(reverse("audit:log")).content.decode()
    assert f"The chain reaches the newest witness: entry #{newest.pk}" in page
    assert f"reaches the newest witness: entry #{newest.pk}" in client.get(reverse("audit:verify")).content.decode()
    without_trigger()
    AuditEntry.objects.filter(pk__gt=log[6].pk)._raw_delete(AuditEntry.objects.db)
    missing = f"Entries #{log[7].pk} to #{newest.pk} are missing: the newest witness"
    page = client.get(reverse("audit:log")).content.decode()
    assert "chain broken" in page and missing in page
    page = client.get(reverse("audit:verify")).content.decode()
    assert "broken" in page and missing in page and "All 7 entries verified" not in page


def test_it_witnesses_the_head_with_each_export(client, compliance, log, django_capture_on_commit_callbacks, audit_witness):
    client.force_login(compliance)
    with django_capture_on_commit_callbacks(execute=True):
        exported(client, "csv")
    export = AuditEntry.objects.order_by("-id").first()
    newest = json.loads(audit_witness.read_text().splitlines()[-1])
    assert (export.action, newest["id"], newest["hash"], newest["reason"]) == ("audit.export", export.pk, export.hash, "export")
