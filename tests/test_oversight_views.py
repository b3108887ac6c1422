"""The oversight pages: the approvals queue, legal holds, the audit log with its exports, and the
audit entries that logins, logouts and exports leave."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from chatdata.audit import write_audit
from chatdata.models import AuditEntry, LegalHold, Message, PurgeRequest
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.scopes import ConversationScope, PurgeSpec, UserScope
from tests.builders import T0, make_conversation, make_history, make_user
from tests.conftest import PASSWORD
from tests.test_audit import without_trigger

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The personas' passwords hash with the fast test hasher (the default takes ~0.3 s each)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def chat(db):
    alice, bob = make_user("u-alice", "Alice Archer"), make_user("u-bob", "Bob Baker")
    group = make_conversation("group", [alice, bob], external_id="g-team", title="Team")
    other = make_conversation("group", [alice, bob], external_id="g-other", title="Other")
    return {
        "alice": alice, "bob": bob, "group": group, "other": other,
        "history": make_history(group, alice, 6) + make_history(group, bob, 4, start=T0 + timedelta(days=1)),
        "others": make_history(other, bob, 3),
    }


@pytest.fixture
def waiting(chat, moderator, settings):
    """Mona's delete of the whole group, above the (lowered) approval threshold."""
    settings.PURGE_APPROVAL_THRESHOLD = 3
    spec = PurgeSpec(ConversationScope(chat["group"].pk), "delete_for_everyone")
    request = do_execute_purge(do_preview_purge(spec, actor=moderator, reason="spam wave", ticket="T-7"), actor=moderator)
    assert request.state == "awaiting_approval"
    return request


def flashes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def audit_actions():
    """The log's actions, oldest first, without the personas' own staff.* entries (test_staff_audit's)."""
    return list(AuditEntry.objects.exclude(action__startswith="staff.").order_by("id").values_list("action", flat=True))


# --- approvals -------------------------------------------------------------------------------------


def test_it_shows_the_requester_their_request_without_buttons(client, moderator, waiting):
    client.force_login(moderator)
    page = client.get(reverse("approvals:queue")).content.decode()
    assert f"#{waiting.pk} · Delete for everyone" in page and "spam wave" in page and "T-7" in page
    assert "You cannot approve or reject your own request" in page
    assert reverse("approvals:approve", args=[waiting.pk]) not in page
    assert reverse("approvals:reject", args=[waiting.pk]) not in page


def test_it_refuses_self_approval_with_a_message(client, moderator, waiting, chat):
    client.force_login(moderator)
    response = client.post(reverse("approvals:approve", args=[waiting.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("approvals:queue")
    assert flashes(response) == [f"Request #{waiting.pk} was not approved. You cannot approve or reject your own request: another staff member must."]
    waiting.refresh_from_db()
    assert waiting.state == "awaiting_approval" and waiting.approved_by is None
    assert Message.objects.filter(conversation=chat["group"]).count() == 10
    assert "purge.approve" not in audit_actions()
    assert "purge.refused" in audit_actions()  # the attempt itself is on record
    # Rejecting one's own request is refused the same way.
    response = client.post(reverse("approvals:reject", args=[waiting.pk]), {"reason": "never mind"})
    assert response.status_code == 302 and "your own request" in flashes(response)[0]
    waiting.refresh_from_db()
    assert waiting.state == "awaiting_approval"


def test_it_runs_a_request_approved_by_a_second_moderator(client, moderator2, waiting, chat):
    client.force_login(moderator2)
    page = client.get(reverse("approvals:queue")).content.decode()
    assert f"Review and decide #{waiting.pk}" in page
    assert f"Approve and run #{waiting.pk}" in client.get(reverse("approvals:review", args=[waiting.pk])).content.decode()
    response = client.post(reverse("approvals:approve", args=[waiting.pk]), {"confirmation": "10"})
    assert response.status_code == 302
    assert flashes(response) == [f"Request #{waiting.pk} approved and run: 10 messages handled."]
    waiting.refresh_from_db()
    assert (waiting.state, waiting.approved_by, waiting.result["messages"]) == ("done", moderator2, 10)
    assert not Message.objects.filter(conversation=chat["group"]).exists()
    assert Message.objects.filter(conversation=chat["other"]).count() == 3
    approval = AuditEntry.objects.get(action="purge.approve")
    assert (approval.actor, approval.purge_request_id) == (moderator2, waiting.pk)
    # It leaves the queue and shows under the recent decisions.
    page = client.get(reverse("approvals:queue")).content.decode()
    assert "Nothing is waiting for approval." in page and "approved</span> by max" in page


def test_it_queues_an_approved_request_too_large_to_run_inline(client, moderator2, waiting, redis_conn, django_capture_on_commit_callbacks):
    PurgeRequest.objects.filter(pk=waiting.pk).update(runs_inline=False)
    client.force_login(moderator2)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("approvals:approve", args=[waiting.pk]), {"confirmation": "10"})
    assert "runs in the background" in flashes(response)[0]
    waiting.refresh_from_db()
    assert waiting.state == "queued"
    assert django_rq.get_queue("default").job_ids == [waiting.job_id]


def test_it_needs_a_reason_to_reject(client, moderator2, waiting):
    client.force_login(moderator2)
    url = reverse("approvals:reject", args=[waiting.pk])
    response = client.post(url, {"reason": "   "})
    assert response.status_code == 400
    page = response.content.decode()
    # The error sits in the reason field's group, right above its textarea.
    error = page.index("Say why the request is rejected")
    assert page.index('name="reason"', error) - error < 300
    waiting.refresh_from_db()
    assert waiting.state == "awaiting_approval" and "purge.reject" not in audit_actions()

    response = client.post(url, {"reason": "Too broad: narrow it to last week."})
    assert response.status_code == 302 and "rejected" in flashes(response)[0]
    waiting.refresh_from_db()
    assert (waiting.state, waiting.rejected_by, waiting.rejection_reason) == ("rejected", moderator2, "Too broad: narrow it to last week.")
    assert AuditEntry.objects.get(action="purge.reject").reason == "Too broad: narrow it to last week."


def test_it_tells_compliance_that_a_conversation_request_is_for_a_moderator(client, compliance, waiting):
    client.force_login(compliance)
    page = client.get(reverse("approvals:queue")).content.decode()
    assert "Only a moderator or an admin may approve or reject this request." in page
    assert f"Approve and run #{waiting.pk}" not in page
    response = client.post(reverse("approvals:approve", args=[waiting.pk]))
    assert "Only a moderator or an admin" in flashes(response)[0]
    waiting.refresh_from_db()
    assert waiting.state == "awaiting_approval"


def test_it_lets_compliance_approve_an_erasure(client, compliance, chat, admin_user):
    spec = PurgeSpec(UserScope(chat["bob"].pk), "delete_for_everyone")
    request = do_execute_purge(do_preview_purge(spec, actor=admin_user, reason="GDPR art. 17"), actor=admin_user)
    client.force_login(compliance)
    assert "erasure" in client.get(reverse("approvals:queue")).content.decode()
    client.post(reverse("approvals:approve", args=[request.pk]), {"confirmation": chat["bob"].external_id})
    request.refresh_from_db()
    assert request.state == "done" and not Message.objects.filter(sender=chat["bob"]).exists()


def test_it_says_when_a_request_is_no_longer_waiting(client, moderator2, waiting):
    PurgeRequest.objects.filter(pk=waiting.pk).update(state="cancelled")
    client.force_login(moderator2)
    response = client.post(reverse("approvals:approve", args=[waiting.pk]))
    assert "this one is cancelled" in flashes(response)[0]
    assert client.post(reverse("approvals:approve", args=[waiting.pk + 1000])).status_code == 404
    assert "there is nothing to reject" in client.get(reverse("approvals:reject", args=[waiting.pk])).content.decode()


# --- legal holds -----------------------------------------------------------------------------------


def hold_post(client, **data):
    return client.post(reverse("holds:create"), {"kind": "user", "external_id": "u-alice", "reason": "Case 42", **data})


def test_it_places_a_hold_and_lists_what_it_covers(client, compliance, chat):
    client.force_login(compliance)
    response = hold_post(client)
    assert response.status_code == 302 and response["Location"] == reverse("holds:list")
    hold = LegalHold.objects.get()
    assert (hold.kind, hold.user, hold.start, hold.end, hold.reason, hold.created_by) == ("user", chat["alice"], None, None, "Case 42", compliance)
    assert flashes(response) == [f"Legal hold #{hold.pk} placed on user u-alice: 6 messages are kept from every deletion."]
    entry = AuditEntry.objects.get(action="hold.add")
    assert (entry.actor, entry.target, entry.ip) == (compliance, "user u-alice", "127.0.0.1")

    page = client.get(reverse("holds:list")).content.decode()
    row = page[page.index(f'id="hold-{hold.pk}"'):]
    assert reverse("browse:user", args=[chat["alice"].pk]) in row and "Case 42" in row
    assert "<strong>6</strong>" in row  # Alice sent 6 messages, all in the (open) window


def test_it_reads_the_window_in_the_local_timezone(client, compliance, chat, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    client.force_login(compliance)
    response = hold_post(client, kind="conversation", external_id="g-team",
                         start="2026-01-01T13:30", end="2026-01-02T00:00")
    assert response.status_code == 302
    hold = LegalHold.objects.get()
    assert (hold.conversation, hold.start, hold.end) == (
        chat["group"], datetime(2026, 1, 1, 12, 30, tzinfo=UTC), datetime(2026, 1, 1, 23, 0, tzinfo=UTC))
    in_window = Message.objects.filter(conversation=chat["group"], sent_at__gte=hold.start, sent_at__lt=hold.end).count()
    assert 0 < in_window < 10
    assert f"<strong>{in_window}</strong>" in client.get(reverse("holds:list")).content.decode()


@pytest.mark.parametrize(("data", "field", "error"), [
    ({"external_id": "u-nobody"}, "external_id", "No chat user has the external id “u-nobody”."),
    ({"kind": "conversation", "external_id": "u-alice"}, "external_id", "No conversation has the external id “u-alice”."),
    ({"reason": "  "}, "reason", "A legal hold needs a reason"),
    ({"start": "2026-02-01T10:00", "end": "2026-02-01T09:00"}, "end", "The end must be after the start."),
    ({"start": "yesterday"}, "start", "“yesterday” is not a date and time"),
    ({"kind": "everyone"}, "kind", "Select a valid choice."),
    ({"external_id": ""}, "external_id", "This field is required."),
])
def test_it_refuses_a_bad_hold_with_an_error_next_to_the_field(client, compliance, chat, data, field, error):
    client.force_login(compliance)
    response = hold_post(client, **data)
    assert response.status_code == 400
    page = response.content.decode()
    assert error in page
    assert abs(page.index(f'name="{field}"') - page.index(error)) < 600
    assert not LegalHold.objects.exists() and not AuditEntry.objects.filter(action="hold.add").exists()


def test_it_refuses_a_time_that_the_clock_skips(client, compliance, chat, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    client.force_login(compliance)
    response = hold_post(client, start="2026-03-29T02:30")  # clocks jump from 02:00 to 03:00
    assert response.status_code == 400 and "couldn’t be interpreted in time zone Europe/Berlin" in response.content.decode()
    assert not LegalHold.objects.exists()


def test_it_prefills_the_hold_form_from_a_link(client, compliance):
    client.force_login(compliance)
    page = client.get(reverse("holds:create") + "?conversation=g-team").content.decode()
    assert 'value="g-team"' in page and 'value="conversation" id="id_kind_1" required checked' in page


def test_it_releases_a_hold_only_with_a_reason(client, compliance, chat):
    hold = do_add_legal_hold(actor=compliance, user=chat["alice"], reason="Case 42")
    client.force_login(compliance)
    url = reverse("holds:release", args=[hold.pk])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400 and "Say why the hold is released" in response.content.decode()
    hold.refresh_from_db()
    assert hold.is_active and not AuditEntry.objects.filter(action="hold.release").exists()

    response = client.post(url, {"reason": "Case closed"})
    assert flashes(response) == [f"Legal hold #{hold.pk} on user u-alice released."]
    hold.refresh_from_db()
    assert (hold.is_active, hold.released_by, hold.release_reason) == (False, compliance, "Case closed")
    assert AuditEntry.objects.get(action="hold.release").reason == "Case closed"
    # Released holds leave the default list and show under "released"; a second release is refused.
    assert f'id="hold-{hold.pk}"' not in client.get(reverse("holds:list")).content.decode()
    assert "Case closed" in client.get(reverse("holds:list") + "?state=released").content.decode()
    response = client.post(url, {"reason": "again"})
    assert "was already released" in flashes(response)[0]
    assert AuditEntry.objects.filter(action="hold.release").count() == 1


def test_it_shows_holds_read_only_to_a_moderator(client, moderator, compliance, chat):
    hold = do_add_legal_hold(actor=compliance, user=chat["alice"], reason="Case 42")
    client.force_login(moderator)
    page = client.get(reverse("holds:list")).content.decode()
    assert "Case 42" in page
    assert reverse("holds:create") not in page and reverse("holds:release", args=[hold.pk]) not in page
    assert client.post(reverse("holds:release", args=[hold.pk]), {"reason": "x"}).status_code == 403
    hold.refresh_from_db()
    assert hold.is_active


def test_it_rejects_a_damaged_holds_page_link(client, compliance):
    client.force_login(compliance)
    response = client.get(reverse("holds:list") + "?after=abc&state=nonsense")
    assert response.status_code == 400
    assert "This page link is out of date or damaged." in response.content.decode()
    assert "Select a valid choice. nonsense is not one of the available choices." in response.content.decode()


# --- audit log -------------------------------------------------------------------------------------


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


# --- logins ----------------------------------------------------------------------------------------


def test_it_audits_logins_failed_logins_and_logouts(client, moderator):
    response = client.post(reverse("login"), {"username": "mona", "password": "wrong"}, REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 200
    failed = AuditEntry.objects.get(action="auth.login_failed")
    assert (failed.action, failed.actor, failed.role, failed.target, failed.ip) == ("auth.login_failed", None, "anonymous", "login mona", "192.0.2.9")
    assert "wrong" not in json.dumps([failed.scope, failed.reason, failed.target])

    response = client.post(reverse("login"), {"username": "mona", "password": PASSWORD}, REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 302
    login = AuditEntry.objects.order_by("-id").first()
    assert (login.action, login.actor, login.role, login.ip) == ("auth.login", moderator, "moderator", "192.0.2.9")

    client.post(reverse("logout"))
    logout = AuditEntry.objects.order_by("-id").first()
    assert (logout.action, logout.actor) == ("auth.logout", moderator)
    assert audit_actions() == ["auth.login_failed", "auth.login", "auth.logout"]


def test_it_audits_admin_logins_too(client, admin_user):
    admin_user.is_staff = True  # Django's admin lets in only is_staff accounts
    admin_user.save()
    client.post("/admin/login/", {"username": "ada", "password": PASSWORD, "next": "/admin/"})
    assert audit_actions() == ["auth.login"]


def test_it_keeps_a_failed_login_in_the_log_page(client, auditor, moderator):
    client.post(reverse("login"), {"username": "mona", "password": "nope"})
    client.force_login(auditor)
    page = client.get(reverse("audit:log"), {"action": "auth.*"}).content.decode()
    assert "auth.login_failed" in page and "login mona" in page and "auth.login</a>" in page


def test_it_places_a_hold_that_a_later_preview_excludes(client, compliance, moderator, chat):
    client.force_login(compliance)
    hold_post(client, kind="user", external_id="u-bob")
    spec = PurgeSpec(ConversationScope(chat["group"].pk), "delete_for_everyone")
    request = do_preview_purge(spec, actor=moderator, reason="cleanup")
    assert (request.preview["messages"], request.preview["excluded_by_hold"]) == (6, 4)
