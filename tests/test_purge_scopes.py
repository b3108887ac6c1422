"""Scope and effect value objects: canonical JSON, normalisation and structural validation."""

from datetime import UTC, datetime, timedelta

import pytest

from chatdata.purge.scopes import (
    MODE_CLEAR,
    MODE_DELETE,
    MODE_HIDE_ROWS,
    ConversationScope,
    ConversationsScope,
    MessagesScope,
    PurgeInvalid,
    PurgeSpec,
    RangeScope,
    UserScope,
    spec_from_dict,
)

START = datetime(2026, 1, 1, tzinfo=UTC)

SPECS = [
    PurgeSpec(MessagesScope(ids=[3, 1, 2], conversation=9), "delete_for_everyone"),
    PurgeSpec(MessagesScope(ids=[5]), "hide_for_user", member=4),
    PurgeSpec(RangeScope(9, start=START), "delete_for_everyone"),
    PurgeSpec(RangeScope(9, end=START), "hide_for_user", member=4),
    PurgeSpec(ConversationScope(9), "delete_conversation", member=4, clear_history=True),
    PurgeSpec(ConversationsScope([9, 8]), "delete_conversation"),
    PurgeSpec(UserScope(4, start=START, end=START + timedelta(days=1), conversations=[9]), "delete_for_everyone"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.effect}")
def test_it_round_trips_through_canonical_json(spec):
    import json

    data = json.loads(json.dumps(spec.to_dict()))
    assert spec_from_dict(data) == spec
    assert spec_from_dict(data).to_dict() == data


def test_it_writes_the_documented_shape():
    spec = PurgeSpec(RangeScope(12, start=START), "hide_for_user", member=7)
    assert spec.to_dict() == {
        "scope": {"kind": "range", "conversation": 12, "start": "2026-01-01T00:00:00+00:00", "end": None},
        "effect": "hide_for_user",
        "member": 7,
        "clear_history": False,
    }


def test_it_normalises_times_to_utc_and_keeps_the_instant():
    scope = RangeScope(1, start="2026-01-01T10:00:00+01:00")
    assert scope.start == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert scope.start.tzinfo is UTC


def test_it_deduplicates_ids_keeping_their_order():
    assert MessagesScope(ids=[3, 1, 3, "2"]).ids == (3, 1, 2)
    assert ConversationsScope([9, 8, 9]).conversations == (9, 8)


@pytest.mark.parametrize(
    ("make", "field", "words"),
    [
        (lambda: MessagesScope(ids=[]), "ids", "empty"),
        (lambda: ConversationsScope([]), "conversations", "empty"),
        (lambda: RangeScope(1), "start", "range is empty"),
        (lambda: RangeScope(1, start=START, end=START), "end", "must be after"),
        (lambda: RangeScope(1, start=START + timedelta(hours=1), end=START), "end", "must be after"),
        (lambda: RangeScope(1, start=datetime(2026, 1, 1)), "start", "no timezone"),
        (lambda: RangeScope(1, end="2026-01-01T10:00:00"), "end", "no timezone"),
        (lambda: UserScope(1, start="yesterday"), "start", "not an ISO 8601"),
        (lambda: MessagesScope(ids=[0]), "ids", "positive"),
        (lambda: MessagesScope(ids=[True]), "ids", "whole number"),
        (lambda: ConversationScope("abc"), "conversation", "positive"),
    ],
)
def test_it_refuses_malformed_scopes(make, field, words):
    with pytest.raises(PurgeInvalid) as caught:
        make()
    assert caught.value.field == field
    assert words in caught.value.message


def test_it_refuses_more_ids_than_purge_max_ids(settings):
    settings.PURGE_MAX_IDS = 3
    MessagesScope(ids=[1, 2, 3])
    with pytest.raises(PurgeInvalid, match="At most 3 ids"):
        MessagesScope(ids=[1, 2, 3, 4])
    with pytest.raises(PurgeInvalid, match="At most 3 conversations"):
        ConversationsScope([1, 2, 3, 4])


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"scope": MessagesScope([1]), "effect": "delete_conversation"}, "effect", "cannot take"),
        ({"scope": RangeScope(1, start=START), "effect": "delete_conversation"}, "effect", "cannot take"),
        ({"scope": UserScope(1), "effect": "hide_for_user", "member": 2}, "effect", "cannot take"),
        ({"scope": ConversationScope(1), "effect": "shred"}, "effect", "Unknown effect"),
        ({"scope": ConversationScope(1), "effect": "hide_for_user"}, "member", "needs a member"),
        ({"scope": ConversationScope(1), "effect": "delete_for_everyone", "member": 2}, "member", "takes no member"),
        ({"scope": ConversationScope(1), "effect": "delete_conversation", "clear_history": True}, "clear_history", "one member"),
        ({"scope": ConversationScope(1), "effect": "hide_for_user", "member": 2, "clear_history": True}, "clear_history", "only applies"),
    ],
)
def test_it_refuses_effects_that_do_not_fit_the_scope(kwargs, field, words):
    with pytest.raises(PurgeInvalid) as caught:
        PurgeSpec(**kwargs)
    assert caught.value.field == field
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "JSON object"),
        ({"effect": "hide_for_user"}, "scope object"),
        ({"scope": {"kind": "planet"}, "effect": "hide_for_user"}, "Unknown scope"),
        ({"scope": {"kind": "range", "start": "2026-01-01T00:00:00Z"}, "effect": "delete_for_everyone"}, "needs conversation"),
        ({"scope": {"kind": "conversation", "conversation": 1, "colour": "red"}, "effect": "delete_for_everyone"}, "no field colour"),
    ],
)
def test_it_refuses_malformed_dicts(data, words):
    with pytest.raises(PurgeInvalid, match=words):
        spec_from_dict(data)


def test_it_knows_how_each_effect_is_carried_out():
    assert PurgeSpec(MessagesScope([1]), "hide_for_user", member=2).mode == MODE_HIDE_ROWS
    assert PurgeSpec(RangeScope(1, start=START), "hide_for_user", member=2).mode == MODE_HIDE_ROWS
    assert PurgeSpec(RangeScope(1, end=START), "hide_for_user", member=2).mode == MODE_CLEAR
    assert PurgeSpec(ConversationScope(1), "hide_for_user", member=2).mode == MODE_CLEAR
    assert PurgeSpec(ConversationScope(1), "delete_conversation", member=2).mode == MODE_CLEAR
    assert PurgeSpec(ConversationScope(1), "delete_conversation").mode == MODE_DELETE
    assert PurgeSpec(UserScope(1), "delete_for_everyone").is_erasure


def test_it_is_frozen():
    spec = SPECS[0]
    with pytest.raises(AttributeError):
        spec.effect = "hide_for_user"
    with pytest.raises(AttributeError):
        spec.scope.ids = (1,)
