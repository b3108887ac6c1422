"""Issue 14, item 2 (tests/purge_staleness.py): what a cancelled multi-conversation job did and did
not do, per conversation; its rest resumed (with a new approval where the rest needs one) or closed."""

import pytest

from chatdata.models import AuditEntry, Message, PurgeRequest
from chatdata.purge import remainder
from chatdata.purge.actions import PurgeRefused, do_approve_purge, do_cancel_purge, do_close_purge, do_preview_purge, do_resume_purge
from chatdata.purge.execute import run_purge
from tests.purge_staleness import actions_of, batch_spec, cancelled_midway, chat, queued  # noqa: F401 (chat is a fixture)

pytestmark = pytest.mark.django_db


def items_of(request):
    return [(i.conversation_external_id, i.status, (i.counts or {}).get("messages")) for i in request.items.order_by("position")]


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
