"""Purge requests, legal holds, the audit log and the read endpoints over the API (issue 15):
the web's actions through a token, refusals with their documented statuses that change nothing."""

import django_rq
import pytest

from chatdata.models import ApiToken, AuditEntry, LegalHold, Message, PurgeRequest
from tests.api_helpers import call, token_for
from tests.builders import make_conversation, make_history, make_user, snapshot_chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(db):
    class Chat:
        alice, bob = make_user("alice"), make_user("bob")
        group = make_conversation("group", [alice, bob], external_id="grp")
        other = make_conversation("group", [alice, bob], external_id="oth")
        messages = make_history(group, alice, 10)
        others = make_history(other, bob, 3)

    return Chat


def whole(conversation, effect="delete_for_everyone", **extra):
    return {"scope": {"kind": "conversation", "conversation": conversation.pk}, "effect": effect, "reason": "spam wave",
            "ticket": "T-1", **extra}


def state_of_everything():
    return snapshot_chat(), list(PurgeRequest.objects.values_list("id", "state")), list(LegalHold.objects.values_list("id", "released_at"))


def test_it_previews_then_executes_inline(client, chat, moderator):
    secret = token_for(moderator, name="trust-and-safety")
    response = call(client, "post", "/purge-requests", secret, whole(chat.group))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "previewed" and body["preview"]["messages"] == 10 and body["requested_by"] == "mona"
    assert Message.objects.filter(conversation=chat.group).count() == 10  # a preview deletes nothing
    response = call(client, "post", f"/purge-requests/{body['id']}/execute", secret)
    assert response.status_code == 200
    assert response.json()["state"] == "done" and response.json()["result"]["messages"] == 10
    assert not Message.objects.filter(conversation=chat.group).exists()
    assert Message.objects.filter(conversation=chat.other).count() == 3
    entries = AuditEntry.objects.filter(purge_request_id=body["id"], action__in=["purge.preview", "purge.start"])
    assert {e.api_token for e in entries} == {"trust-and-safety"}


def test_it_takes_the_chat_services_ids(client, chat, moderator):
    body = {"scope": {"kind": "messages", "ids": [m.external_id for m in chat.messages[:2]]}, "effect": "delete_for_everyone",
            "reason": "spam", "external_ids": True}
    response = call(client, "post", "/purge-requests", token_for(moderator), body)
    assert response.status_code == 201 and response.json()["preview"]["messages"] == 2


def test_it_needs_a_second_persons_token_to_approve(client, chat, moderator, moderator2, settings):
    settings.PURGE_APPROVAL_THRESHOLD = 5
    mona, max_ = token_for(moderator), token_for(moderator2)
    pk = call(client, "post", "/purge-requests", mona, whole(chat.group)).json()["id"]
    assert call(client, "post", f"/purge-requests/{pk}/execute", mona).json()["state"] == "awaiting_approval"
    before = state_of_everything()
    response = call(client, "post", f"/purge-requests/{pk}/approve", mona)
    assert response.status_code == 403
    assert response.json() == {"detail": "You cannot approve or reject your own request: another staff member must.",
                               "code": "not_permitted", "errors": []}
    assert call(client, "post", f"/purge-requests/{pk}/execute", mona).status_code == 409
    assert state_of_everything() == before
    response = call(client, "post", f"/purge-requests/{pk}/approve", max_)
    assert response.status_code == 200 and response.json()["state"] == "done"
    assert response.json()["approved_by"] == "max"


def test_it_refuses_what_the_role_may_not_with_403_and_changes_nothing(client, chat, support, auditor):
    before = state_of_everything()
    for secret in (token_for(support), token_for(auditor)):
        response = call(client, "post", "/purge-requests", secret, whole(chat.group))
        assert response.status_code == 403, response.content
    assert state_of_everything() == before
    assert AuditEntry.objects.filter(action="purge.refused").count() == 2


def test_it_refuses_another_persons_request(client, chat, moderator, moderator2):
    pk = call(client, "post", "/purge-requests", token_for(moderator), whole(chat.group)).json()["id"]
    before = state_of_everything()
    response = call(client, "post", f"/purge-requests/{pk}/execute", token_for(moderator2))
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the staff member who previewed a request can execute it."
    assert state_of_everything() == before


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"scope": {"kind": "conversation", "conversation": 999999}, "effect": "delete_for_everyone", "reason": "x"},
         "conversation", "No conversation"),
        ({"scope": {"kind": "conversation"}, "effect": "delete_for_everyone", "reason": "x"}, "conversation",
         "A conversation scope needs conversation."),
        ({"scope": {"kind": "bogus"}, "effect": "delete_for_everyone", "reason": "x"}, "scope", "Unknown scope"),
        ({"scope": {"kind": "conversation", "conversation": 1}, "effect": "delete_for_everyone", "reason": " "}, "reason",
         "Give a reason"),
        ({"scope": {"kind": "conversation", "conversation": 1}, "effect": "delete_for_everyone"}, "reason", "Field required"),
        ({"scope": "nope", "effect": "x", "reason": "x"}, "scope", "dictionary"),
    ],
)
def test_it_names_the_field_of_a_bad_body_with_422(client, chat, moderator, body, field, message):
    before = state_of_everything()
    response = call(client, "post", "/purge-requests", token_for(moderator), body)
    assert response.status_code == 422, response.content
    error = response.json()["errors"][0]
    assert error["field"] == field and message in error["message"]
    assert state_of_everything() == before


def test_it_answers_404_for_an_unknown_request(client, moderator):
    response = call(client, "post", "/purge-requests/4242/execute", token_for(moderator))
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_it_lists_and_filters_purge_requests_by_cursor(client, chat, moderator, support):
    secret = token_for(moderator)
    ids = [call(client, "post", "/purge-requests", secret, whole(c)).json()["id"] for c in (chat.group, chat.other)]
    call(client, "post", f"/purge-requests/{ids[0]}/execute", secret)
    reader = token_for(support)
    page = call(client, "get", "/purge-requests", reader, limit=1).json()
    assert [r["id"] for r in page["results"]] == [ids[1]] and page["next"] == ids[1]
    page = call(client, "get", "/purge-requests", reader, limit=1, before=page["next"]).json()
    assert [r["id"] for r in page["results"]] == [ids[0]]
    done = call(client, "get", "/purge-requests", reader, state="done").json()
    assert [r["id"] for r in done["results"]] == [ids[0]]


def test_it_places_and_releases_a_hold_which_then_blocks_with_409(client, chat, moderator, compliance):
    cleo, mona = token_for(compliance), token_for(moderator)
    assert call(client, "post", "/legal-holds", mona, {"conversation": "grp", "reason": "case 7"}).status_code == 403
    response = call(client, "post", "/legal-holds", cleo, {"conversation": "grp", "reason": "case 7"})
    assert response.status_code == 201 and response.json()["covered_messages"] == 10
    hold = response.json()["id"]
    before = state_of_everything()
    response = call(client, "post", "/purge-requests", mona, whole(chat.group))
    assert response.status_code == 422 and response.json()["detail"].startswith("Nothing matches")  # all of it is held
    erase = {"scope": {"kind": "user", "user": "alice"}, "effect": "delete_for_everyone", "reason": "DSR", "external_ids": True}
    held = call(client, "post", "/legal-holds", cleo, {"user": "alice", "reason": "case 8"}).json()["id"]
    before = state_of_everything()
    response = call(client, "post", "/purge-requests", cleo, erase)
    assert response.status_code == 409 and response.json()["code"] == "hold"
    assert state_of_everything() == before
    call(client, "post", f"/legal-holds/{held}/release", cleo, {"reason": "done"})
    listed = call(client, "get", "/legal-holds", mona).json()["results"]
    assert [h["id"] for h in listed] == [hold]
    response = call(client, "post", f"/legal-holds/{hold}/release", cleo, {"reason": "case closed"})
    assert response.status_code == 200 and response.json()["active"] is False
    assert call(client, "post", f"/legal-holds/{hold}/release", cleo, {"reason": "again"}).status_code == 409
    assert call(client, "post", "/legal-holds", cleo, {"user": "nobody", "reason": "x"}).json()["errors"][0]["field"] == "user"


def test_it_queries_the_audit_log_with_the_webs_filters(client, chat, moderator, auditor, support):
    mona = token_for(moderator, name="bot")
    pk = call(client, "post", "/purge-requests", mona, whole(chat.group)).json()["id"]
    reader = token_for(auditor)
    page = call(client, "get", "/audit-entries", reader, action="purge.preview").json()
    assert [(e["action"], e["purge_request_id"], e["api_token"]) for e in page["results"]] == [("purge.preview", pk, "bot")]
    everything = call(client, "get", "/audit-entries", reader, limit=2).json()
    assert len(everything["results"]) == 2 and everything["next"] is not None
    rest = call(client, "get", "/audit-entries", reader, before=everything["next"]).json()
    assert all(e["id"] < everything["next"] for e in rest["results"])
    bad = call(client, "get", "/audit-entries", reader, actor="nobody")
    assert bad.status_code == 422 and bad.json()["errors"][0] == {"field": "actor", "message": "No staff account is named “nobody”."}
    assert call(client, "get", "/audit-entries", token_for(support)).status_code == 403


def test_it_reads_users_conversations_and_messages_by_keyset(client, chat, support):
    secret = token_for(support)
    users = call(client, "get", "/users", secret, limit=1).json()
    assert users["results"][0]["external_id"] == "alice" and users["next"] is not None
    assert call(client, "get", "/users", secret, after=users["next"]).json()["results"][0]["external_id"] == "bob"
    assert call(client, "get", f"/conversations/{chat.group.pk}", secret).json()["external_id"] == "grp"
    seen, cursor = [], None
    while True:
        page = call(client, "get", f"/conversations/{chat.group.pk}/messages", secret, limit=4,
                    **({"before": cursor} if cursor else {})).json()
        seen += [m["id"] for m in page["results"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [m.pk for m in reversed(chat.messages)]
    bad = call(client, "get", f"/conversations/{chat.group.pk}/messages", secret, before="garbage")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "before"
    assert call(client, "get", "/users/99999999", secret).status_code == 404


def test_it_refuses_an_owner_without_roles_now(client, chat, moderator):
    secret = token_for(moderator)
    moderator.groups.clear()
    assert call(client, "get", "/users", secret).status_code == 403
    assert ApiToken.objects.count() == 1


def test_it_limits_each_token_with_429_and_retry_after(client, chat, moderator, moderator2, settings):
    settings.API_RATE_LIMIT = 3
    django_rq.get_connection("default").flushdb()
    secret, other = token_for(moderator), token_for(moderator2)
    assert [call(client, "get", "/users", secret).status_code for _ in range(3)] == [200, 200, 200]
    before = state_of_everything()
    response = call(client, "post", "/purge-requests", secret, whole(chat.group))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    assert state_of_everything() == before
    assert call(client, "get", "/users", other).status_code == 200  # per token


def test_it_refuses_text_postgresql_cannot_store_with_422(client, chat, compliance):
    secret = token_for(compliance)
    before = state_of_everything()
    response = call(client, "post", "/legal-holds", secret, {"user": "al\x00ice", "reason": "x"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "user"
    response = client.post("/api/v1/legal-holds", b'{"user": "alice", "reason": "\\ud800"}', content_type="application/json",
                           headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "reason"
    assert call(client, "get", "/users", secret, q="a\x00").status_code == 422
    assert state_of_everything() == before
