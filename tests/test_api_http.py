"""End to end over real HTTP (a live server) with a real RQ worker: a purge created by one
token, approved by a second person's, run on the worker, its result read back; the sync feed
then carries its events; a hold and an audit query (issue 15, "Done when")."""

import django_rq
import pytest
import requests

from tests.api_helpers import token_for
from tests.builders import make_conversation, make_history, make_user


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps what migrations wrote for the tests after
def test_it_runs_a_purge_through_the_api_on_a_worker(live_server, moderator, moderator2, compliance, auditor, settings):
    settings.PURGE_APPROVAL_THRESHOLD = 5
    settings.PURGE_INLINE_LIMIT = 0
    alice, bob = make_user("alice"), make_user("bob")
    group = make_conversation("group", [alice, bob], external_id="grp")
    make_history(group, alice, 12)
    api = f"{live_server.url}/api/v1"

    def session(user, name):
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token_for(user, name=name)}"
        return s

    mona, max_, cleo, audrey = session(moderator, "mona-bot"), session(moderator2, "max-bot"), session(compliance, "c"), session(auditor, "a")
    created = mona.post(f"{api}/purge-requests", json={
        "scope": {"kind": "conversation", "conversation": "grp"}, "effect": "delete_for_everyone",
        "reason": "spam wave", "ticket": "T-9", "external_ids": True,
    })
    assert created.status_code == 201 and created.json()["preview"]["messages"] == 12
    pk = created.json()["id"]
    typed = {"confirmation": "12"}  # what the web asks them to type
    assert mona.post(f"{api}/purge-requests/{pk}/execute", json=typed).json()["state"] == "awaiting_approval"
    assert mona.post(f"{api}/purge-requests/{pk}/approve", json=typed).status_code == 403
    assert max_.post(f"{api}/purge-requests/{pk}/approve", json=typed).json()["state"] == "queued"

    django_rq.get_worker("default").work(burst=True)
    done = mona.get(f"{api}/purge-requests/{pk}").json()
    assert done["state"] == "done" and done["result"]["messages"] == 12 and done["approved_by"] == "max"

    feed = mona.get(f"{api}/sync-events", params={"after": 0}).json()
    assert sorted((e["user_external_id"], e["kind"]) for e in feed["results"]) == [
        ("alice", "messages_deleted"), ("bob", "messages_deleted")]
    assert mona.get(f"{api}/sync-events", params={"after": feed["next"]}).json()["results"] == []

    hold = cleo.post(f"{api}/legal-holds", json={"user": "bob", "reason": "case 12"})
    assert hold.status_code == 201
    trail = audrey.get(f"{api}/audit-entries", params={"purge_request": pk}).json()["results"]
    assert [(e["action"], e["api_token"]) for e in reversed(trail)] == [
        ("purge.preview", "mona-bot"), ("purge.submit", "mona-bot"), ("purge.refused", "mona-bot"),
        ("purge.approve", "max-bot"), ("purge.start", "max-bot"), ("purge.complete", ""),
    ]
    assert audrey.get(f"{api}/audit-entries", params={"action": "hold.add"}).json()["results"][0]["api_token"] == "c"
