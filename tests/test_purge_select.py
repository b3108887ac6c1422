"""Issue 14, "Add": a `matching` scope (what a search finds), ranges and batches narrowed to some
senders, and the `delete_attachments` effect (only the files go, the messages stay), through the
same engine: exact previews at the high-water mark, runs that take exactly that, sync events and
audit entries."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage

from chatdata.browse.search import MessageQuery, search_messages
from chatdata.models import Attachment, AuditEntry, FileOutbox, Message, MessageHide, PurgeRequest, SyncEvent
from chatdata.permissions import request_refusal
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.execute import run_purge
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.predicates import matching_count
from chatdata.purge.refusals import PurgeRefused
from chatdata.purge.scopes import (
    MODE_ATTACHMENTS,
    MODE_HIDE_ROWS,
    ConversationsScope,
    ConversationScope,
    MatchingScope,
    PurgeInvalid,
    PurgeSpec,
    RangeScope,
    spec_from_dict,
)
from chatdata.purge.validation import senders_named, spec_from_external
from tests.builders import T0, add_attachment, make_conversation, make_message, make_user, snapshot_chat

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


class World:
    """Spam from Sam in two groups, ordinary talk from Alice and Bob, files here and there."""

    def __init__(self):
        self.alice, self.bob, self.sam = make_user("u-alice", "Alice"), make_user("u-bob", "Bob"), make_user("u-sam", "Sam Spammer")
        self.group = make_conversation("group", [self.alice, self.bob, self.sam], external_id="g-one")
        self.other = make_conversation("group", [self.alice, self.sam], external_id="g-two")
        self.quiet = make_conversation("group", [self.alice, self.bob], external_id="g-quiet")
        say = make_message
        self.spam = [
            say(self.group, self.sam, T0 + 1 * HOUR, "Buy cheap watches now"),
            say(self.group, self.sam, T0 + 2 * HOUR, "cheap WATCHES, buy today"),
            say(self.other, self.sam, T0 + 3 * HOUR, "buy cheap watches here"),
            say(self.other, self.sam, T0 + 30 * HOUR, "last chance: cheap watches"),
        ]
        self.talk = [
            say(self.group, self.alice, T0 + 4 * HOUR, "are watches cheap there?"),  # matches the words too
            say(self.group, self.bob, T0 + 5 * HOUR, "lunch?"),
            say(self.other, self.alice, T0 + 6 * HOUR, "see the photo"),
            say(self.quiet, self.bob, T0 + 7 * HOUR, "hello"),
        ]
        self.files = {
            "spam": add_attachment(self.spam[0], "watch.png"),
            "alice": add_attachment(self.talk[0], "shop.png"),
            "photo": add_attachment(self.talk[2], "photo.png"),
            "photo2": add_attachment(self.talk[2], "photo2.png"),
            "quiet": add_attachment(self.talk[3], "hello.png"),
        }


@pytest.fixture
def world(db):
    return World()


def run(spec, actor, capture):
    with capture(execute=True):
        request = do_preview_purge(spec, actor=actor, reason="spam wave", ticket="T-14")
        return do_execute_purge(request, actor=actor)


def every_search_hit(query):
    """Every message a search shows, page after page (newest first)."""
    ids, cursor = [], None
    while True:
        results = search_messages(MessageQuery(**query, older_than=cursor), limit=2)
        ids += [m.pk for m in results.messages]
        if not results.next_cursor:
            return ids
        from chatdata.browse.keyset import Position

        cursor = Position.decode(results.next_cursor)


# --- the scope as a value ------------------------------------------------------------------------


def test_a_matching_scope_round_trips_through_its_json():
    spec = PurgeSpec(MatchingScope(text="  cheap watches ", senders=[3, 3], conversation=4, end=T0), "delete_for_everyone")
    data = spec.to_dict()
    assert data["scope"] == {"kind": "matching", "text": "cheap watches", "senders": [3], "conversation": 4,
                             "start": None, "end": T0.isoformat()}
    assert spec_from_dict(data) == spec


def test_senders_appear_in_the_json_only_when_given():
    assert "senders" not in PurgeSpec(RangeScope(1, end=T0), "delete_for_everyone").to_dict()["scope"]
    spec = PurgeSpec(ConversationsScope([1, 2], senders=[7]), "delete_attachments")
    assert spec.to_dict()["scope"] == {"kind": "conversations", "conversations": [1, 2], "senders": [7]}
    assert spec_from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(("scope", "effect", "member", "message"), [
    (dict(start=T0), "delete_for_everyone", None, "needs words, a sender or a conversation"),
    (dict(text="x" * 201), "delete_for_everyone", None, "longer than 200"),
    (dict(text="a\x00b"), "delete_for_everyone", None, "NUL"),
    (dict(text="spam", start=T0, end=T0), "delete_for_everyone", None, "end must be after the start"),
    (dict(text="spam", start="2026-01-01T00:00"), "delete_for_everyone", None, "has no timezone"),
    (dict(text="spam"), "hide_for_user", 1, "cannot take the effect hide_for_user"),
    (dict(text="spam"), "delete_conversation", None, "cannot take the effect delete_conversation"),
    (dict(text="spam"), "delete_attachments", 1, "takes no member"),
])
def test_a_matching_scope_refuses_what_cannot_run(scope, effect, member, message):
    with pytest.raises(PurgeInvalid) as caught:
        PurgeSpec(MatchingScope(**scope), effect, member=member)
    assert message in caught.value.message


def test_senders_do_not_go_with_removing_whole_conversations():
    with pytest.raises(PurgeInvalid, match="takes whole conversations") as caught:
        PurgeSpec(ConversationsScope([1], senders=[2]), "delete_conversation")
    assert caught.value.field == "senders"


def test_modes_of_the_new_effect_and_of_narrowed_hides():
    assert PurgeSpec(RangeScope(1, end=T0), "delete_attachments").mode == MODE_ATTACHMENTS
    # A member's cleared_before would hide everyone's messages: narrowed hides write rows.
    assert PurgeSpec(RangeScope(1, end=T0, senders=[2]), "hide_for_user", member=3).mode == MODE_HIDE_ROWS


# --- select what you found --------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    {"text": "cheap watches"},
    {"text": "cheap watches", "sender_id": "sam"},
    {"text": "buy", "conversation_id": "group"},
    {"text": "watches -last"},
    {"text": "", "sender_id": "sam", "start": T0 + 2 * HOUR, "end": T0 + 24 * HOUR},
])
def test_the_preview_counts_exactly_what_the_search_shows(world, moderator, query):
    query = dict(query)
    senders = [getattr(world, query.pop("sender_id")).pk] if "sender_id" in query else []
    conversation = getattr(world, query.pop("conversation_id")).pk if "conversation_id" in query else None
    shown = every_search_hit({**query, "sender_id": senders[0] if senders else None, "conversation_id": conversation})
    scope = MatchingScope(senders=senders, conversation=conversation, **query)
    assert shown and matching_count(scope) == len(shown)

    request = do_preview_purge(PurgeSpec(scope, "delete_for_everyone"), actor=moderator, reason="spam wave")
    assert request.preview["messages"] == len(shown)
    sampled = {s["id"] for s in request.preview["sample_first"] + request.preview["sample_last"]}
    assert sampled <= set(shown)


def test_words_inside_a_run_of_cjk_characters_match_as_the_narrowed_search_finds_them(world, moderator):
    hit = make_message(world.group, world.sam, T0 + 9 * HOUR, "今天天气很好，买手表")
    make_message(world.other, world.sam, T0 + 9 * HOUR, "今天天气很好")  # another conversation
    scope = MatchingScope(text="天气", conversation=world.group.pk)
    assert every_search_hit({"text": "天气", "conversation_id": world.group.pk}) == [hit.pk]
    assert matching_count(scope) == 1
    # Across every conversation the same word matches only at the start of a run (the search's prefix match).
    assert matching_count(MatchingScope(text="天气")) == len(every_search_hit({"text": "天气"})) == 0
    request = do_preview_purge(PurgeSpec(scope, "delete_for_everyone"), actor=moderator, reason="spam")
    assert request.preview["messages"] == 1


def test_running_it_deletes_what_matched_at_the_preview_and_nothing_else(world, moderator, django_capture_on_commit_callbacks):
    scope = MatchingScope(text="cheap watches", senders=[world.sam.pk])
    with django_capture_on_commit_callbacks(execute=True):
        request = do_preview_purge(PurgeSpec(scope, "delete_for_everyone"), actor=moderator, reason="spam wave")
        late = make_message(world.group, world.sam, T0 + 40 * HOUR, "cheap watches again")  # after the preview
        before = snapshot_chat()
        request = do_execute_purge(request, actor=moderator)

    assert request.state == "done", request.error
    assert request.preview["messages"] == request.result["messages"] == 4
    assert request.preview["high_water_mark"] < late.pk
    assert Message.objects.filter(pk=late.pk).exists()  # above the high-water mark: kept
    assert not Message.objects.filter(pk__in=[m.pk for m in world.spam]).exists()
    assert set(Message.objects.values_list("id", flat=True)) == {m.pk for m in world.talk} | {late.pk}
    assert not default_storage.exists(world.files["spam"].file.name)
    after = snapshot_chat()
    assert after["Attachment"] == before["Attachment"] - {r for r in before["Attachment"] if r[0] == world.files["spam"].pk}
    # Devices are told which messages went, per conversation (they cannot run the search).
    events = SyncEvent.objects.filter(kind="messages_deleted")
    by_conversation = {e.conversation_external_id: sorted(e.payload["message_ids"]) for e in events}
    assert by_conversation == {
        "g-one": sorted(m.external_id for m in world.spam[:2]), "g-two": sorted(m.external_id for m in world.spam[2:]),
    }
    assert events.count() == 3 + 2  # one per member and conversation
    assert request.target == "messages matching “cheap watches” from u-sam"
    preview_entry = AuditEntry.objects.get(action="purge.preview", purge_request_id=request.pk)
    assert preview_entry.scope["scope"] == {"kind": "matching", "text": "cheap watches", "senders": [world.sam.pk],
                                            "conversation": None, "start": None, "end": None}


def test_held_messages_are_kept_and_counted(world, moderator, compliance, django_capture_on_commit_callbacks):
    do_add_legal_hold(actor=compliance, conversation=world.other, reason="case 14")
    request = run(PurgeSpec(MatchingScope(text="cheap watches"), "delete_for_everyone"), moderator, django_capture_on_commit_callbacks)
    assert request.preview["messages"] == request.result["messages"] == 3  # two of Sam's, Alice's question
    assert request.preview["excluded_by_hold"] == 2
    assert Message.objects.filter(conversation=world.other, sender=world.sam).count() == 2


def test_unknown_senders_or_conversations_are_refused_with_nothing_written(world, moderator):
    for scope, field in ((MatchingScope(text="spam", senders=[999_999]), "senders"),
                         (MatchingScope(text="spam", conversation=999_999), "conversation")):
        with pytest.raises(PurgeInvalid) as caught:
            do_preview_purge(PurgeSpec(scope, "delete_for_everyone"), actor=moderator, reason="x")
        assert caught.value.field == field
    with pytest.raises(PurgeInvalid, match="Nothing matches"):
        do_preview_purge(PurgeSpec(MatchingScope(text="zebra"), "delete_for_everyone"), actor=moderator, reason="x")
    assert not PurgeRequest.objects.exists()


def test_external_ids_and_names_name_the_senders(world):
    spec = spec_from_external({"scope": {"kind": "matching", "text": "buy", "senders": ["u-sam"], "conversation": "g-one"},
                               "effect": "delete_for_everyone"})
    assert spec.scope.senders == (world.sam.pk,) and spec.scope.conversation == world.group.pk
    assert senders_named(["Sam Spammer", "u-bob", "", "u-sam"]) == [world.sam.pk, world.bob.pk]
    with pytest.raises(PurgeInvalid, match="No chat user has the external id or name “nobody”"):
        senders_named(["nobody"])


def test_only_roles_that_delete_conversations_content_may_select_all_matching(world, moderator, support, compliance):
    spec = PurgeSpec(MatchingScope(text="spam"), "delete_for_everyone")
    assert request_refusal(moderator, spec) is None
    assert request_refusal(support, spec) and request_refusal(compliance, spec)
    attachments = PurgeSpec(RangeScope(world.group.pk, end=T0), "delete_attachments")
    assert request_refusal(moderator, attachments) is None and request_refusal(support, attachments)


# --- narrow a range ---------------------------------------------------------------------------------


def test_a_range_narrowed_to_senders_deletes_only_what_they_sent(world, moderator, django_capture_on_commit_callbacks):
    spec = PurgeSpec(RangeScope(world.group.pk, end=T0 + 5 * HOUR, senders=[world.sam.pk, world.bob.pk]), "delete_for_everyone")
    before = set(Message.objects.values_list("id", flat=True))
    request = run(spec, moderator, django_capture_on_commit_callbacks)
    assert request.preview["messages"] == request.result["messages"] == 2  # Sam's two; Bob's is at +5h
    assert before - set(Message.objects.values_list("id", flat=True)) == {world.spam[0].pk, world.spam[1].pk}
    assert request.target.endswith(", sent by u-sam, u-bob")
    payloads = {tuple(e.payload["senders"]) for e in SyncEvent.objects.all()}
    assert payloads == {("u-sam", "u-bob")}


def test_a_batch_narrowed_to_a_sender_counts_each_conversation(world, moderator, django_capture_on_commit_callbacks):
    spec = PurgeSpec(ConversationsScope([world.group.pk, world.other.pk, world.quiet.pk], senders=[world.sam.pk]),
                     "delete_for_everyone")
    request = run(spec, moderator, django_capture_on_commit_callbacks)
    items = {i.conversation_external_id: (i.preview["messages"], i.counts["messages"], i.status) for i in request.items.all()}
    assert items == {"g-one": (2, 2, "ok"), "g-two": (2, 2, "ok"), "g-quiet": (0, 0, "ok")}
    assert not Message.objects.filter(sender=world.sam).exists()
    assert Message.objects.count() == len(world.talk)


def test_a_narrowed_hide_hides_only_those_senders_messages_for_the_member(world, moderator, django_capture_on_commit_callbacks):
    spec = PurgeSpec(RangeScope(world.group.pk, end=T0 + 10 * HOUR, senders=[world.sam.pk]), "hide_for_user", member=world.alice.pk)
    request = run(spec, moderator, django_capture_on_commit_callbacks)
    assert request.preview["messages"] == request.result["hides"] == 2
    assert set(MessageHide.objects.values_list("message_id", "user_id")) == {(m.pk, world.alice.pk) for m in world.spam[:2]}
    assert world.group.memberships.get(user=world.alice).cleared_before is None


# --- only attachments ---------------------------------------------------------------------------


def test_only_attachments_go_the_messages_stay(world, moderator, django_capture_on_commit_callbacks):
    before = snapshot_chat()
    spec = PurgeSpec(ConversationScope(world.group.pk), "delete_attachments")
    request = run(spec, moderator, django_capture_on_commit_callbacks)
    assert request.state == "done", request.error
    counted = {k: request.preview[k] for k in ("messages", "attachments", "reactions", "conversations", "members_affected")}
    assert counted == {"messages": 2, "attachments": 2, "reactions": 0, "conversations": 1, "members_affected": 3}
    assert {k: request.result[k] for k in counted} == counted
    after = snapshot_chat()
    assert after["Message"] == before["Message"]  # every message stays, untouched
    gone = {world.files["spam"].pk, world.files["alice"].pk}
    assert {r[0] for r in before["Attachment"] - after["Attachment"]} == gone
    assert {name: after[name] == before[name] for name in after if name not in ("Attachment",)} == dict.fromkeys(
        (n for n in after if n != "Attachment"), True)
    assert not default_storage.exists(world.files["spam"].file.name)
    assert default_storage.exists(world.files["photo"].file.name)
    assert not FileOutbox.objects.exists()
    events = SyncEvent.objects.all()
    assert {e.kind for e in events} == {"attachments_deleted"} and events.count() == 3
    assert events[0].payload["effect"] == "delete_attachments"


def test_only_attachments_of_a_narrowed_range_count_exactly(world, moderator, django_capture_on_commit_callbacks):
    scope = RangeScope(world.other.pk, start=T0, end=T0 + 24 * HOUR, senders=[world.alice.pk])
    request = run(PurgeSpec(scope, "delete_attachments"), moderator, django_capture_on_commit_callbacks)
    assert (request.preview["messages"], request.preview["attachments"]) == (1, 2)  # one message, two files
    assert (request.result["messages"], request.result["attachments"]) == (1, 2)
    assert Message.objects.filter(pk=world.talk[2].pk).exists()
    assert set(Attachment.objects.values_list("pk", flat=True)) == {
        world.files["spam"].pk, world.files["alice"].pk, world.files["quiet"].pk}


def test_only_attachments_honours_legal_holds(world, moderator, compliance, django_capture_on_commit_callbacks):
    do_add_legal_hold(actor=compliance, user=world.alice, reason="case 15")
    request = run(PurgeSpec(ConversationsScope([world.group.pk, world.other.pk]), "delete_attachments"), moderator,
                  django_capture_on_commit_callbacks)
    assert request.preview["attachments"] == request.result["attachments"] == 1  # Sam's file only
    assert request.preview["excluded_by_hold"] == 2
    statuses = {i.conversation_external_id: i.status for i in request.items.all()}
    assert statuses == {"g-one": "held", "g-two": "held"}
    assert Attachment.objects.filter(message__sender=world.alice).count() == 3


def test_only_attachments_of_what_a_search_found(world, moderator, django_capture_on_commit_callbacks):
    request = run(PurgeSpec(MatchingScope(text="watches"), "delete_attachments"), moderator, django_capture_on_commit_callbacks)
    assert (request.result["messages"], request.result["attachments"]) == (2, 2)
    assert Message.objects.count() == len(world.spam) + len(world.talk)
    assert {e.payload["message_ids"][0] for e in SyncEvent.objects.filter(conversation_pk=world.group.pk)} <= {
        world.spam[0].external_id, world.talk[0].external_id}


def test_only_attachments_where_there_are_none_makes_no_request(world, moderator):
    with pytest.raises(PurgeInvalid, match="Nothing matches"):
        do_preview_purge(PurgeSpec(RangeScope(world.group.pk, start=T0 + 5 * HOUR, end=T0 + 6 * HOUR), "delete_attachments"),
                         actor=moderator, reason="storage")
    assert not PurgeRequest.objects.exists()


def test_an_attachment_added_before_the_confirmation_is_asked_again(world, moderator):
    """A message gaining an attachment makes the preview stale: confirming recounts and asks again."""
    spec = PurgeSpec(RangeScope(world.group.pk, end=T0 + 3 * HOUR), "delete_attachments")
    request = do_preview_purge(spec, actor=moderator, reason="storage")
    add_attachment(world.spam[1], "new.png")
    with pytest.raises(PurgeRefused, match="messages 1 → 2"):
        do_execute_purge(request, actor=moderator)
    request.refresh_from_db()
    assert (request.state, request.preview["messages"], request.preview["attachments"]) == ("previewed", 2, 2)
    assert Attachment.objects.filter(message__in=world.spam[:2]).count() == 2


def test_an_attachment_added_after_the_confirmation_is_drift_not_silence(world, moderator):
    """The run takes the messages its preview counted; their attachments, counted again as they go."""
    spec = PurgeSpec(RangeScope(world.group.pk, end=T0 + 3 * HOUR), "delete_attachments")
    request = do_preview_purge(spec, actor=moderator, reason="storage")
    PurgeRequest.objects.filter(pk=request.pk).update(runs_inline=False)
    request = do_execute_purge(request, actor=moderator)
    assert request.state == "queued", request.state
    add_attachment(world.spam[0], "second.png")
    add_attachment(world.spam[1], "new.png")  # a message the preview did not count
    run_purge(request.pk, request.attempt)
    request.refresh_from_db()
    assert request.preview["messages"] == request.result["messages"] == 1
    assert (request.preview["attachments"], request.result["attachments"]) == (1, 2)
    assert Attachment.objects.filter(message=world.spam[1]).count() == 1


# --- the CLI and the API take them too ------------------------------------------------------------


def purge_command(capsys, *args):
    """manage.py purge ... --json: (exit status, parsed JSON output)."""
    import json

    from django.core.management import CommandError, call_command

    try:
        call_command("purge", *args, "--actor", "mona", "--reason", "spam wave", "--json")
        status = 0
    except CommandError as exc:
        status = exc.returncode
    out = capsys.readouterr().out.strip()
    return status, json.loads(out) if out else None


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


def test_deleting_a_senders_latest_message_keeps_last_message_at_right(world, moderator, django_capture_on_commit_callbacks):
    """Bob's "lunch?" is the group's latest message: what is left is everyone else's."""
    from chatdata.models import Conversation

    spec = PurgeSpec(ConversationsScope([world.group.pk], senders=[world.bob.pk]), "delete_for_everyone")
    request = run(spec, moderator, django_capture_on_commit_callbacks)
    assert request.result["messages"] == 1
    assert Conversation.objects.get(pk=world.group.pk).last_message_at == world.talk[0].sent_at
