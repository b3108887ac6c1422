"""Ids and numbers from outside are read by chatdata.parsing: ASCII digits only, never a 500.

The issue's URLs with '²' (isdigit() but not int()), '٣' and '１' (int() reads them), '-1',
'1e3', '', a 5,000-digit number and ids past bigint: each is refused with a message naming the
field, and nothing changes."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from chatdata.models import PurgeRequest
from chatdata.parsing import InvalidNumber, is_id, parse_count, parse_id, parse_seconds
from chatdata.purge.actions import do_preview_purge
from chatdata.purge.scopes import ConversationScope, ConversationsScope, MessagesScope, PurgeInvalid, PurgeSpec
from dashboard.web.purge.confirm import _digits, is_count
from tests.builders import ChatWorld, snapshot_chat

pytestmark = pytest.mark.django_db
HUGE = "9" * 5000
HOSTILE = ["²", "٣", "１", "-1", "1e3", "0", "+1", "1_0", "1.0", "0x1", "\u20071", str(2**63), HUGE]


# --- the helper -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "number"), [("1", 1), (" 42\n", 42), ("007", 7), (5, 5), (str(2**63 - 1), 2**63 - 1)])
def test_it_reads_ascii_digits(value, number):
    assert parse_id(value, "ids") == number and is_id(value)


@pytest.mark.parametrize("value", HOSTILE + ["", " ", True, 1.0, None, [1]])
def test_it_refuses_everything_else_naming_the_field(value):
    with pytest.raises(InvalidNumber) as caught:
        parse_id(value, "ids")
    assert caught.value.message.startswith("ids: ") and caught.value.field == "ids"
    assert len(caught.value.message) < 200  # a 5,000-digit value is not repeated whole
    assert not is_id(value)


def test_it_reads_counts_and_seconds():
    assert parse_count("0", "items_after") == 0
    with pytest.raises(InvalidNumber, match="out of range"):
        parse_count("11", "n", maximum=10)
    assert parse_seconds("2.5", "--wait-timeout") == 2.5 and parse_seconds("30", "s") == 30.0
    for bad in ("١", "1e3", "-1", "inf", "nan", ".5", "1.", HUGE):
        with pytest.raises(InvalidNumber):
            parse_seconds(bad, "--wait-timeout")


def test_the_scopes_read_ids_through_it():
    assert MessagesScope(ids=["3", 1]).ids == (3, 1)
    for bad, words in (("٣", "digits 0 to 9"), ("²", "digits 0 to 9"), (HUGE, "out of range")):
        with pytest.raises(PurgeInvalid) as caught:
            ConversationScope(bad)
        assert caught.value.field == "conversation" and words in caught.value.message


# --- the web ----------------------------------------------------------------------------------------


@pytest.fixture
def chat(db):
    return ChatWorld().two_groups(3, 3, group="g-team", other="g-other")


def unchanged(before):
    assert snapshot_chat() == before
    assert not PurgeRequest.objects.exists()


@pytest.mark.parametrize("value", HOSTILE + [""])
def test_selected_ids_are_refused_next_to_the_form(client, chat, moderator, value):
    client.force_login(moderator)
    before = snapshot_chat()
    response = client.post(reverse("purge:conversation", args=[chat.group.pk]),
                           {"action": "messages", "ids": [value], "effect": "delete_for_everyone", "reason": "r"})
    assert response.status_code == 200
    assert "is not a message id" in response.content.decode() or "Choose at least one message" in response.content.decode()
    unchanged(before)


def test_selected_ids_may_carry_spaces(client, chat, moderator):
    client.force_login(moderator)
    response = client.post(reverse("purge:conversation", args=[chat.group.pk]),
                           {"action": "messages", "ids": [f" {chat.messages[0].pk} "], "effect": "delete_for_everyone", "reason": "r"})
    assert response.status_code == 302
    assert PurgeRequest.objects.get().spec["scope"]["ids"] == [chat.messages[0].pk]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_member_that_is_not_an_id_is_only_an_external_id(client, chat, moderator, value):
    """'٣' used to read as chat user 3; now it is looked up as an external id only."""
    client.force_login(moderator)
    before = snapshot_chat()
    response = client.post(reverse("purge:conversation", args=[chat.group.pk]), {
        "action": "messages", "ids": [str(chat.messages[0].pk)], "effect": "hide_for_user", "member": value, "reason": "r",
    })
    assert response.status_code == 200
    page = response.content.decode()
    assert "is not a member of this conversation" in page or "at most 191 characters" in page
    unchanged(before)


def test_a_member_is_found_by_its_ascii_id(client, chat, moderator):
    client.force_login(moderator)
    response = client.post(reverse("purge:conversation", args=[chat.group.pk]), {
        "action": "messages", "ids": [str(chat.messages[0].pk)], "effect": "hide_for_user", "member": f" {chat.bob.pk} ", "reason": "r",
    })
    assert response.status_code == 302 and PurgeRequest.objects.get().spec["member"] == chat.bob.pk


@pytest.mark.parametrize("value", HOSTILE)
def test_a_bad_conversation_in_the_batch_page_url_is_a_400_naming_it(client, chat, moderator, value):
    client.force_login(moderator)
    response = client.get(reverse("purge:conversations"), {"conversations": [str(chat.group.pk), value]})
    assert response.status_code == 400
    assert "conversations: " in response.content.decode()
    response = client.get(reverse("purge:conversations"), {"conversations": [str(chat.group.pk), ""]})
    assert response.status_code == 200 and "g-team" in response.content.decode()


@pytest.mark.parametrize("value", [v for v in HOSTILE if v != "0"])  # position 0 is a position
def test_a_bad_items_after_is_a_400_naming_it(client, chat, moderator, value):
    purge = do_preview_purge(PurgeSpec(ConversationsScope((chat.group.pk, chat.other.pk)), "delete_conversation"), actor=moderator, reason="r")
    client.force_login(moderator)
    url = reverse("jobs:detail", args=[purge.pk])
    response = client.get(url, {"items_after": value})
    assert response.status_code == 400
    assert "items_after: " in response.content.decode()
    assert client.get(url, {"items_after": "0"}).context["items"][0].conversation_external_id == "g-other"
    assert client.get(url, {"items_after": ""}).status_code == 200


@pytest.mark.parametrize("value", HOSTILE + ["٣ ", "3²"])
def test_a_typed_confirmation_takes_ascii_digits_only(client, chat, moderator, value):
    """Three messages: '٣' used to confirm them (int('٣') == 3); '²' was a 500."""
    purge = do_preview_purge(PurgeSpec(ConversationScope(chat.group.pk), "delete_for_everyone"), actor=moderator, reason="r")
    assert purge.preview["messages"] == 3
    client.force_login(moderator)
    before = snapshot_chat()
    response = client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": value})
    assert response.status_code == 200
    assert "does not match" in response.content.decode() or "at most 300 characters" in response.content.decode()
    assert snapshot_chat() == before
    purge.refresh_from_db()
    assert purge.state == "previewed"
    response = client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": " 3 "})
    assert response.status_code == 302
    purge.refresh_from_db()
    assert purge.state == "done"


@pytest.mark.parametrize("value", ["²", "٣", HUGE, "-1"])
def test_the_browse_forms_take_ascii_ids_only(client, chat, moderator, value):
    client.force_login(moderator)
    response = client.get(reverse("browse:search"), {"q": "x", "sender": value})
    assert response.status_code == 200 and response.context["form"].errors["sender"]
    response = client.get(reverse("jobs:list"), {"after": value})
    assert response.status_code == 200 and response.context["form"].errors["after"]
    response = client.get(reverse("browse:conversation", args=[chat.group.pk]), {"members_after": value})
    assert response.status_code == 200 and response.context["form"].errors["members_after"]


# --- the command line -------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--approve", "--reject", "--cancel", "--resume", "--status", "--execute"])
@pytest.mark.parametrize("value", ["²", "٣", HUGE, "-1"])
def test_the_purge_command_exits_2_on_a_request_id_that_is_not_ascii_digits(chat, moderator, capsys, flag, value):
    request = do_preview_purge(PurgeSpec(ConversationScope(chat.group.pk), "delete_for_everyone"), actor=moderator, reason="r")
    before = snapshot_chat()
    with pytest.raises(CommandError) as caught:
        call_command("purge", flag, value, "--actor", "mona", "--reason", "r", "--json")
    assert caught.value.returncode == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["message"].startswith(f"{flag}: ") and error["field"] == flag
    assert snapshot_chat() == before and PurgeRequest.objects.get().state == request.state


def test_the_purge_command_reads_its_wait_timeout_in_ascii(chat, moderator, capsys):
    with pytest.raises(CommandError) as caught:
        call_command("purge", "--status", "1", "--wait", "--wait-timeout", "١", "--json")
    assert caught.value.returncode == 2
    assert "--wait-timeout" in json.loads(capsys.readouterr().out)["error"]["message"]


def test_the_legal_hold_command_refuses_a_hold_id_that_is_not_ascii_digits(chat, compliance):
    with pytest.raises(CommandError, match="digits 0 to 9"):
        call_command("legal_hold", "release", "١", "--actor", "cleo")


# --- generated hostile values -----------------------------------------------------------------------

text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)  # no lone surrogates: not sendable
numberish = st.one_of(text, st.integers().map(str), st.sampled_from(HOSTILE), st.from_regex(r"\A\s*[0-9٠-٩０-９²³¹]{1,25}\s*\Z"))


@hypothesis_settings(max_examples=300, deadline=None)
@given(value=st.one_of(numberish, st.integers(), st.floats(), st.booleans(), st.none()))
def test_it_answers_any_value_with_a_number_or_invalid_number(value):
    try:
        number = parse_id(value, "f")
    except InvalidNumber as caught:
        assert caught.message.startswith("f: ") and len(caught.message) < 200
        return
    digits = value if isinstance(value, int) else value.strip(" \t\r\n\f\v")
    assert str(digits).isascii() and 1 <= number <= 2**63 - 1 and number == int(digits)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=numberish)
def test_no_generated_value_is_a_server_error_or_a_change(client, chat, moderator, value):
    client.force_login(moderator)
    purge = PurgeRequest.objects.first() or do_preview_purge(
        PurgeSpec(ConversationsScope((chat.group.pk, chat.other.pk)), "delete_conversation"), actor=moderator, reason="r"
    )
    before = snapshot_chat()
    answers = [
        client.get(reverse("jobs:detail", args=[purge.pk]), {"items_after": value}),
        client.get(reverse("purge:conversations"), {"conversations": value}),
        # (the one value that confirms the request would run it: that is not what this test is about)
        *([] if is_count(_digits(value.strip()), purge.preview["messages"]) else
          [client.post(reverse("purge:execute", args=[purge.pk]), {"confirmation": value})]),
        client.post(reverse("purge:conversation", args=[chat.group.pk]),
                    {"action": "messages", "ids": [value], "effect": "hide_for_user", "member": value, "reason": "r"}),
    ]
    assert [a.status_code for a in answers if a.status_code not in (200, 302, 400)] == []
    assert snapshot_chat() == before
    assert PurgeRequest.objects.count() == 1 or is_id(value)
