"""API tokens: made and revoked on their page (audited), stored hashed, refused once expired or
revoked, and acting with their owner's roles only (issue 15)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatdata.api_tokens import authenticate, do_create_api_token, do_revoke_api_token, hash_secret
from chatdata.audit import verify_chain
from chatdata.models import ApiToken, AuditEntry
from tests.api_helpers import call, token_for

pytestmark = pytest.mark.django_db


def test_it_shows_the_secret_once_and_stores_only_its_hash(client, moderator):
    client.force_login(moderator)
    response = client.post("/tokens/new/", {"name": "ticketing"})
    assert response.status_code == 201
    secret = response.context["secret"]
    assert secret.startswith("cs_") and secret in response.content.decode()
    token = ApiToken.objects.get()
    assert token.secret_hash == hash_secret(secret) and secret not in token.prefix + token.name
    page = client.get("/tokens/").content.decode()
    assert "ticketing" in page and secret not in page
    entry = AuditEntry.objects.get(action="api_token.create")
    assert entry.actor == moderator and "ticketing" in entry.target


def test_it_refuses_a_nameless_token_next_to_the_field(client, moderator):
    client.force_login(moderator)
    response = client.post("/tokens/new/", {"name": "  "})
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert not ApiToken.objects.exists()


def test_it_revokes_and_the_token_stops_working(client, moderator):
    secret = token_for(moderator)
    assert call(client, "get", "/users", secret).status_code == 200
    client.force_login(moderator)
    token = ApiToken.objects.get()
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    response = call(client, "get", "/users", secret)
    assert response.status_code == 401
    assert response.json()["detail"] == "This API token is revoked."
    assert AuditEntry.objects.filter(action="api_token.revoke", actor=moderator).count() == 1


def test_it_lets_only_the_owner_or_an_admin_revoke(client, moderator, moderator2, admin_user):
    token = do_create_api_token(actor=moderator, name="mine")[0]
    client.force_login(moderator2)
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
    assert AuditEntry.objects.filter(action="api_token.refused", actor=moderator2).count() == 1
    client.force_login(admin_user)
    assert "mine" in client.get("/tokens/").content.decode()  # admins see everyone's
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_by == admin_user


def test_it_shows_each_person_only_their_own_tokens(client, moderator, moderator2):
    do_create_api_token(actor=moderator, name="monas-token")
    client.force_login(moderator2)
    assert "monas-token" not in client.get("/tokens/").content.decode()


def test_it_refuses_expired_unknown_and_missing_tokens_with_401(client, moderator):
    secret = token_for(moderator, expires_at=timezone.now() + timedelta(hours=1))
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    for secret_sent, detail in [
        (secret, "This API token is expired."),
        ("cs_not-a-token", "Unknown API token."),
        (None, "Send an API token: Authorization: Bearer cs_…"),
    ]:
        response = call(client, "get", "/users", secret_sent)
        assert response.status_code == 401, secret_sent
        assert response.json()["detail"] == detail
        assert response["WWW-Authenticate"] == "Bearer"


def test_it_gives_a_token_of_an_account_without_roles_nothing(client, outsider):
    with pytest.raises(Exception):
        token_for(outsider)
    assert not ApiToken.objects.exists()


def test_it_notes_when_a_token_was_last_used(client, moderator):
    secret = token_for(moderator)
    assert ApiToken.objects.get().last_used_at is None
    token, why = authenticate(secret)
    assert why == "" and token.last_used_at is not None


def test_it_keeps_the_chain_verifiable_with_token_names_in_it(client, moderator):
    secret = token_for(moderator, name="pipeline")
    do_revoke_api_token(ApiToken.objects.get(), actor=moderator)
    token_for(moderator, name="second")
    assert verify_chain().checked == AuditEntry.objects.count()
    assert secret  # the token's name lands on API calls' entries: tests/test_api_purges.py
