"""Legal holds, the audit log's export and erasure requests are audited: each refused attempt writes
exactly one entry, each success the action's own (tests/audit_coverage.py)."""

import pytest

from chatdata.models import LegalHold
from chatdata.purge.holds import do_add_legal_hold
from tests.audit_coverage import (  # noqa: F401 (world and signed_in are fixtures)
    expect_status, refused_once, signed_in, succeeded, world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


# --- legal holds and the audit log ----------------------------------------------------------------


def test_placing_a_hold(signed_in, world):
    data = {"kind": "conversation", "external_id": "grp", "reason": "case 7"}
    refused_once(lambda: expect_status(signed_in[world.mona].post("/holds/new/", data), 403), "request.refused")
    succeeded(lambda: expect_status(signed_in[world.cleo].post("/holds/new/", data), 302), "hold.add")


def test_releasing_a_hold(signed_in, world):
    hold = do_add_legal_hold(actor=world.cleo, conversation=world.group, reason="case 7")
    url = f"/holds/{hold.pk}/release/"
    refused_once(lambda: expect_status(signed_in[world.mona].post(url, {"reason": "x"}), 403), "request.refused")
    succeeded(lambda: expect_status(signed_in[world.cleo].post(url, {"reason": "closed"}), 302), "hold.release")
    refused_once(lambda: expect_status(signed_in[world.cleo].post(url, {"reason": "again"}), 302), "hold.refused")
    assert not LegalHold.objects.get(pk=hold.pk).is_active


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_exporting_the_audit_log(signed_in, world, fmt):
    url = f"/audit/export.{fmt}"
    refused_once(lambda: expect_status(signed_in[world.mona].post(url), 403), "request.refused")
    succeeded(lambda: expect_status(signed_in[world.cleo].post(url), 200), "audit.export")


# --- erasure requests ----------------------------------------------------------------------------


def an_erasure(world, subject=None):
    from chatdata.erasure.actions import do_open_erasure

    return do_open_erasure(actor=world.cleo, subject=(subject or world.alice).external_id, ticket="DSR-1")


def test_opening_an_erasure(signed_in, world):
    data = {"user": "alice", "ticket": "DSR-7", "peer_conversations": "keep"}
    refused_once(lambda: expect_status(signed_in[world.mona].post("/erasures/new/", data), 403), "request.refused")
    refused_once(lambda: expect_status(signed_in[world.cleo].post("/erasures/new/", {**data, "user": "nobody"}), 400))
    succeeded(lambda: expect_status(signed_in[world.cleo].post("/erasures/new/", data), 302), "erasure.open")


def test_approving_and_rejecting_an_erasure(signed_in, world, django_capture_on_commit_callbacks):
    erasure = an_erasure(world)
    refused_once(lambda: expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/approve/"), 302), "erasure.refused")
    refused_once(lambda: expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/reject/", {"reason": "no"}), 302),
                 "erasure.refused")
    refused_once(lambda: expect_status(signed_in[world.mona].post(f"/erasures/{erasure.pk}/reject/", {"reason": "no"}), 403))
    succeeded(lambda: expect_status(signed_in[world.root].post(f"/erasures/{erasure.pk}/reject/", {"reason": "wrong ticket"}), 302),
              "erasure.reject")
    other = an_erasure(world, world.bob)
    with django_capture_on_commit_callbacks(execute=False):
        succeeded(lambda: expect_status(signed_in[world.root].post(f"/erasures/{other.pk}/approve/", {"confirmation": "bob"}), 302),
                  "erasure.approve")


def test_erasing_everything_not_held(signed_in, world):
    hold = do_add_legal_hold(actor=world.cleo, user=world.alice, reason="case 7")
    erasure = an_erasure(world)
    assert erasure.state == "blocked"
    url = f"/erasures/{erasure.pk}/outside-holds/"
    refused_once(lambda: expect_status(signed_in[world.mona].post(url), 403))
    refused_once(lambda: expect_status(signed_in[world.audrey].post(url), 302), "erasure.refused")
    succeeded(lambda: expect_status(signed_in[world.cleo].post(url), 302), "erasure.outside_holds")
    refused_once(lambda: expect_status(signed_in[world.cleo].post(url), 302), "erasure.refused")  # not blocked any more
    assert hold.is_active


def test_cancelling_and_resuming_an_erasure(signed_in, world):
    erasure = an_erasure(world)
    refused_once(lambda: expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/resume/"), 302), "erasure.refused")
    refused_once(lambda: expect_status(signed_in[world.mona].post(f"/erasures/{erasure.pk}/cancel/"), 403))
    succeeded(lambda: expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/cancel/"), 302), "erasure.cancel")
    refused_once(lambda: expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/cancel/"), 302), "erasure.refused")


def test_exporting_a_subjects_data(signed_in, world):
    erasure = an_erasure(world)
    refused_once(lambda: expect_status(signed_in[world.mona].post(f"/erasures/{erasure.pk}/export/"), 403))
    succeeded(lambda: b"".join(expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/export/"), 200).streaming_content),
              "erasure.export")
