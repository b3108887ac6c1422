"""API tokens and the API are audited: every state-changing call an auditor's token is refused
writes exactly one entry, and a purge made through the API names the token (tests/audit_coverage.py)."""

import re

import pytest

from chatdata.models import AuditEntry
from chatdata.purge.holds import do_add_legal_hold
from tests.audit_coverage import (  # noqa: F401 (world and signed_in are fixtures)
    STATE_CHANGING, awaiting, entries_written, expect_status, refused_once, signed_in, succeeded, world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_creating_and_revoking_an_api_token(signed_in, world):
    from chatdata.models import ApiToken

    succeeded(lambda: expect_status(signed_in[world.mona].post("/tokens/new/", {"name": "ci"}), 201, 302), "api_token.create")
    token = ApiToken.objects.get(owner=world.mona)
    refused_once(lambda: expect_status(signed_in[world.max].post(f"/tokens/{token.pk}/revoke/"), 403, 404, 302))
    succeeded(lambda: expect_status(signed_in[world.mona].post(f"/tokens/{token.pk}/revoke/"), 302), "api_token.revoke")


def api_call(client, secret, path, body=None):
    import json

    return client.post(f"/api/v1/{path}", json.dumps(body or {}), content_type="application/json",
                       headers={"Authorization": f"Bearer {secret}"})


def test_every_state_changing_api_call_refused_to_an_auditor_writes_one_entry(client, world, settings):
    from chatdata.erasure.actions import do_open_erasure
    from tests.api_helpers import token_for

    purge = awaiting(world, settings)
    erasure = do_open_erasure(actor=world.cleo, subject="alice", ticket="DSR-1")
    hold = do_add_legal_hold(actor=world.cleo, conversation=world.other, reason="case 8")
    secret = token_for(world.audrey)
    calls = [
        ("purge-requests", {"scope": {"kind": "conversation", "conversation": world.group.pk}, "effect": "delete_for_everyone",
                            "reason": "spam"}),
        *((f"purge-requests/{purge.pk}/{verb}", {"reason": "no"} if verb == "reject" else {})
          for verb in ("execute", "approve", "reject", "cancel", "resume", "close", "preview-again")),
        ("erasure-requests", {"user": "bob", "ticket": "DSR-2"}),
        *((f"erasure-requests/{erasure.pk}/{verb}", {"reason": "no"} if verb == "reject" else {})
          for verb in ("approve", "reject", "cancel", "resume", "outside-holds")),
        ("legal-holds", {"kind": "conversation", "subject": "grp", "reason": "case 9"}),
        (f"legal-holds/{hold.pk}/release", {"reason": "closed"}),
    ]
    exercised = {"api/v1/" + re.sub(r"/\d+/", "/<int:pk>/", re.sub(r"/\d+$", "/<int:pk>", path)) for path, _ in calls}
    assert exercised == {route for route in STATE_CHANGING if route.startswith("api/v1/")}
    for path, body in calls:
        written = entries_written(lambda: expect_status(api_call(client, secret, path, body), 403, 409, 422))
        assert len(written) == 1, f"POST /api/v1/{path}: a refusal must write exactly one entry, wrote {written}"


def test_a_purge_through_the_api_is_audited_with_the_tokens_name(client, world):
    from tests.api_helpers import token_for

    secret = token_for(world.mona, name="ticketing")
    body = {"scope": {"kind": "conversation", "conversation": world.group.pk}, "effect": "delete_for_everyone", "reason": "spam"}
    succeeded(lambda: expect_status(api_call(client, secret, "purge-requests", body), 200, 201), "purge.preview")
    assert AuditEntry.objects.filter(action="purge.preview").latest("id").api_token == "ticketing"
