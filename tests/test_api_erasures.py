"""Erasure requests over the API (issue 15): open, export, approve by a second officer, run on a
worker, certificate; refusals with their statuses."""

import io
import json
import zipfile

import django_rq
import pytest

from chatdata.models import ErasureRequest, Message
from tests.api_helpers import call, token_for
from tests.builders import make_conversation, make_history, make_user
from tests.conftest import make_staff


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps what migrations wrote for the tests after
def test_it_erases_a_subject_end_to_end(client, compliance, auditor, moderator, redis_conn):
    uma, bob = make_user("uma", "Uma Subject"), make_user("bob")
    group = make_conversation("group", [uma, bob], external_id="grp")
    make_history(group, uma, 4)
    make_history(group, bob, 2)
    cleo = token_for(compliance)
    cora = token_for(make_staff("cora", "compliance"))
    assert call(client, "post", "/erasure-requests", token_for(moderator), {"user": "uma", "ticket": "DSR-1"}).status_code == 403
    bad = call(client, "post", "/erasure-requests", cleo, {"user": "nobody", "ticket": "DSR-1"})
    assert bad.status_code == 422 and bad.json()["errors"][0] == {"field": "user", "message": "No chat user with id nobody."}
    opened = call(client, "post", "/erasure-requests", cleo, {"user": "uma", "ticket": "DSR-1"})
    assert opened.status_code == 201 and opened.json()["state"] == "awaiting_approval"
    pk = opened.json()["id"]

    export = client.get(f"/api/v1/erasure-requests/{pk}/export", headers={"Authorization": f"Bearer {cleo}"})
    assert export.status_code == 200 and export["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(export.streaming_content)))
    assert json.loads(archive.read("manifest.json"))["counts"]["messages"] == 4

    assert call(client, "post", f"/erasure-requests/{pk}/approve", cleo).status_code == 403  # one's own
    assert call(client, "get", f"/erasure-requests/{pk}/certificate", cleo).status_code == 409  # none yet
    assert call(client, "post", f"/erasure-requests/{pk}/approve", cora).status_code == 422  # the subject's id, typed
    assert call(client, "post", f"/erasure-requests/{pk}/approve", cora, {"confirmation": "uma"}).json()["state"] == "running"
    django_rq.get_worker("default").work(burst=True)

    done = call(client, "get", f"/erasure-requests/{pk}", token_for(auditor)).json()
    assert done["state"] == "done" and done["certificate"] is True
    assert not Message.objects.filter(sender=uma).exists() and Message.objects.filter(sender=bob).count() == 2
    certificate = call(client, "get", f"/erasure-requests/{pk}/certificate", token_for(auditor)).json()
    assert certificate["signature"]["value"]
    assert call(client, "post", f"/erasure-requests/{pk}/cancel", cleo).status_code == 409
    listed = call(client, "get", "/erasure-requests", cleo, state="done").json()["results"]
    assert [e["id"] for e in listed] == [pk]
    assert ErasureRequest.objects.get(pk=pk).state == "done"
