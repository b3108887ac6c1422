"""Issue 14, "Add" (tests/purge_select.py): the purge command and the API take the new scopes too."""

import pytest

from chatdata.models import Message, PurgeRequest
from tests.purge_select import world  # noqa: F401 (world is a fixture)
from tests.test_purge_cli import purge

pytestmark = pytest.mark.django_db


def purge_command(capsys, *args):
    """manage.py purge ... --json as mona: (exit status, parsed JSON output)."""
    return purge(capsys, *args, "--actor", "mona", "--reason", "spam wave")


def test_the_command_previews_and_runs_what_a_search_finds(world, moderator, capsys):
    status, out = purge_command(capsys, "--matching", "--text", "cheap watches", "--senders", "Sam Spammer",
                                "--start", "2026-01-01T00:00:00Z", "--effect", "delete-for-everyone")
    assert status == 0 and out["state"] == "previewed" and out["preview"]["messages"] == 4
    assert out["scope"]["scope"]["kind"] == "matching" and out["scope"]["scope"]["senders"] == [world.sam.pk]
    status, out = purge_command(capsys, "--execute", str(out["request"]), "--confirm", "4")
    assert status == 0 and out["state"] == "done" and out["result"]["messages"] == 4
    assert not Message.objects.filter(sender=world.sam).exists()


def test_the_command_narrows_to_senders_and_deletes_only_attachments(world, moderator, capsys):
    status, out = purge_command(capsys, "--conversation", "g-two", "--senders", "u-alice",
                                "--effect", "delete-attachments", "--execute", "--confirm", "1")
    assert status == 0 and out["state"] == "done", out
    assert out["scope"]["scope"] == {"kind": "conversations", "conversations": [world.other.pk], "senders": [world.alice.pk]}
    assert (out["result"]["messages"], out["result"]["attachments"]) == (1, 2)
    status, out = purge_command(capsys, "--conversation", "g-one", "--end", "2026-01-02T00:00:00Z", "--senders", "u-bob",
                                "--effect", "delete-for-everyone")
    assert status == 0 and out["scope"]["scope"]["senders"] == [world.bob.pk] and out["preview"]["messages"] == 1


@pytest.mark.parametrize(("args", "message"), [
    (("--text", "spam", "--conversation", "g-one"), "--text goes with --matching."),
    (("--matching", "--user", "u-sam"), "--user does not go with --matching."),
    (("--matching", "--text", "spam", "--conversations", "g-one"), "--conversations does not go with --matching."),
    (("--messages", "m1", "--senders", "u-sam"), "--senders does not go with --messages."),
    (("--matching",), "needs words, a sender or a conversation"),
    (("--matching", "--senders", "ghost"), "No chat user has the external id or name “ghost”."),
])
def test_the_command_refuses_what_does_not_fit(world, moderator, capsys, args, message):
    status, out = purge_command(capsys, *args, "--effect", "delete-for-everyone")
    assert status == 2 and message in out["error"]["message"]
    assert not PurgeRequest.objects.exists()


def test_the_api_takes_a_matching_scope_by_external_ids(client, world, moderator):
    from tests.api_helpers import call, token_for

    body = {"scope": {"kind": "matching", "text": "watches", "senders": ["u-sam"], "conversation": "g-one"},
            "effect": "delete_attachments", "reason": "storage", "external_ids": True}
    response = call(client, "post", "/purge-requests", token_for(moderator), body)
    assert response.status_code == 201, response.content
    assert response.json()["preview"]["attachments"] == 1 and response.json()["scope_kind"] == "matching"
    bad = dict(body, scope={"kind": "matching", "text": "-watches"})
    response = call(client, "post", "/purge-requests", token_for(moderator, name="two"), bad)
    assert response.status_code == 422 and "only exclude" in response.json()["detail"]
