"""Issue 14, items 2 and 3 through `manage.py purge` and the API (tests/purge_staleness.py): expired
previews refused and previewed again, a changed scope asked again, a cancelled request closed."""

import pytest
from django.core.management import CommandError, call_command

from chatdata.models import PurgeRequest
from chatdata.purge.actions import do_preview_purge
from tests.api_helpers import call, token_for
from tests.purge_staleness import age, cancelled_midway, chat, team_spec  # noqa: F401 (chat is a fixture)

pytestmark = pytest.mark.django_db


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
