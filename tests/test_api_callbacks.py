"""Signed callbacks (issue 15): a receiver on 127.0.0.1 checks the signature, sees a retry after
a failure; a replayed or altered notice fails verification; every attempt is on the request's page."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import django_rq
import pytest

from chatdata.callbacks import key_for_token_secret, signature_header, verify
from chatdata.models import CallbackAttempt
from tests.api_helpers import call, token_for
from tests.builders import make_conversation, make_history, make_user


class Receiver:
    """Answers 500 to the first notice, 200 after; keeps what it got."""

    def __init__(self):
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(500 if len(receiver.received) == 1 else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps what migrations wrote for the tests after
def test_it_signs_retries_and_records_every_attempt(client, moderator, receiver, settings):
    settings.API_CALLBACK_BACKOFF_SECONDS = 0
    alice, bob = make_user("alice"), make_user("bob")
    group = make_conversation("group", [alice, bob], external_id="grp")
    make_history(group, alice, 5)
    secret = token_for(moderator, name="ticketing", callback_url=receiver.url)
    body = {"scope": {"kind": "conversation", "conversation": group.pk}, "effect": "delete_for_everyone", "reason": "spam"}
    pk = call(client, "post", "/purge-requests", secret, body).json()["id"]
    assert call(client, "post", f"/purge-requests/{pk}/execute", secret, {"confirmation": "5"}).json()["state"] == "done"
    django_rq.get_worker("default").work(burst=True)

    assert len(receiver.received) == 2
    key = key_for_token_secret(secret)
    for headers, raw in receiver.received:
        assert verify(key, headers["X-Chatsweep-Signature"], raw)
        notice = json.loads(raw)
        assert notice["event"] == "purge_request.done" and notice["purge_request"]["id"] == pk
        assert notice["purge_request"]["result"]["messages"] == 5
    assert len({json.loads(raw)["delivery"] for _, raw in receiver.received}) == 1  # one notice, retried

    headers, raw = receiver.received[-1]
    altered = raw.replace(b'"done"', b'"failed"')
    assert not verify(key, headers["X-Chatsweep-Signature"], altered)
    assert not verify(key_for_token_secret("cs_another"), headers["X-Chatsweep-Signature"], raw)
    # A replay later than the tolerance fails, and re-stamping it breaks the digest.
    assert not verify(key, headers["X-Chatsweep-Signature"], raw, now=time.time() + 301)
    stamp, digest = headers["X-Chatsweep-Signature"].split(",")
    assert not verify(key, f"t={int(stamp[2:]) + 1},{digest}", raw)
    assert verify(key, signature_header(key, raw), raw)

    attempts = list(CallbackAttempt.objects.order_by("id").values_list("number", "status_code", "ok"))
    assert attempts == [(1, 500, False), (2, 200, True)]
    assert [a["ok"] for a in call(client, "get", f"/purge-requests/{pk}", secret).json()["callbacks"]] == [False, True]
    client.force_login(moderator)
    page = client.get(f"/jobs/{pk}/").content.decode()
    assert "Callbacks" in page and 'data-ok="no"' in page and 'data-ok="yes"' in page


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps what migrations wrote for the tests after
def test_it_gives_up_after_the_last_attempt(client, moderator, settings):
    settings.API_CALLBACK_BACKOFF_SECONDS = 0
    settings.API_CALLBACK_ATTEMPTS = 3
    alice = make_user("alice")
    group = make_conversation("group", [alice], external_id="grp")
    make_history(group, alice, 2)
    secret = token_for(moderator, callback_url="http://127.0.0.1:9/nobody-listens")
    body = {"scope": {"kind": "conversation", "conversation": group.pk}, "effect": "delete_for_everyone", "reason": "spam"}
    pk = call(client, "post", "/purge-requests", secret, body).json()["id"]
    call(client, "post", f"/purge-requests/{pk}/execute", secret, {"confirmation": "2"})
    django_rq.get_worker("default").work(burst=True)
    attempts = list(CallbackAttempt.objects.order_by("id"))
    assert [a.number for a in attempts] == [1, 2, 3]
    assert not any(a.ok for a in attempts) and all(a.error for a in attempts)
