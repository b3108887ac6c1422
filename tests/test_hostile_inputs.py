"""Generated hostile values at every form field, query parameter and CLI flag of the purge, hold,
approval, audit-filter, search, erasure and import flows (issue 11, "Done when"), with hypothesis.

Each example puts one hostile value (unicode digits, lone surrogates, huge and negative numbers,
NUL, very long strings, odd dates, empty) into one field of an otherwise valid request and asserts:
no server error, a clear message when the request is not done (a 4xx page or the form again with
its error; at the command line exit status 2 or 3 with a sentence), and the chat data unchanged
(tests.purge_snapshot) unless the value was acceptable and the request done. Each example runs in
a savepoint rolled back afterwards, so examples do not see each other's work.

Surrogates cannot be encoded in UTF-8: the web gets them as a browser or a script would send
them, the bytes of one percent-encoded (%ED%A0%80), which Django decodes as replacement
characters; the command line gets the Python string itself.
"""

from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from chatdata import roles
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import ChatWorld
from tests.conftest import make_staff
from tests.purge_snapshot import snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

HOSTILE_WORDS = [
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "²", "٣", "１２", "³⁴", "-1", "-0", "0", "+5", "1e9", "1_000",
    str(2**63), str(10**400), "-" + str(2**64), "NaN", "inf", "0x1F", "1.5",
    "2026-02-30T10:00", "2026-13-01T00:00", "0000-01-01T00:00", "9999-12-31T23:59", "10000-01-01T00:00",
    "2026-01-01T25:61", "2026-01-01", "2026-01-01T00:00:00+99:00", "1970-01-01T00:00:00Z", "yesterday",
    "x" * 5000, "é" * 300, "💣" * 100, "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../../etc/passwd",
]
hostile = st.one_of(
    st.sampled_from(HOSTILE_WORDS),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.text(alphabet=st.characters(codec=None, categories=["Nd", "No", "Cs", "Cc", "Zs", "So"]), max_size=12),
    st.text(max_size=40),
)
EXAMPLES = hypothesis_settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def world(db):
    """Two moderators, two compliance officers and a superuser; the shared chat world with six
    messages of Alice's in the group and three of Bob's in the other (grp2)."""
    world = ChatWorld().two_groups(6, 3, other="grp2")
    world.mona, world.max = make_staff("mona", roles.MODERATOR), make_staff("max", roles.MODERATOR)
    world.cleo, world.cole = make_staff("cleo", roles.COMPLIANCE), make_staff("cole", roles.COMPLIANCE)
    world.root = make_staff("root", superuser=True)
    return world


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def form_body(data):
    """application/x-www-form-urlencoded, a lone surrogate as its (invalid) UTF-8 bytes."""
    return urlencode(data, doseq=True, encoding="utf-8", errors="surrogatepass")


def post(client, url, data):
    return client.post(url, form_body(data), content_type="application/x-www-form-urlencoded")


def get(client, url, data):
    return client.get(f"{url}?{form_body(data)}")


def judged(response, before, *, done_statuses=(302,)):
    """No 500; done (a redirect), or refused with a message and nothing changed."""
    assert response.status_code < 500
    if response.status_code in done_statuses:
        return "done"
    page = response.content.decode("utf-8", "replace")
    assert response.status_code in (200, 400, 403, 404, 405), response.status_code
    if response.status_code == 200 and response.request["REQUEST_METHOD"] == "POST":  # the form again, with why
        assert 'role="alert"' in page or "errorlist" in page or 'class="error' in page, page[:2000]
    assert page.strip()
    assert snapshot() == before
    return "refused"


# --- the deletion workflow ------------------------------------------------------------------------

CONVERSATION_FORMS = {
    "messages": {"ids": "{m}", "effect": "delete_for_everyone", "member": "", "reason": "spam", "ticket": ""},
    "range": {"start": "2026-01-01T12:00", "end": "2026-01-01T15:00", "effect": "delete_for_everyone",
              "member": "", "reason": "spam", "ticket": ""},
    "conversation": {"what": "clear_member", "member": "alice", "clear_history": "", "reason": "spam", "ticket": ""},
}


@EXAMPLES
@given(action=st.sampled_from(sorted(CONVERSATION_FORMS)), data=st.data(), value=hostile)
def test_the_conversation_purge_forms(client, world, action, data, value):
    fields = dict(CONVERSATION_FORMS[action], action=action)
    if "ids" in fields:
        fields["ids"] = str(world.messages[0].pk)
    name = data.draw(st.sampled_from(sorted(fields)))
    fields[name] = value
    client.force_login(world.mona)
    with rolled_back():
        before = snapshot()
        judged(post(client, f"/conversations/{world.group.pk}/purge/", fields), before)


@EXAMPLES
@given(data=st.data(), value=hostile)
def test_the_range_live_preview(client, world, data, value):
    fields = {"start": "2026-01-01T12:00", "end": "2026-01-01T15:00", "effect": "delete_for_everyone", "member": ""}
    fields[data.draw(st.sampled_from(sorted(fields)))] = value
    client.force_login(world.mona)
    before = snapshot()
    response = get(client, f"/conversations/{world.group.pk}/purge/range-preview/", fields)
    assert response.status_code in (200, 400)
    assert snapshot() == before


@EXAMPLES
@given(data=st.data(), value=hostile)
def test_the_batch_and_user_forms(client, world, data, value):
    batch = {"conversations": [str(world.group.pk), str(world.other.pk)], "what": "delete_all", "reason": "spam", "ticket": ""}
    user = {"span": "range", "start": "2026-01-01T12:00", "end": "2026-01-01T15:00", "reason": "erasure", "ticket": "D-1"}
    which = data.draw(st.sampled_from(["batch", "user"]))
    fields, url, actor = (batch, "/conversations/purge/", world.mona) if which == "batch" else (
        user, f"/users/{world.alice.pk}/purge/", world.cleo)
    fields[data.draw(st.sampled_from(sorted(fields)))] = value
    client.force_login(actor)
    with rolled_back():
        before = snapshot()
        judged(post(client, url, fields), before)
    # The batch page's link (GET) carries conversation ids too.
    client.force_login(world.mona)
    assert get(client, "/conversations/purge/", {"conversations": value}).status_code in (200, 400)


@EXAMPLES
@given(value=hostile)
def test_the_typed_confirmation(client, world, value):
    spec = PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone")
    client.force_login(world.mona)
    with rolled_back():
        purge = do_preview_purge(spec, actor=world.mona, reason="spam")
        before = snapshot()
        judged(post(client, f"/purge/{purge.pk}/execute/", {"confirmation": value}), before)


# --- approvals, holds ---------------------------------------------------------------------------


@EXAMPLES
@given(value=hostile)
def test_the_reject_reason(client, world, settings, value):
    settings.PURGE_APPROVAL_THRESHOLD = 1
    client.force_login(world.max)
    with rolled_back():
        purge = do_execute_purge(do_preview_purge(PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone"),
                                                  actor=world.mona, reason="spam"), actor=world.mona)
        before = snapshot()
        judged(post(client, f"/approvals/{purge.pk}/reject/", {"reason": value}), before)


@EXAMPLES
@given(data=st.data(), value=hostile)
def test_the_hold_forms(client, world, data, value):
    fields = {"kind": "conversation", "external_id": "grp", "start": "", "end": "", "reason": "case 7"}
    fields[data.draw(st.sampled_from(sorted(fields)))] = value
    client.force_login(world.cleo)
    with rolled_back():
        before = snapshot()
        judged(post(client, "/holds/new/", fields), before)
    with rolled_back():
        hold = do_add_legal_hold(actor=world.cleo, conversation=world.group, reason="case 7")
        before = snapshot()
        judged(post(client, f"/holds/{hold.pk}/release/", {"reason": value}), before)
    response = get(client, "/holds/", {data.draw(st.sampled_from(["state", "after"])): value})
    assert response.status_code in (200, 400)


# --- reading: audit filters, search, lists ------------------------------------------------------

READ_PAGES = {
    "/audit/": ["actor", "action", "target", "request", "since", "until", "after"],
    "/search/": ["q", "sender", "conversation", "start", "end", "before"],
    "/users/": ["q", "after"],
    "/conversations/": ["q", "after", "kind"],
    "/jobs/": ["state", "after"],
}


@EXAMPLES
@given(data=st.data(), value=hostile)
def test_the_read_pages_query_parameters(client, world, data, value):
    url = data.draw(st.sampled_from(sorted(READ_PAGES)))
    name = data.draw(st.sampled_from(READ_PAGES[url]))
    client.force_login(world.root)
    before = snapshot()
    response = get(client, url, {name: value})
    assert response.status_code in (200, 400), (url, name, response.status_code)
    assert snapshot() == before


@EXAMPLES
@given(data=st.data(), value=hostile)
def test_the_audit_export_filters(client, world, data, value):
    name = data.draw(st.sampled_from(READ_PAGES["/audit/"]))
    client.force_login(world.cleo)
    before = snapshot()
    response = post(client, f"/audit/export.{data.draw(st.sampled_from(['csv', 'jsonl']))}", {name: value})
    assert response.status_code in (200, 400)
    assert snapshot() == before


# --- the command line ----------------------------------------------------------------------------


def run(*args):
    """(exit status, message) of a command; never an uncaught exception."""
    try:
        call_command(*args)
    except CommandError as exc:
        return exc.returncode, str(exc)
    except SystemExit as exc:  # argparse refusing a value: its message went to stderr
        return exc.code, "usage"
    return 0, ""


def judged_command(args, before):
    status, message = run(*args)
    if status:
        assert status in (1, 2, 3) and message.strip(), (status, message)
        assert snapshot() == before
    return status


PURGE_COMMAND = ["--conversation", "grp", "--start", "2026-01-01T12:00:00+00:00", "--end", "2026-01-01T15:00:00+00:00",
                 "--effect", "delete-for-everyone", "--actor", "mona", "--reason", "spam", "--ticket", "T-1"]


@EXAMPLES
@given(data=st.data(), value=hostile)
def test_the_purge_command_flags(world, capsys, data, value):
    args = list(PURGE_COMMAND)
    flag = data.draw(st.sampled_from([a for a in args if a.startswith("--")] + ["--member", "--messages", "--conversations",
                                                                               "--approve", "--cancel", "--wait-timeout"]))
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args = [*args, flag, value]
    with rolled_back():
        before = snapshot()
        judged_command(["purge", *args], before)


@EXAMPLES
@given(data=st.data(), value=hostile)
def test_the_legal_hold_command_flags(world, capsys, data, value):
    args = ["add", "--conversation", "grp", "--start", "2026-01-01T12:00:00+00:00", "--end", "2026-01-02T00:00:00+00:00",
            "--reason", "case", "--actor", "cleo"]
    flag = data.draw(st.sampled_from(["--conversation", "--start", "--end", "--reason", "--actor"]))
    args[args.index(flag) + 1] = value
    with rolled_back():
        before = snapshot()
        judged_command(["legal_hold", *args], before)
        before = snapshot()  # a hold placed (the value was acceptable) stays for the release
        judged_command(["legal_hold", "release", value, "--actor", "cleo"], before)


@EXAMPLES
@given(data=st.data(), value=hostile)
def test_the_erasure_command_flags(world, capsys, data, value):
    args = ["open", "--user", "alice", "--ticket", "DSR-1", "--received", "2026-01-02T00:00:00+00:00",
            "--peer-conversations", "keep", "--actor", "cleo", "--note", "by mail"]
    flag = data.draw(st.sampled_from(["--user", "--ticket", "--received", "--peer-conversations", "--actor", "--note"]))
    args[args.index(flag) + 1] = value
    with rolled_back():
        before = snapshot()
        judged_command(["erasure", *args], before)
        before = snapshot()
        for sub in ("approve", "reject", "cancel", "resume", "show"):
            extra = ["--reason", "no"] if sub == "reject" else []
            judged_command(["erasure", sub, value, *(["--actor", "cole"] if sub != "show" else []), *extra], before)


@EXAMPLES
@given(value=hostile.filter(lambda v: v.strip() != "-"))  # "-" reads standard input
def test_the_import_command_flags(world, capsys, tmp_path_factory, value):
    from tests.test_import_chat import EXAMPLE

    with rolled_back():
        before = snapshot()
        judged_command(["import_chat", str(EXAMPLE), "--actor", value], before)
        judged_command(["import_chat", value, "--actor", "root", "--dry-run"], before)


# --- the actions themselves (for callers other than the forms and commands above) ----------------


@pytest.mark.parametrize("value", ["a\x00b", "x\ud800y"])
def test_the_actions_refuse_text_the_database_cannot_hold(world, value):
    from chatdata.erasure.actions import ErasureInvalid, do_open_erasure
    from chatdata.purge.scopes import PurgeInvalid

    spec = PurgeSpec(ConversationScope(world.group.pk), "delete_for_everyone")
    before = snapshot()
    for call, field in [
        (lambda: do_preview_purge(spec, actor=world.mona, reason=value), "reason"),
        (lambda: do_preview_purge(spec, actor=world.mona, reason="spam", ticket=value), "ticket"),
        (lambda: do_add_legal_hold(actor=world.cleo, conversation=world.group, reason=value), "reason"),
        (lambda: do_open_erasure(actor=world.cleo, subject="alice", ticket=value), "ticket"),
        (lambda: do_open_erasure(actor=world.cleo, subject=value, ticket="DSR-1"), "user"),
    ]:
        with pytest.raises(PurgeInvalid) as caught:
            call()
        assert caught.value.field == field and field in caught.value.message
    assert snapshot() == before
    assert ErasureInvalid  # (a PurgeInvalid)
