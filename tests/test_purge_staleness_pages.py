"""Issue 14, items 2 and 3 on the pages (tests/purge_staleness.py): the cancel confirmation, the job
page after a cancel, closing and resuming, a changed scope asked again, an expired preview previewed
again, and the jobs list's expired state."""

import re

import pytest
from django.urls import reverse

from chatdata.models import PurgeRequest
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.execute import run_purge
from tests.purge_staleness import age, batch_spec, cancelled_midway, chat, queued, team_spec  # noqa: F401 (chat is a fixture)

pytestmark = pytest.mark.django_db


def logged_in(client, user):
    client.force_login(user)
    return client


def test_cancel_asks_first_and_says_what_was_done_and_what_stops(client, chat, moderator, settings):
    settings.PURGE_BATCH_SIZE = 3
    request = queued(batch_spec(chat), moderator, settings)
    run_purge(request.pk, request.attempt, max_steps=4, paced=False)
    logged_in(client, moderator)
    page = client.get(reverse("jobs:detail", args=[request.pk])).content.decode()
    assert f'href="{reverse("jobs:cancel", args=[request.pk])}"' in page  # a link to the confirmation, not a POST
    page = client.get(reverse("jobs:cancel", args=[request.pk])).content.decode()
    assert "Done so far: 7 of 15 messages" in page
    assert "1 of 3 conversations finished" in page and "3 of 6 messages so far" in page
    assert "1 conversation will not be started" in page and "8 messages not yet handled" in page
    assert PurgeRequest.objects.get(pk=request.pk).cancel_requested is False  # the GET changed nothing
    response = client.post(reverse("jobs:cancel", args=[request.pk]), follow=True)
    assert "stops at the end of its current batch" in response.content.decode()


def test_the_job_page_after_a_cancel_says_what_was_not_done(client, chat, moderator, settings):
    request = cancelled_midway(chat, moderator, settings)
    page = logged_in(client, moderator).get(reverse("jobs:detail", args=[request.pk])).content.decode()
    assert "8 messages were not deleted" in page
    assert "Not done — cancelled" in page and "Not started" in page
    assert re.search(r'data-item="c2" data-status="not_started">.*?<td class="num" data-deleted>0</td>', page, re.S)
    assert "Differences mean the data changed" not in page and "That is the cancel, not a change in the data" in page
    assert 'id="job-resume"' in page and 'id="job-close"' in page


def test_closing_and_resuming_from_the_job_page(client, chat, moderator, auditor, settings):
    request = cancelled_midway(chat, moderator, settings)
    assert logged_in(client, auditor).post(reverse("jobs:close", args=[request.pk])).status_code == 403
    response = logged_in(client, moderator).post(reverse("jobs:close", args=[request.pk]), {"reason": "enough"}, follow=True)
    assert "closed: the 8 messages it left stay" in response.content.decode()
    response = client.post(reverse("jobs:resume", args=[request.pk]), follow=True)
    assert "Could not resume" in response.content.decode()
    assert PurgeRequest.objects.get(pk=request.pk).state == "closed"


def test_the_cancel_page_refuses_strangers_and_says_when_there_is_nothing_to_cancel(client, chat, moderator, support):
    request = do_execute_purge(do_preview_purge(team_spec(chat), actor=moderator, reason="x"), actor=moderator)
    assert logged_in(client, support).get(reverse("jobs:cancel", args=[request.pk])).status_code == 403
    page = logged_in(client, moderator).get(reverse("jobs:cancel", args=[request.pk])).content.decode()
    assert "already done" in page and "cancel-confirm-button" not in page


def test_confirming_a_changed_scope_shows_the_new_counts_and_asks_again(client, chat, moderator):
    request = do_preview_purge(team_spec(chat), actor=moderator, reason="x")
    chat.team_history[0].delete()
    logged_in(client, moderator)
    url = reverse("purge:execute", args=[request.pk])
    response = client.post(url, {"confirmation": "6"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("purge:request", args=[request.pk])
    page = response.content.decode()
    assert "The scope changed since the preview" in page and "messages 6 → <strong>5</strong>" in page
    assert "Type “Team” or the number of messages, 5, to confirm." in page
    assert client.post(url, {"confirmation": "6"}).status_code == 200  # the old count no longer confirms
    assert PurgeRequest.objects.get(pk=request.pk).state == "previewed"
    client.post(url, {"confirmation": "5"})
    assert PurgeRequest.objects.get(pk=request.pk).state == "done"


def test_an_expired_preview_offers_to_preview_again(client, chat, moderator, settings):
    request = age(do_preview_purge(team_spec(chat), actor=moderator, reason="x"), settings.PURGE_PREVIEW_TTL + 1)
    logged_in(client, moderator)
    page = client.get(reverse("purge:request", args=[request.pk])).content.decode()
    assert "This preview expired" in page and 'id="preview-again"' in page and 'id="confirm-button"' not in page
    response = client.post(reverse("purge:execute", args=[request.pk]), {"confirmation": "6"}, follow=True)
    assert "This preview expired" in response.content.decode()
    response = client.post(reverse("purge:preview_again", args=[request.pk]))
    new = PurgeRequest.objects.latest("id")
    assert response["Location"] == reverse("purge:request", args=[new.pk]) and new.state == "previewed"


def test_the_jobs_list_shows_and_filters_expired_previews(client, chat, moderator, settings):
    fresh = do_preview_purge(team_spec(chat), actor=moderator, reason="x")
    old = age(do_preview_purge(batch_spec(chat), actor=moderator, reason="x"), settings.PURGE_PREVIEW_TTL + 1)
    logged_in(client, moderator)
    page = client.get(reverse("jobs:list")).content.decode()
    assert re.search(rf'data-job="{old.pk}">.*?state-badge--expired">Expired<', page, re.S)
    assert re.search(rf'data-job="{fresh.pk}">.*?state-badge--previewed">Previewed<', page, re.S)
    page = client.get(reverse("jobs:list"), {"state": "expired"}).content.decode()
    assert f'data-job="{old.pk}"' in page and f'data-job="{fresh.pk}"' not in page
