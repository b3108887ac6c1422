"""One conversation's page: the timeline's keyset paging in both directions (and for htmx), the
date jump in the configured time zone, bad input, members' state, attachments, reactions and hides,
query counts, and attachments served inline or as downloads."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from chatdata.browse.keyset import Position
from chatdata.models import Membership, Message
from tests.browse_chat import chat, shown_message_ids  # noqa: F401 (chat is a fixture)
from tests.builders import add_attachment, add_hide, add_pending, add_reaction

pytestmark = pytest.mark.django_db


def test_it_pages_the_timeline_to_older_messages_without_gaps(client, moderator, chat):
    client.force_login(moderator)
    url = reverse("browse:conversation", args=[chat["group"].pk])
    newest_first = [m.pk for m in reversed(chat["history"])]
    first = client.get(url)
    assert shown_message_ids(first) == newest_first[:50]
    second = client.get(url, {"before": first.context["timeline"].next_cursor})
    assert shown_message_ids(second) == newest_first[50:100]
    third = client.get(url, {"before": second.context["timeline"].next_cursor})
    assert shown_message_ids(third) == newest_first[100:]
    assert third.context["timeline"].next_cursor is None
    assert "Newer messages" in third.content.decode()


def test_it_answers_htmx_with_just_the_next_older_page(client, moderator, chat):
    client.force_login(moderator)
    url = reverse("browse:conversation", args=[chat["group"].pk])
    cursor = client.get(url).context["timeline"].next_cursor
    response = client.get(url, {"before": cursor}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and "Members" not in html
    assert shown_message_ids(response) == [m.pk for m in reversed(chat["history"])][50:100]
    older = re.search(r'<a href="([^"]+)" hx-get="([^"]+)" hx-target="closest li" hx-swap="outerHTML">', html)
    assert older and older.group(1) == older.group(2) and "before=" in older.group(1)


def test_it_climbs_back_to_newer_messages(client, moderator, chat):
    client.force_login(moderator)
    url = reverse("browse:conversation", args=[chat["group"].pk])
    history = chat["history"]
    response = client.get(url, {"after": Position.of(history[9]).encode()})
    assert shown_message_ids(response) == [m.pk for m in reversed(history[10:60])]
    assert response.context["timeline"].next_cursor and response.context["timeline"].prev_cursor


def test_it_jumps_to_the_end_of_a_day_in_the_configured_timezone(client, moderator, chat, settings):
    settings.TIME_ZONE = "Asia/Shanghai"  # UTC+8: 2026-01-02 ends at 16:00 UTC
    client.force_login(moderator)
    url = reverse("browse:conversation", args=[chat["group"].pk])
    response = client.get(url, {"date": "2026-01-02"})
    ids = shown_message_ids(response)
    newest = Message.objects.get(pk=ids[0])
    assert newest.sent_at == datetime(2026, 1, 2, 15, 0, tzinfo=UTC)  # hourly from 2026-01-01 12:00 UTC
    assert ids == [m.pk for m in reversed(chat["history"]) if m.sent_at < datetime(2026, 1, 2, 16, tzinfo=UTC)][:50]
    assert "2026-01-02 23:00" in response.content.decode()  # shown in Shanghai time


def test_it_reports_bad_timeline_input_and_shows_the_newest(client, moderator, chat):
    client.force_login(moderator)
    url = reverse("browse:conversation", args=[chat["group"].pk])
    response = client.get(url, {"date": "2026-02-30"})
    assert "is not a date" in response.content.decode()
    assert shown_message_ids(response)[0] == chat["history"][-1].pk
    response = client.get(url, {"before": "12x_3"})
    assert "out of date" in response.content.decode()
    response = client.get(url, {"date": "2026-01-02", "before": Position.of(chat["history"][5]).encode()})
    assert "not several" in response.content.decode()
    assert client.get(reverse("browse:conversation", args=[999999])).status_code == 404


def test_it_shows_members_state_attachments_reactions_and_hides(client, moderator, chat):
    Membership.objects.filter(user=chat["bob"], conversation=chat["group"]).update(
        cleared_before=datetime(2026, 1, 3, tzinfo=UTC), hidden=True
    )
    newest = chat["history"][-1]
    add_reaction(newest, chat["bob"], "🎉")
    add_reaction(newest, chat["alice"], "🎉")
    add_hide(newest, chat["bob"])
    add_pending(newest, chat["bob"])
    attachment = add_attachment(newest, name="cat.png")
    client.force_login(moderator)
    html = client.get(reverse("browse:conversation", args=[chat["group"].pk])).content.decode()
    assert "cleared before" in html and "2026-01-03 00:00" in html and ">hidden<" in html
    assert re.search(r"🎉 <span class=\"reaction__count\">2</span>", html)
    assert "hidden for 1 member" in html and "awaiting delivery to 1" in html
    assert reverse("browse:attachment", args=[attachment.pk]) in html and "cat" in html


def test_it_renders_a_busy_timeline_in_a_bounded_number_of_queries(client, moderator, chat, django_assert_max_num_queries):
    for message in chat["history"][-50:]:
        add_reaction(message, chat["bob"])
        add_hide(message, chat["bob"])
        add_attachment(message)
    client.force_login(moderator)
    with django_assert_max_num_queries(12 + 4):  # +4: the header's counts (3) and the legal holds for the banner (1)
        response = client.get(reverse("browse:conversation", args=[chat["group"].pk]))
    assert len(shown_message_ids(response)) == 50


def test_it_serves_images_inline_and_everything_else_as_downloads(client, moderator, chat):
    image = add_attachment(chat["lobby"], name="a.png")
    page = add_attachment(chat["lobby"], name="x.html", content=b"<script>", content_type="text/html")
    client.force_login(moderator)
    response = client.get(reverse("browse:attachment", args=[image.pk]))
    assert response["Content-Type"] == "image/png" and b"".join(response.streaming_content) == b"\x89PNG fake"
    response = client.get(reverse("browse:attachment", args=[page.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    image.file.storage.delete(image.file.name)
    assert client.get(reverse("browse:attachment", args=[image.pk])).status_code == 404
