"""The deletion workflow's views, who may use them: the anonymous go to the login page, an
account without a role gets 403 everywhere, each role sees the scope pages and actions it may
request and no others, and state changes are POSTs only. Chat and helpers:
tests/purge_views_chat.py."""

import pytest
from django.urls import reverse

from chatdata.models import PurgeRequest
from tests.builders import snapshot_chat
from tests.purge_views_chat import chat  # noqa: F401 (a fixture)
from tests.purge_views_chat import a_preview, logged_in, nothing_changed, post_scope

pytestmark = pytest.mark.django_db


def urls_of(chat, purge):
    return [
        ("get", reverse("purge:conversation", args=[chat.team.pk])),
        ("post", reverse("purge:conversation", args=[chat.team.pk])),
        ("get", reverse("purge:range_preview", args=[chat.team.pk])),
        ("get", reverse("purge:conversations")),
        ("post", reverse("purge:conversations")),
        ("get", reverse("purge:user", args=[chat.alice.pk])),
        ("post", reverse("purge:user", args=[chat.alice.pk])),
        ("get", reverse("purge:request", args=[purge.pk])),
        ("post", reverse("purge:execute", args=[purge.pk])),
        ("get", reverse("jobs:list")),
        ("get", reverse("jobs:detail", args=[purge.pk])),
        ("post", reverse("jobs:cancel", args=[purge.pk])),
        ("post", reverse("jobs:resume", args=[purge.pk])),
    ]


def test_it_sends_the_anonymous_to_the_login_page(client, chat, moderator):
    purge = a_preview(chat, moderator)
    before = snapshot_chat()
    for method, url in urls_of(chat, purge):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response.url.startswith("/login/?next="), (method, url)
    nothing_changed(before)
    assert PurgeRequest.objects.get().state == "previewed"


def test_it_refuses_an_account_without_a_role_everything(client, chat, moderator, outsider):
    purge = a_preview(chat, moderator)
    logged_in(client, outsider)
    for method, url in urls_of(chat, purge):
        assert getattr(client, method)(url).status_code == 403, (method, url)
    assert PurgeRequest.objects.get().state == "previewed"


@pytest.mark.parametrize(
    "persona, url_name, allowed",
    [
        ("auditor", "conversation", False),
        ("compliance", "conversation", False),
        ("support", "conversation", True),
        ("moderator", "conversation", True),
        ("admin_user", "conversation", True),
        ("support", "conversations", False),
        ("compliance", "conversations", False),
        ("moderator", "conversations", True),
        ("moderator", "user", False),
        ("support", "user", False),
        ("auditor", "user", False),
        ("compliance", "user", True),
        ("admin_user", "user", True),
    ],
)
def test_it_opens_the_scope_pages_only_to_roles_that_may_request_them(client, chat, request, persona, url_name, allowed):
    logged_in(client, request.getfixturevalue(persona))
    args = {"conversation": [chat.team.pk], "conversations": [], "user": [chat.alice.pk]}[url_name]
    response = client.get(reverse(f"purge:{url_name}", args=args))
    assert response.status_code == (200 if allowed else 403)


def test_it_offers_each_role_only_what_it_may_do_on_the_conversation_page(client, chat, moderator, support, auditor):
    page = reverse("browse:conversation", args=[chat.team.pk])
    html = logged_in(client, moderator).get(page).content.decode()
    assert html.count('name="ids"') == 12 and 'value="delete_all"' in html and 'id="purge-range"' in html
    html = logged_in(client, support).get(page).content.decode()
    assert html.count('name="ids"') == 12
    assert 'value="hide_for_user"' in html and 'value="delete_all"' not in html and 'value="clear_member"' in html
    assert "deletes at most 20 selected messages" in html
    html = logged_in(client, auditor).get(page).content.decode()
    assert 'name="ids"' not in html and "purge-range" not in html and "Delete or hide" not in html


def test_it_answers_403_when_a_role_posts_an_action_it_never_has(client, chat, support):
    before = snapshot_chat()
    logged_in(client, support)
    response = post_scope(client, chat, {"action": "conversation", "what": "delete_all", "reason": "x"})
    assert response.status_code == 403
    assert b"Support may hide messages" in response.content
    nothing_changed(before)
    assert not PurgeRequest.objects.exists()


def test_it_answers_400_to_an_unknown_action(client, chat, moderator):
    assert post_scope(logged_in(client, moderator), chat, {"action": "nuke"}).status_code == 400


def test_it_accepts_state_changes_only_as_posts(client, chat, moderator):
    purge = a_preview(chat, moderator)
    logged_in(client, moderator)
    # (A GET of jobs:cancel is its confirmation page: tests/test_purge_staleness_pages.py,
    # test_cancel_asks_first_and_says_what_was_done_and_what_stops.)
    for name in ("purge:execute", "purge:preview_again", "jobs:resume", "jobs:close"):
        assert client.get(reverse(name, args=[purge.pk])).status_code == 405
    assert PurgeRequest.objects.get(pk=purge.pk).state == "previewed"
    assert client.post(reverse("jobs:detail", args=[purge.pk])).status_code == 405
