"""Issue 14, item 3 (tests/purge_staleness.py): stale previews, expired after PURGE_PREVIEW_TTL (and
previewed again), recounted on confirmation and asked again when the scope changed."""

import pytest

from chatdata.models import AuditEntry, Message, PurgeRequest
from chatdata.purge import staleness
from chatdata.purge.actions import PurgeRefused, do_execute_purge, do_preview_again, do_preview_purge
from chatdata.purge.scopes import MessagesScope, PurgeSpec
from tests.builders import make_message
from tests.purge_staleness import actions_of, age, batch_spec, chat, team_spec  # noqa: F401 (chat is a fixture)

pytestmark = pytest.mark.django_db


# --- item 3: expiry ---------------------------------------------------------------------------------


def test_a_preview_expires_after_its_ttl(chat, moderator, settings):
    settings.PURGE_PREVIEW_TTL = 600
    request = do_preview_purge(team_spec(chat), actor=moderator, reason="x")
    assert not age(request, 599).is_expired and request.shown_state == "previewed"
    assert age(request, 600).is_expired and request.shown_state == "expired"
    with pytest.raises(PurgeRefused) as caught:
        do_execute_purge(request, actor=moderator)
    assert caught.value.code == "expired" and "good for 10 minutes" in caught.value.message
    assert actions_of(request) == ["purge.preview", "purge.refused"]
    assert Message.objects.filter(conversation=chat.team).count() == 6


def test_preview_again_makes_a_new_preview_and_discards_the_old(chat, moderator, moderator2, settings):
    request = age(do_preview_purge(team_spec(chat), actor=moderator, reason="spam", ticket="T-1"), settings.PURGE_PREVIEW_TTL)
    with pytest.raises(PurgeRefused) as caught:
        do_preview_again(request, actor=moderator2)
    assert caught.value.code == "not_permitted"
    new = do_preview_again(request, actor=moderator)
    request.refresh_from_db()
    assert (new.state, new.reason, new.ticket, new.preview["messages"]) == ("previewed", "spam", "T-1", 6)
    assert request.state == "cancelled" and f"Superseded by preview #{new.pk}" in AuditEntry.objects.latest("id").reason
    assert do_execute_purge(new, actor=moderator).state == "done"


def test_the_state_filter_knows_expired_previews(chat, moderator, settings):
    fresh = do_preview_purge(team_spec(chat), actor=moderator, reason="x")
    old = age(do_preview_purge(batch_spec(chat), actor=moderator, reason="x"), settings.PURGE_PREVIEW_TTL + 5)
    rows = PurgeRequest.objects.all()
    assert list(staleness.filter_state(rows, "expired")) == [old]
    assert list(staleness.filter_state(rows, "previewed")) == [fresh]


# --- item 3: the recount on confirmation ------------------------------------------------------------


def test_a_preview_whose_messages_another_purge_deleted_is_not_run(chat, moderator):
    """The issue's case: a preview of 6 messages, deleted since by another purge."""
    ids = tuple(m.pk for m in chat.team_history)
    stale = do_preview_purge(PurgeSpec(MessagesScope(ids, chat.team.pk), "delete_for_everyone"), actor=moderator, reason="x")
    assert do_execute_purge(do_preview_purge(team_spec(chat), actor=moderator, reason="y"), actor=moderator).state == "done"
    with pytest.raises(PurgeRefused) as caught:
        do_execute_purge(stale, actor=moderator)
    assert caught.value.code == "scope_changed" and "Nothing is left to do" in caught.value.message
    stale.refresh_from_db()
    assert stale.state == "cancelled" and stale.result is None and stale.preview["messages"] == 0
    assert actions_of(stale) == ["purge.preview", "purge.recount", "purge.refused"]


def test_a_changed_scope_is_recounted_and_asked_again(chat, moderator):
    request = do_preview_purge(team_spec(chat), actor=moderator, reason="x")
    Message.objects.filter(pk__in=[chat.team_history[0].pk, chat.team_history[1].pk]).delete()
    with pytest.raises(PurgeRefused) as caught:
        do_execute_purge(request, actor=moderator)
    assert caught.value.code == "scope_changed" and "messages 6 → 4" in caught.value.message
    request.refresh_from_db()
    assert (request.state, request.preview["messages"], request.total_messages) == ("previewed", 4, 4)
    assert request.preview["recount"]["changes"] == [["messages", 6, 4]]
    request = do_execute_purge(request, actor=moderator)  # confirmed again, for the new count
    assert (request.state, request.result["messages"]) == ("done", 4)


def test_a_changed_conversation_of_a_batch_is_named(chat, moderator):
    request = do_preview_purge(batch_spec(chat), actor=moderator, reason="x")
    chat.history[2][0].delete()
    with pytest.raises(PurgeRefused, match="messages in c2 5 → 4"):
        do_execute_purge(request, actor=moderator)
    assert request.items.get(position=2).preview["messages"] == 4


def test_new_messages_above_the_high_water_mark_do_not_make_a_preview_stale(chat, moderator):
    request = do_preview_purge(team_spec(chat), actor=moderator, reason="x")
    late = make_message(chat.team, chat.alice, body="after the preview")
    request = do_execute_purge(request, actor=moderator)
    assert (request.state, request.result["messages"]) == ("done", 6)
    assert list(Message.objects.filter(conversation=chat.team)) == [late]
