"""Issue 14, "Add" (tests/purge_select.py): the new scopes as values, their JSON, what they refuse,
their modes."""

import pytest

from chatdata.purge.scopes import (
    MODE_ATTACHMENTS,
    MODE_HIDE_ROWS,
    ConversationsScope,
    MatchingScope,
    PurgeInvalid,
    PurgeSpec,
    RangeScope,
    spec_from_dict,
)
from tests.builders import T0

pytestmark = pytest.mark.django_db


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
