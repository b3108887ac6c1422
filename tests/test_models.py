import pytest
from django.db import IntegrityError, connection, transaction

from chatdata.models import Conversation, Membership, Message, Reaction
from tests.builders import add_attachment, add_hide, add_pending, add_reaction, make_conversation, make_message, make_user

pytestmark = pytest.mark.django_db


def test_it_requires_unique_external_ids():
    make_user("alice")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_user("alice")


def test_it_refuses_an_unknown_conversation_kind():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_conversation(kind="channel")


def test_it_allows_one_membership_per_user_and_conversation():
    alice = make_user()
    conversation = make_conversation(members=[alice])
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(conversation=conversation, user=alice, joined_at=conversation.created_at)


def test_it_allows_one_reaction_per_user_message_and_emoji():
    alice = make_user()
    message = make_message(make_conversation(members=[alice]), alice)
    add_reaction(message, alice, "👍")
    add_reaction(message, alice, "🎉")
    with pytest.raises(IntegrityError), transaction.atomic():
        add_reaction(message, alice, "👍")


def test_it_cascades_message_children_in_the_database():
    alice, bob = make_user(), make_user()
    message = make_message(make_conversation(members=[alice, bob]), alice)
    add_reaction(message, bob)
    add_hide(message, bob)
    add_pending(message, bob)
    add_attachment(message)
    # A raw DELETE (no Django collector involved) must still take every child with it.
    Message.objects.filter(pk=message.pk)._raw_delete("default")
    assert Reaction.objects.count() == 0
    assert message.hides.count() == 0
    assert message.pending_deliveries.count() == 0
    assert message.attachments.count() == 0


def test_it_refuses_to_delete_a_chat_user_who_still_has_messages():
    alice = make_user()
    make_message(make_conversation(members=[alice]), alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        # Django's constraints are deferred to commit; the test never commits, so check now.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        type(alice).objects.filter(pk=alice.pk)._raw_delete("default")


def test_it_deletes_a_conversation_with_its_memberships_and_messages():
    alice = make_user()
    conversation = make_conversation(members=[alice])
    make_message(conversation, alice)
    Conversation.objects.filter(pk=conversation.pk)._raw_delete("default")
    assert Membership.objects.count() == 0
    assert Message.objects.count() == 0
