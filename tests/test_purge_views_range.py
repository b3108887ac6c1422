"""Deleting a time range of a conversation: bounds typed as local times in the time zone, bad
bounds refused next to their field with nothing changed, and the live preview (htmx, or the form
page without JavaScript). Chat and helpers: tests/purge_views_chat.py."""

import pytest
from django.urls import reverse

from chatdata.models import PurgeRequest
from tests.builders import snapshot_chat
from tests.purge_views_chat import chat  # noqa: F401 (a fixture)
from tests.purge_views_chat import field_errors, logged_in, nothing_changed, post_scope, preview_from

pytestmark = pytest.mark.django_db


def range_data(**values):
    return {"action": "range", "bounds": "between", "effect": "delete_for_everyone", "reason": "old", **values}


def test_it_reads_range_bounds_as_local_times_in_the_time_zone(client, chat, moderator, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # UTC+1 in January
    logged_in(client, moderator)
    # T0 is 12:00 UTC = 13:00 in Berlin; history is hourly.
    purge = preview_from(post_scope(client, chat, range_data(start="2026-01-01T14:00", end="2026-01-01T17:00")))
    assert purge.spec["scope"]["start"] == "2026-01-01T13:00:00+00:00"
    assert purge.spec["scope"]["end"] == "2026-01-01T16:00:00+00:00"
    assert purge.preview["messages"] == 3
    page = client.get(reverse("purge:conversation", args=[chat.team.pk])).content.decode()
    assert "From (Europe/Berlin)" in page and "Before (Europe/Berlin)" in page


@pytest.mark.parametrize(
    "values, field, error",
    [
        ({"start": "2026-01-01T18:00", "end": "2026-01-01T14:00"}, "end", "The end must be after the start."),
        ({"start": "2026-01-01T14:00", "end": "2026-01-01T14:00"}, "end", "The end must be after the start."),
        ({"start": "yesterday", "end": "2026-01-01T14:00"}, "start", "“yesterday” is not a date and time"),
        ({"start": "2026-02-30T10:00", "end": "2026-03-01T14:00"}, "start", "is not a date and time"),
        ({"start": "2026-03-29T02:30", "end": "2026-03-30T10:00"}, "start", "does not exist or happens twice in Europe/Berlin"),
        ({"start": "2026-10-25T02:30", "end": "2026-10-26T10:00"}, "start", "does not exist or happens twice in Europe/Berlin"),
        ({"start": "", "end": "2026-01-01T14:00"}, "start", "Give the moment the range starts at"),
        ({"bounds": "before", "start": "", "end": ""}, "end", "Give the moment the range ends at."),
        ({"effect": "hide_for_user", "start": "2026-01-01T13:00", "end": "2026-01-01T14:00"}, "member", "Choose the member"),
    ],
)
def test_it_refuses_bad_bounds_next_to_the_field_and_changes_nothing(client, chat, moderator, settings, values, field, error):
    settings.TIME_ZONE = "Europe/Berlin"
    before = snapshot_chat()
    response = post_scope(logged_in(client, moderator), chat, range_data(**values))
    assert response.status_code == 200
    assert error in field_errors(response, field)
    assert 'aria-invalid="true"' in response.content.decode()
    nothing_changed(before)
    assert not PurgeRequest.objects.exists()


def test_it_ignores_a_start_typed_before_switching_to_before_a_moment(client, chat, moderator):
    logged_in(client, moderator)
    purge = preview_from(post_scope(client, chat, range_data(bounds="before", start="garbage", end="2026-01-01T15:00")))
    assert purge.spec["scope"]["start"] is None and purge.preview["messages"] == 3


def test_it_previews_a_range_live_without_creating_a_request(client, chat, moderator):
    logged_in(client, moderator)
    url = reverse("purge:range_preview", args=[chat.team.pk])
    response = client.get(url, {"bounds": "before", "end": "2026-01-01T17:00", "effect": "delete_for_everyone"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'data-count="messages">5<' in html and "<svg" in html and "<title id=\"live-histogram-title\">" in html
    assert "5 messages from 2026-01-01 to 2026-01-01" in html
    response = client.get(url, range_data(start="2026-01-01T17:00", end="2026-01-01T13:00"), headers={"HX-Request": "true"})
    assert "The end must be after the start." in response.content.decode() and "<svg" not in response.content.decode()
    # Without JavaScript the same URL is the form page with the counts.
    page = client.get(url, {"bounds": "before", "end": "2026-01-01T17:00", "effect": "delete_for_everyone"}).content.decode()
    assert "<html" in page and 'data-count="messages">5<' in page
    assert not PurgeRequest.objects.exists()


def test_it_says_in_the_live_preview_when_the_role_may_not_run_it(client, chat, support):
    response = logged_in(client, support).get(
        reverse("purge:range_preview", args=[chat.team.pk]),
        {"bounds": "before", "end": "2026-01-01T17:00", "effect": "delete_for_everyone"}, headers={"HX-Request": "true"},
    )
    assert "Support may hide messages for one member" in response.content.decode()


def test_it_refuses_the_live_range_preview_to_read_only_roles(client, chat, auditor):
    response = logged_in(client, auditor).get(reverse("purge:range_preview", args=[chat.team.pk]), {"end": "2026-01-01T17:00"})
    assert response.status_code == 403
