"""Issue 14, "Add" (tests/purge_select.py): select what a search found, the `matching` scope: its
preview counts what the search shows, its run deletes exactly that."""

import pytest
from django.core.files.storage import default_storage

from chatdata.browse.search import MessageQuery, search_messages
from chatdata.models import AuditEntry, Message, PurgeRequest, SyncEvent
from chatdata.permissions import request_refusal
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.predicates import matching_count
from chatdata.purge.scopes import MatchingScope, PurgeInvalid, PurgeSpec, RangeScope
from chatdata.purge.validation import senders_named, spec_from_external
from tests.builders import T0, make_message, snapshot_chat
from tests.purge_select import HOUR, run, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.django_db


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
