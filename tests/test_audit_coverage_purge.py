"""The deletion workflow's pages are audited: each refused attempt writes exactly one entry, each
success the action's own (tests/audit_coverage.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatdata.models import PurgeRequest
from chatdata.purge.actions import do_execute_purge
from tests.audit_coverage import (  # noqa: F401 (world and signed_in are fixtures)
    a_preview, awaiting, entries_written, expect_status, refused_once, signed_in, succeeded, world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_previewing_from_a_conversation(signed_in, world):
    url = f"/conversations/{world.group.pk}/purge/"
    data = {"action": "conversation", "what": "delete_all", "reason": "spam"}
    refused_once(lambda: expect_status(signed_in[world.audrey].post(url, data), 403), "request.refused")
    succeeded(lambda: expect_status(signed_in[world.mona].post(url, data), 302), "purge.preview")


def test_previewing_a_batch_of_conversations(signed_in, world):
    data = {"conversations": [world.group.pk, world.other.pk], "what": "delete_all", "reason": "spam"}
    refused_once(lambda: expect_status(signed_in[world.sam].post("/conversations/purge/", data), 403))
    succeeded(lambda: expect_status(signed_in[world.mona].post("/conversations/purge/", data), 302), "purge.preview")


def test_previewing_what_a_search_found(signed_in, world):
    data = {"q": "message", "effect": "delete_for_everyone", "reason": "spam"}
    refused_once(lambda: expect_status(signed_in[world.sam].post("/search/purge/", data), 403), "request.refused")
    succeeded(lambda: expect_status(signed_in[world.mona].post("/search/purge/", data), 302), "purge.preview")


def test_previewing_a_user_erasure(signed_in, world):
    url = f"/users/{world.alice.pk}/purge/"
    data = {"span": "all", "reason": "erasure", "ticket": "DSR-1"}
    refused_once(lambda: expect_status(signed_in[world.mona].post(url, data), 403))
    succeeded(lambda: expect_status(signed_in[world.cleo].post(url, data), 302), "purge.preview")


def test_executing(signed_in, world, django_capture_on_commit_callbacks):
    purge = a_preview(world)
    url = f"/purge/{purge.pk}/execute/"
    data = {"confirmation": str(purge.total_messages)}
    refused_once(lambda: expect_status(signed_in[world.max].post(url, data), 403), "purge.refused")
    with django_capture_on_commit_callbacks(execute=True):
        succeeded(lambda: expect_status(signed_in[world.mona].post(url, data), 302), "purge.start")
    # Again: the request is done now, and the engine says so (and records the attempt).
    refused_once(lambda: expect_status(signed_in[world.mona].post(url, data), 302), "purge.refused")


def test_approving(signed_in, world, settings, django_capture_on_commit_callbacks):
    purge = awaiting(world, settings)
    url = f"/approvals/{purge.pk}/approve/"
    typed = {"confirmation": str(purge.total_messages)}
    refused_once(lambda: expect_status(signed_in[world.mona].post(url, typed), 302), "purge.refused")  # their own
    refused_once(lambda: expect_status(signed_in[world.sam].post(url, typed), 403), "request.refused")  # no queue
    # A confirmation that does not match is bad input: a 400, recorded by the safety net.
    refused_once(lambda: expect_status(signed_in[world.max].post(url, {"confirmation": "1"}), 400), "request.refused")
    with django_capture_on_commit_callbacks(execute=True):
        succeeded(lambda: expect_status(signed_in[world.max].post(url, typed), 302), "purge.approve")


def test_rejecting(signed_in, world, settings):
    purge = awaiting(world, settings)
    url = f"/approvals/{purge.pk}/reject/"
    refused_once(lambda: expect_status(signed_in[world.mona].post(url, {"reason": "no"}), 302), "purge.refused")
    refused_once(lambda: expect_status(signed_in[world.max].post(url, {"reason": ""}), 400), "request.refused")
    succeeded(lambda: expect_status(signed_in[world.max].post(url, {"reason": "too broad"}), 302), "purge.reject")


def test_cancelling(signed_in, world):
    purge = a_preview(world)
    url = f"/jobs/{purge.pk}/cancel/"
    refused_once(lambda: expect_status(signed_in[world.audrey].post(url), 403), "purge.refused")
    succeeded(lambda: expect_status(signed_in[world.mona].post(url), 302), "purge.cancel")
    refused_once(lambda: expect_status(signed_in[world.mona].post(url), 302), "purge.refused")  # already cancelled


def test_resuming(signed_in, world, django_capture_on_commit_callbacks):
    purge = a_preview(world)
    url = f"/jobs/{purge.pk}/resume/"
    refused_once(lambda: expect_status(signed_in[world.mona].post(url), 302), "purge.refused")  # only previewed
    PurgeRequest.objects.filter(pk=purge.pk).update(state=PurgeRequest.State.FAILED, runs_inline=True)
    refused_once(lambda: expect_status(signed_in[world.audrey].post(url), 403), "purge.refused")
    with django_capture_on_commit_callbacks(execute=True):
        succeeded(lambda: expect_status(signed_in[world.mona].post(url), 302), "purge.resume")


def a_cancelled_run(world, settings):
    """mona's request, confirmed (queued in the background) and cancelled before it ran."""
    settings.PURGE_INLINE_LIMIT = 0
    purge = do_execute_purge(a_preview(world), actor=world.mona)
    from chatdata.purge.actions import do_cancel_purge

    return do_cancel_purge(purge, actor=world.mona)


def test_the_cancel_confirmation_page_writes_nothing(signed_in, world, settings):
    purge = a_cancelled_run(world, settings)
    assert entries_written(lambda: expect_status(signed_in[world.mona].get(f"/jobs/{purge.pk}/cancel/"), 200)) == []


def test_closing(signed_in, world, settings):
    purge = a_cancelled_run(world, settings)
    url = f"/jobs/{purge.pk}/close/"
    refused_once(lambda: expect_status(signed_in[world.audrey].post(url), 403), "purge.refused")
    succeeded(lambda: expect_status(signed_in[world.mona].post(url, {"reason": "done by hand"}), 302), "purge.close")
    refused_once(lambda: expect_status(signed_in[world.mona].post(url), 302), "purge.refused")  # already closed


def test_resuming_a_cancelled_request(signed_in, world, settings, django_capture_on_commit_callbacks):
    purge = a_cancelled_run(world, settings)
    url = f"/jobs/{purge.pk}/resume/"
    refused_once(lambda: expect_status(signed_in[world.audrey].post(url), 403), "purge.refused")
    with django_capture_on_commit_callbacks(execute=False):
        succeeded(lambda: expect_status(signed_in[world.mona].post(url), 302), "purge.resume")


def test_previewing_again(signed_in, world):
    purge = a_preview(world)
    url = f"/purge/{purge.pk}/preview-again/"
    refused_once(lambda: expect_status(signed_in[world.max].post(url), 403), "purge.refused")  # not theirs
    written = succeeded(lambda: expect_status(signed_in[world.mona].post(url), 302), "purge.preview")
    assert written == ["purge.preview", "purge.cancel"]  # the new preview, the old one discarded
    refused_once(lambda: expect_status(signed_in[world.mona].post(url), 302), "purge.refused")  # no longer previewed


def test_executing_an_expired_or_changed_preview(signed_in, world, settings):
    from chatdata.models import Message

    purge = a_preview(world)
    url = f"/purge/{purge.pk}/execute/"
    PurgeRequest.objects.filter(pk=purge.pk).update(created_at=timezone.now() - timedelta(seconds=settings.PURGE_PREVIEW_TTL + 1))
    refused_once(lambda: expect_status(signed_in[world.mona].post(url, {"confirmation": "6"}), 302), "purge.refused")
    PurgeRequest.objects.filter(pk=purge.pk).update(created_at=timezone.now())
    Message.objects.filter(pk=Message.objects.filter(conversation=world.group).order_by("id").values("id")[:1]).delete()
    written = entries_written(lambda: expect_status(signed_in[world.mona].post(url, {"confirmation": "6"}), 302))
