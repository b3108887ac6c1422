"""Issue 14, items 2 and 3: what a cancelled multi-conversation job did and did not do, its rest
resumed (with a new approval where the rest needs one) or closed; and stale previews: expired
after PURGE_PREVIEW_TTL, recounted on confirmation and asked again when the scope changed.

The rules live in chatdata.purge.remainder, .staleness and .refusals; the web, `manage.py purge`
and the API ask them, so each is tested here through the domain and then through each door.
"""

import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from chatdata.models import AuditEntry, Message, PurgeRequest
from chatdata.purge import remainder, staleness
from chatdata.purge.actions import (
    PurgeRefused,
    do_approve_purge,
    do_cancel_purge,
    do_close_purge,
    do_execute_purge,
    do_preview_again,
    do_preview_purge,
    do_resume_purge,
)
from chatdata.purge.execute import run_purge
from chatdata.purge.scopes import ConversationScope, ConversationsScope, MessagesScope, PurgeSpec
from tests.api_helpers import call, token_for
from tests.builders import make_conversation, make_history, make_message, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(db):
    from types import SimpleNamespace

    alice, bob = make_user("alice"), make_user("bob")
    # Three conversations of 4, 6 and 5 messages for a batch; a small one for single scopes.
    convs = [make_conversation("group", [alice, bob], external_id=f"c{i}", title=f"Chat {i}") for i in range(3)]
    team = make_conversation("group", [alice, bob], external_id="team", title="Team")
    return SimpleNamespace(
        alice=alice, bob=bob, convs=convs, team=team,
        history=[make_history(conv, alice, n) for conv, n in zip(convs, (4, 6, 5))],
        team_history=make_history(team, bob, 6),
    )


def batch_spec(chat):
    return PurgeSpec(ConversationsScope(tuple(c.pk for c in chat.convs)), "delete_for_everyone")


def actions_of(request):
    return list(AuditEntry.objects.filter(purge_request_id=request.pk).order_by("id").values_list("action", flat=True))


def queued(spec, actor, settings, *, approver=None):
    """A confirmed request that runs in the background (not yet picked up by a worker)."""
    settings.PURGE_INLINE_LIMIT = 0
    request = do_execute_purge(do_preview_purge(spec, actor=actor, reason="spam wave"), actor=actor)
    if request.state == "awaiting_approval":
        request = do_approve_purge(request, actor=approver)
    assert request.state == "queued"
    return request


def cancelled_midway(chat, actor, settings, *, steps=4, approver=None):
    """The batch of 15 messages, batches of 3: c0 (4) done after 3 steps (two batches and its
    finishing step), c1 (6) 3 of 6 after the fourth; then cancelled at that batch boundary."""
    settings.PURGE_BATCH_SIZE = 3
    request = queued(batch_spec(chat), actor, settings, approver=approver)
    run_purge(request.pk, request.attempt, max_steps=steps, paced=False)
    request = do_cancel_purge(request, actor=actor)
    assert request.cancel_requested
    run_purge(request.pk, request.attempt, paced=False)
    request.refresh_from_db()
    assert request.state == "cancelled"
    return request


def items_of(request):
    return [(i.conversation_external_id, i.status, (i.counts or {}).get("messages")) for i in request.items.order_by("position")]


# --- item 2: the results after a cancel -----------------------------------------------------------


def test_it_says_per_conversation_what_a_cancelled_batch_did_and_did_not(chat, moderator, settings):
    request = cancelled_midway(chat, moderator, settings)
    assert items_of(request) == [("c0", "ok", 4), ("c1", "cancelled", 3), ("c2", "not_started", None)]
    assert Message.objects.filter(conversation=chat.convs[0]).count() == 0
    assert Message.objects.filter(conversation=chat.convs[1]).count() == 3
    assert Message.objects.filter(conversation=chat.convs[2]).count() == 5
    stopped = request.items.get(position=1)
    assert "after 3 of 6 messages" in stopped.reason
    shown = remainder.picture(request)
    assert (shown.processed, shown.remaining, shown.finished, shown.stopped, shown.untouched, shown.drift) == (7, 8, 1, "c1", 1, 0)


def test_a_request_cancelled_before_it_ran_started_no_conversation(chat, moderator, settings):
    request = do_cancel_purge(queued(batch_spec(chat), moderator, settings), actor=moderator)
    assert [status for _, status, _ in items_of(request)] == ["not_started"] * 3
    assert remainder.picture(request).remaining == 15


def test_a_resumed_request_does_the_rest_from_its_checkpoint(chat, moderator, settings):
    request = cancelled_midway(chat, moderator, settings)
    request = do_resume_purge(request, actor=moderator)
    assert request.state == "queued" and [s for _, s, _ in items_of(request)] == ["ok", "pending", "pending"]
    run_purge(request.pk, request.attempt, paced=False)
    request.refresh_from_db()
    assert request.state == "done" and request.result["messages"] == 15
    assert items_of(request) == [("c0", "ok", 4), ("c1", "ok", 6), ("c2", "ok", 5)]
    assert not Message.objects.filter(conversation__in=chat.convs).exists()
    assert actions_of(request)[-3:] == ["purge.cancel", "purge.resume", "purge.complete"]


def test_a_rest_above_the_approval_threshold_needs_its_own_new_approval(chat, moderator, moderator2, settings):
    settings.PURGE_APPROVAL_THRESHOLD = 7
    request = cancelled_midway(chat, moderator, settings, approver=moderator2)
    assert remainder.resume_needs_approval(request)  # 8 left > 7
    request = do_resume_purge(request, actor=moderator)
    assert request.state == "awaiting_approval" and request.approved_by is None
    entry = AuditEntry.objects.filter(purge_request_id=request.pk, action="purge.resume").latest("id")
    assert "8 messages left, which need a new approval" in entry.reason
    with pytest.raises(PurgeRefused) as caught:
        do_approve_purge(request, actor=moderator)  # never one's own
    assert caught.value.code == "not_permitted"
    request = do_approve_purge(request, actor=moderator2)
    run_purge(request.pk, request.attempt, paced=False)
    request.refresh_from_db()
    assert request.state == "done" and request.processed_messages == 15


def test_a_small_rest_resumes_without_a_new_approval(chat, moderator, moderator2, settings):
    settings.PURGE_APPROVAL_THRESHOLD = 12
    request = cancelled_midway(chat, moderator, settings, approver=moderator2)  # 15 > 12: approved first
    assert remainder.remaining_messages(request) <= 12
    assert do_resume_purge(request, actor=moderator).state == "queued"


def test_a_cancelled_request_can_be_closed_for_good(chat, moderator, auditor, settings):
    request = cancelled_midway(chat, moderator, settings)
    with pytest.raises(PurgeRefused) as caught:
        do_close_purge(request, actor=auditor)
    assert caught.value.code == "not_permitted"
    request = do_close_purge(request, actor=moderator, reason="the rest was handled by hand")
    assert (request.state, request.closed_by, request.is_final) == ("closed", moderator, True)
    entry = AuditEntry.objects.filter(purge_request_id=request.pk, action="purge.close").get()
    assert "the 8 messages left are not deleted" in entry.reason and "by hand" in entry.reason
    for action in (do_close_purge, do_resume_purge, do_cancel_purge):
        with pytest.raises(PurgeRefused) as caught:
            action(request, actor=moderator)
        assert caught.value.code == "bad_state"
    assert actions_of(request).count("purge.refused") == 4  # the auditor's and these three
    assert Message.objects.filter(conversation__in=chat.convs).count() == 8


@pytest.mark.parametrize("state", ["previewed", "queued", "done", "failed"])
def test_only_a_cancelled_request_is_closed(chat, moderator, settings, state):
    request = do_preview_purge(batch_spec(chat), actor=moderator, reason="x")
    PurgeRequest.objects.filter(pk=request.pk).update(state=state, executed_by=moderator)
    with pytest.raises(PurgeRefused, match="Only a cancelled request can be closed"):
        do_close_purge(request, actor=moderator)


def test_a_discarded_preview_has_no_rest_to_resume_or_close(chat, moderator):
    request = do_cancel_purge(do_preview_purge(batch_spec(chat), actor=moderator, reason="x"), actor=moderator)
    for action in (do_resume_purge, do_close_purge):
        with pytest.raises(PurgeRefused, match="discarded before anyone confirmed it"):
            action(request, actor=moderator)


# --- item 3: expiry ---------------------------------------------------------------------------------


def age(request, seconds):
    PurgeRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))
    request.refresh_from_db()
    return request


def team_spec(chat):
    return PurgeSpec(ConversationScope(chat.team.pk), "delete_for_everyone")


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


# --- the web -----------------------------------------------------------------------------------------


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


# --- the command line and the API --------------------------------------------------------------------


def command(*args):
    try:
        call_command("purge", *args)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, ""


def test_the_command_refuses_an_expired_preview_and_previews_again(chat, moderator, settings, capsys):
    request = age(do_preview_purge(team_spec(chat), actor=moderator, reason="x"), settings.PURGE_PREVIEW_TTL)
    status, message = command("--execute", str(request.pk), "--actor", "mona")
    assert status == 3 and "expired" in message and f"--preview-again {request.pk}" in message
    assert command("--preview-again", str(request.pk), "--actor", "mona")[0] == 0
    new = PurgeRequest.objects.latest("id")
    assert f"Purge request #{new.pk}: previewed" in capsys.readouterr().out


def test_the_command_asks_again_for_a_changed_scope_then_closes_a_cancelled_one(chat, moderator, settings, capsys):
    request = do_preview_purge(team_spec(chat), actor=moderator, reason="x")
    chat.team_history[0].delete()
    status, message = command("--execute", str(request.pk), "--actor", "mona", "--confirm", "6")
    assert status == 3 and "messages 6 → 5" in message and f"--execute {request.pk} again" in message
    assert "previewed: messages 5" in capsys.readouterr().out
    assert command("--execute", str(request.pk), "--actor", "mona", "--confirm", "6")[0] == 2  # the new count confirms it
    assert command("--execute", str(request.pk), "--actor", "mona", "--confirm", "5")[0] == 0
    cancelled = cancelled_midway(chat, moderator, settings)
    capsys.readouterr()
    assert command("--status", str(cancelled.pk))[0] == 0
    assert f"--resume {cancelled.pk} runs the rest, --close {cancelled.pk}" in capsys.readouterr().out
    assert command("--close", str(cancelled.pk), "--actor", "mona")[0] == 0
    assert PurgeRequest.objects.get(pk=cancelled.pk).state == "closed"


def test_the_api_closes_a_cancelled_request_and_names_expired_previews(client, chat, moderator, settings):
    secret = token_for(moderator)
    request = cancelled_midway(chat, moderator, settings)
    response = call(client, "post", f"/purge-requests/{request.pk}/close", secret, {"reason": "by hand"})
    assert response.status_code == 200 and response.json()["state"] == "closed"
    assert call(client, "post", f"/purge-requests/{request.pk}/close", secret, {}).json()["code"] == "bad_state"
    old = age(do_preview_purge(team_spec(chat), actor=moderator, reason="x"), settings.PURGE_PREVIEW_TTL)
    body = call(client, "get", f"/purge-requests/{old.pk}", secret).json()
    assert (body["state"], body["expired"]) == ("previewed", True)
    assert [r["id"] for r in call(client, "get", "/purge-requests", secret, state="expired").json()["results"]] == [old.pk]
    response = call(client, "post", f"/purge-requests/{old.pk}/execute", secret)
    assert (response.status_code, response.json()["code"]) == (409, "expired")
    response = call(client, "post", f"/purge-requests/{old.pk}/preview-again", secret)
    assert response.status_code == 201 and response.json()["state"] == "previewed"
