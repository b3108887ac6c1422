"""Batches that skip the per-row foreign-key triggers (PURGE_SKIP_FK_TRIGGERS): only where that is
safe and allowed, and even then no child row outlives its message, whoever commits meanwhile."""

import threading
import time

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from psycopg.conninfo import make_conninfo

from chatdata.models import Attachment, FileOutbox, Message, Reaction
from chatdata.purge import effects
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from chatdata.purge.statements import batch_cursor
from tests.builders import ChatWorld, add_attachment, add_reaction


def switches_off_triggers():
    """Whether a batch transaction started now would skip the triggers (and is then in replica mode)."""
    with batch_cursor() as cursor:
        skipped = effects._without_fk_triggers(cursor)
        cursor.execute("SELECT current_setting('session_replication_role')")
        assert cursor.fetchone()[0] == ("replica" if skipped else "origin")
    return skipped


def in_rolled_back_transaction(*statements):
    """Run `statements`, then ask switches_off_triggers(), all in a transaction rolled back after."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
        skipped = switches_off_triggers()
        transaction.set_rollback(True)
    return skipped


@pytest.mark.django_db
class TestWhenTheTriggersAreSkipped:
    def test_a_superuser_on_chatsweeps_schema_skips_them(self):
        assert in_rolled_back_transaction() is True

    def test_not_when_the_setting_says_off(self, settings):
        settings.PURGE_SKIP_FK_TRIGGERS = "off"
        assert in_rolled_back_transaction() is False

    def test_not_for_a_role_that_may_not_set_session_replication_role(self):
        assert in_rolled_back_transaction("CREATE ROLE chatsweep_plain", "SET LOCAL ROLE chatsweep_plain") is False

    def test_for_a_role_granted_the_parameter(self):
        assert in_rolled_back_transaction(
            "CREATE ROLE chatsweep_granted",
            "GRANT SET ON PARAMETER session_replication_role TO chatsweep_granted",
            "SET LOCAL ROLE chatsweep_granted",
        ) is True

    def test_not_when_a_chat_table_has_a_trigger_of_its_own(self):
        assert in_rolled_back_transaction(
            "CREATE FUNCTION chatsweep_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN OLD; END'",
            "CREATE TRIGGER audit_reactions AFTER DELETE ON chatdata_reaction FOR EACH ROW EXECUTE FUNCTION chatsweep_noop()",
        ) is False

    def test_not_when_another_table_refers_to_the_messages(self):
        assert in_rolled_back_transaction(
            "CREATE TABLE chat_service_pins (message_id bigint REFERENCES chatdata_message (id))"
        ) is False

    def test_not_when_a_cascade_became_a_restriction(self):
        assert in_rolled_back_transaction(
            "ALTER TABLE chatdata_reaction DROP CONSTRAINT " + _fk_name("chatdata_reaction"),
            "ALTER TABLE chatdata_reaction ADD FOREIGN KEY (message_id) REFERENCES chatdata_message (id)",
        ) is False


def _fk_name(table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass "
            "AND confrelid = 'chatdata_message'::regclass",
            [table],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps the roles for the tests after it
def test_not_in_a_repeatable_read_transaction():
    """The second pass must see children committed during the batch: only READ COMMITTED does."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert switches_off_triggers() is False


class ChatService:
    """Another session adding a child to a message and holding it, foreign-key check done (so the
    message row is locked FOR KEY SHARE), until a purge's batch waits for it; then it commits."""

    def __init__(self, insert_sql, params):
        db = connection.settings_dict
        self.conn = psycopg.connect(make_conninfo(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"]))
        self.conn.execute(insert_sql, params)
        self.conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        self.purge_waited = False
        self.thread = threading.Thread(target=self._commit_when_waited_for, daemon=True)
        self.thread.start()

    def _commit_when_waited_for(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.purge_waited:
            self.purge_waited = self.conn.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted)").fetchone()[0]
            time.sleep(0.02)
        self.conn.commit()
        self.conn.close()


@pytest.fixture
def chat(db):
    """The shared world with five messages of Alice's (the first with Bob's reaction) and two of Bob's."""
    chat = ChatWorld().two_groups(5, 2, other="other")
    chat.add_reaction(chat.messages[0], "bob")
    return chat


def purge_while(service_factory, chat, moderator):
    spec = PurgeSpec(ConversationScope(conversation=chat["group"].pk), "delete_for_everyone")
    request = do_preview_purge(spec, actor=moderator, reason="a child arrives during the batch")
    service = service_factory()
    request = do_execute_purge(request, actor=moderator)  # inline: its batch waits for the service
    service.thread.join(timeout=60)
    assert service.purge_waited, "the batch never waited for the chat service's uncommitted child"
    assert request.state == "done", request.error
    return request


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the roles come from a data migration
@pytest.mark.parametrize("skip", ["auto", "off"])
def test_a_reaction_committed_during_the_batch_goes_with_its_message(skip, chat, moderator, settings):
    settings.PURGE_SKIP_FK_TRIGGERS = skip
    target = chat["messages"][2]
    request = purge_while(
        lambda: ChatService(
            "INSERT INTO chatdata_reaction (message_id, user_id, emoji) VALUES (%s, %s, '🔥')", [target.pk, chat["bob"].pk]
        ),
        chat,
        moderator,
    )
    assert not Message.objects.filter(conversation=chat["group"]).exists()
    assert not Reaction.objects.exclude(message__in=Message.objects.all()).exists()  # no orphans
    assert Reaction.objects.count() == 0
    assert request.result["reactions"] == request.preview["reactions"] + 1 == 2
    assert Message.objects.filter(conversation=chat["others"][0].conversation).count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_attachment_committed_during_the_batch_has_its_file_removed_too(chat, moderator, settings, media_root):
    """Where the triggers are skipped the late attachment goes through the outbox like the others
    (with the database's cascade its row would go without its file reaching the outbox)."""
    settings.PURGE_SKIP_FK_TRIGGERS = "auto"
    path = default_storage.save("attachments/late.png", ContentFile(b"png"))
    target = chat["messages"][3]
    request = purge_while(
        lambda: ChatService(
            "INSERT INTO chatdata_attachment (message_id, file, size, content_type) VALUES (%s, %s, 3, 'image/png')",
            [target.pk, path],
        ),
        chat,
        moderator,
    )
    assert not Attachment.objects.exists()
    assert request.result["attachments"] == request.preview["attachments"] + 1 == 1
    assert not default_storage.exists(path)
    assert not FileOutbox.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("skip", ["auto", "off"])
def test_both_ways_delete_the_same_rows_and_count_them_alike(
    skip, chat, moderator, settings, media_root, django_capture_on_commit_callbacks
):
    settings.PURGE_SKIP_FK_TRIGGERS = skip
    add_attachment(chat["messages"][1])
    add_reaction(chat["others"][0], chat["alice"])
    spec = PurgeSpec(ConversationScope(conversation=chat["group"].pk), "delete_for_everyone")
    with django_capture_on_commit_callbacks(execute=True):
        request = do_execute_purge(do_preview_purge(spec, actor=moderator, reason="both ways"), actor=moderator)
    assert request.state == "done", request.error
    assert {k: request.result[k] for k in ("messages", "attachments", "reactions")} == {
        "messages": 5, "attachments": 1, "reactions": 1,
    }
    assert list(Reaction.objects.values_list("message_id", flat=True)) == [chat["others"][0].pk]
