"""The chat the deletion workflow's view tests share (their `chat`: a team group, an untitled
group and a room) and their helpers: log in, post a scope, follow it to its preview, read the
errors next to a field, check that no chat table changed.

Plain asserts here are rewritten by pytest (tests/conftest.py registers this module)."""

import re

import pytest
from django.urls import reverse

from chatdata.models import PurgeRequest
from chatdata.purge.actions import do_preview_purge
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import add_attachment, add_reaction, make_conversation, make_history, make_user, snapshot_chat


@pytest.fixture
def chat(db):
    class Chat:
        alice, bob, carol = make_user("alice", "Alice"), make_user("bob", "Bob"), make_user("carol", "Carol")
        team = make_conversation("group", [alice, bob, carol], external_id="g-team", title="Team")
        untitled = make_conversation("group", [alice, bob], external_id="g-untitled", title="")
        lobby = make_conversation("room", [alice, bob], external_id="r-lobby", title="Lobby")
        history = make_history(team, alice, 12)  # hourly from T0
        others = make_history(untitled, bob, 4)
        lobby_history = make_history(lobby, carol, 3)

    add_reaction(Chat.history[0], Chat.bob)
    add_attachment(Chat.history[1])
    return Chat


def logged_in(client, user):
    client.force_login(user)
    return client


def nothing_changed(before):
    assert snapshot_chat() == before


def field_errors(response, name):
    """The error messages rendered inside the field groups `field--<name>` (of every form on the page)."""
    html = response.content.decode()
    groups = re.findall(rf'<div class="field field--{name}">(.*?)(?=<div class="field field--|</form>)', html, re.S)
    assert groups, f"no field group for {name}"
    return " ".join(re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', " ".join(groups), re.S))


def select(chat, ids, effect="delete_for_everyone", reason="spam", **extra):
    return {"action": "messages", "ids": [str(i) for i in ids], "effect": effect, "reason": reason, "ticket": "T-1", **extra}


def post_scope(client, chat, data):
    return client.post(reverse("purge:conversation", args=[chat.team.pk]), data)


def preview_from(response):
    assert response.status_code == 302, response.content.decode()[:2000]
    pk = int(response.url.rstrip("/").rsplit("/", 1)[1])
    assert response.url == reverse("purge:request", args=[pk])
    return PurgeRequest.objects.get(pk=pk)


def a_preview(chat, actor):
    return do_preview_purge(PurgeSpec(ConversationScope(chat.team.pk), "delete_for_everyone"), actor=actor, reason="r")
