"""Confirming a previewed request and following it as a job: who may confirm, the background
hand-off, the job list and page (live progress that stops polling), cancel and resume, and
previewed vs executed counts. Fixtures and helpers come from tests/purge_views_chat.py."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from chatdata.models import AuditEntry, Message, PurgeRequest
from chatdata.purge.actions import do_execute_purge
from chatdata.purge.execute import run_purge
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import T0, make_history, snapshot_chat
from tests.purge_views_chat import a_preview, chat, logged_in, nothing_changed  # noqa: F401 (chat is a fixture)

pytestmark = pytest.mark.django_db


# --- confirming -----------------------------------------------------------------------------------


def test_it_lets_only_the_requester_confirm(client, chat, moderator, moderator2):
    purge = a_preview(chat, moderator)
    before = snapshot_chat()
    response = logged_in(client, moderator2).post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "12"})
    assert response.status_code == 403
    page = client.get(reverse("purge:request", args=[purge.pk])).content.decode()
    assert "Only mona, who previewed it, can confirm" in page and "confirm-form" not in page
    nothing_changed(before)


def test_it_does_not_run_a_request_twice(client, chat, moderator):
    purge = a_preview(chat, moderator)
    logged_in(client, moderator)
    client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "12"})
    response = client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "12"}, follow=True)
    assert "Only a previewed request can be executed; this one is done." in response.content.decode()
    assert AuditEntry.objects.filter(purge_request_id=purge.pk, action="purge.start").count() == 1


def test_it_sends_a_large_request_to_the_background(client, chat, moderator, settings, redis_conn):
    settings.PURGE_INLINE_LIMIT = 5
    purge = a_preview(chat, moderator)
    response = logged_in(client, moderator).post(reverse("purge:execute", args=[purge.pk]), {"confirmation": "Team"}, follow=True)
    assert "Running in the background" in response.content.decode()
    purge.refresh_from_db()
    assert purge.state == "queued" and Message.objects.filter(conversation=chat.team).count() == 12


# --- jobs -----------------------------------------------------------------------------------------


def make_requests(actor, n, state="done"):
    spec = PurgeSpec(ConversationScope(1), "delete_for_everyone").to_dict()
    return PurgeRequest.objects.bulk_create(
        PurgeRequest(state=state, spec=spec, scope_kind="conversation", effect="delete_for_everyone", target=f"conversation c{i}",
                     requested_by=actor, reason="r", preview={"messages": 1}, total_messages=1)
        for i in range(n)
    )


def test_it_lists_jobs_newest_first_by_state_and_pages(client, moderator, auditor):
    make_requests(moderator, 3, "failed")
    make_requests(moderator, 55, "done")
    logged_in(client, auditor)
    ids = list(PurgeRequest.objects.order_by("-id").values_list("id", flat=True))
    first = client.get(reverse("jobs:list")).content.decode()
    shown = [int(x) for x in re.findall(r'data-job="(\d+)"', first)]
    assert shown == ids[:50]
    second = client.get(reverse("jobs:list"), {"after": shown[-1]}).content.decode()
    assert [int(x) for x in re.findall(r'data-job="(\d+)"', second)] == ids[50:]
    failed = client.get(reverse("jobs:list"), {"state": "failed"}).content.decode()
    assert [int(x) for x in re.findall(r'data-job="(\d+)"', failed)] == list(
        PurgeRequest.objects.filter(state="failed").order_by("-id").values_list("id", flat=True))
    bad = client.get(reverse("jobs:list"), {"state": "exploded", "after": "x"})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()


def test_it_polls_a_running_job_and_stops_when_it_ends(client, chat, moderator, settings):
    settings.PURGE_INLINE_LIMIT = 5
    purge = do_execute_purge(a_preview(chat, moderator), actor=moderator)
    assert purge.state == "queued"
    logged_in(client, moderator)
    url = reverse("jobs:detail", args=[purge.pk])
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in page and '<progress id="job-progress"' in page and 'id="job-cancel"' in page
    live = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert live.lstrip().startswith('<div id="job-live"') and "<html" not in live
    run_purge(purge.pk, purge.attempt)
    live = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in live and 'data-state="done"' in live and 'value="100"' in live
    assert "job-cancel" not in live and "job-resume" not in live
    trail = re.findall(r'trail__action mono">([a-z_.]+)<', live)
    assert trail == ["purge.preview", "purge.start", "purge.complete"]


def test_it_highlights_executed_counts_that_differ_from_the_preview(client, chat, moderator):
    purge = a_preview(chat, moderator)
    PurgeRequest.objects.filter(pk=purge.pk).update(runs_inline=False)
    purge = do_execute_purge(purge, actor=moderator)  # queued: confirmed with the preview's counts
    Message.objects.filter(pk=chat.history[5].pk).delete()  # gone between the confirmation and the run
    run_purge(purge.pk, purge.attempt)
    page = logged_in(client, moderator).get(reverse("jobs:detail", args=[purge.pk])).content.decode()
    row = re.search(r'<tr class="differs"><th scope="row">Messages deleted</th>(.*?)</tr>', page, re.S)
    assert row and "-1" in row.group(1)


def test_it_cancels_a_preview_for_its_requester_only(client, chat, moderator, support):
    purge = a_preview(chat, moderator)
    response = logged_in(client, support).post(reverse("jobs:cancel", args=[purge.pk]))
    assert response.status_code == 403
    purge.refresh_from_db()
    assert purge.state == "previewed"
    response = logged_in(client, moderator).post(reverse("jobs:cancel", args=[purge.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("browse:conversation", args=[chat.team.pk])
    assert "discarded: nothing was changed" in response.content.decode()
    purge.refresh_from_db()
    assert purge.state == "cancelled"
    response = client.post(reverse("jobs:cancel", args=[purge.pk]), follow=True)
    assert "Could not cancel" in response.content.decode() and "already cancelled" in response.content.decode()


def test_it_lets_another_moderator_cancel_a_queued_job_but_not_an_auditor(client, chat, moderator, moderator2, auditor, settings):
    settings.PURGE_INLINE_LIMIT = 5
    purge = do_execute_purge(a_preview(chat, moderator), actor=moderator)
    page = logged_in(client, auditor).get(reverse("jobs:detail", args=[purge.pk])).content.decode()
    assert "job-cancel" not in page
    assert client.post(reverse("jobs:cancel", args=[purge.pk])).status_code == 403
    response = logged_in(client, moderator2).post(reverse("jobs:cancel", args=[purge.pk]), follow=True)
    assert f"Purge #{purge.pk} cancelled." in response.content.decode()
    purge.refresh_from_db()
    assert purge.state == "cancelled" and Message.objects.filter(conversation=chat.team).count() == 12


def test_it_resumes_a_failed_job_from_its_checkpoint(client, chat, moderator, auditor):
    purge = a_preview(chat, moderator)
    PurgeRequest.objects.filter(pk=purge.pk).update(state="failed", error="OperationalError: server closed the connection", attempt=1)
    page = logged_in(client, auditor).get(reverse("jobs:detail", args=[purge.pk])).content.decode()
    assert "server closed the connection" in page and "job-resume" not in page
    assert client.post(reverse("jobs:resume", args=[purge.pk])).status_code == 403
    logged_in(client, moderator)
    page = client.get(reverse("jobs:detail", args=[purge.pk])).content.decode()
    assert 'id="job-resume"' in page
    response = client.post(reverse("jobs:resume", args=[purge.pk]), follow=True)
    assert f"Purge #{purge.pk} resumed and finished." in response.content.decode()
    assert not Message.objects.filter(conversation=chat.team).exists()
    response = client.post(reverse("jobs:resume", args=[purge.pk]), follow=True)
    assert "Could not resume" in response.content.decode()


def test_it_shows_the_histogram_of_a_preview_per_day(client, chat, moderator):
    later = make_history(chat.team, chat.bob, 3, start=datetime(2026, 1, 4, 9, 0, tzinfo=UTC), step=timedelta(days=1))
    purge = a_preview(chat, moderator)
    page = logged_in(client, moderator).get(reverse("purge:request", args=[purge.pk])).content.decode()
    assert page.count('class="histogram__bar"') == 4  # Jan 1 (12), Jan 4, 5, 6; empty Jan 2-3 are gaps
    assert "15 messages from 2026-01-01 to 2026-01-06, in 6 days; the busiest day, 2026-01-01, has 12." in page
    assert "<title>2026-01-05: 1 message</title>" in page
    assert len(later) == 3 and T0.date().isoformat() in page
