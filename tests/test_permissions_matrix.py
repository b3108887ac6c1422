"""Every role against every view and action of the web app (DESIGN.md invariant 6).

MATRIX below is the permission matrix as the server enforces it, one row per URL name (and per
kind of object where the rule depends on it), one column per persona:

    Y  allowed: a page answers 200; an action does what it says (the state changes)
    R  refused by the rule for this object: the page is open to the role, but the engine says no
       (chatdata.permissions) and the action answers with an error message; nothing changes
    N  403 (templates/403.html); nothing changes
    L  redirect to the login page; nothing changes
    P  public: the login page (a logged-in visitor is sent on to the home page)

The personas are conftest's (sam support, mona moderator, cleo compliance, audrey auditor, ada
admin, otto with no role) plus anonymous. Requests and holds acted on belong to `root`, an admin
who is none of them, so "nobody approves their own request" is tested apart (test_oversight_approvals).
A test fails when dashboard/urls.py gains a URL name without a row here. Every POST is also sent
without its CSRF token by the most privileged persona, and must be refused.
"""

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import pytest
from django.contrib.messages import constants, get_messages
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from chatdata import roles
from chatdata.erasure.actions import do_open_erasure
from chatdata.erasure.certificate import issue
from chatdata.api_tokens import do_create_api_token
from chatdata.models import ApiToken, AuditEntry, ErasureRequest, LegalHold, PurgeRequest, Selection
from chatdata.purge.actions import do_cancel_purge, do_execute_purge, do_preview_purge
from chatdata.permissions import can_request
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.scopes import ConversationScope, MessagesScope, PurgeSpec, UserScope
from tests.builders import add_attachment, make_conversation, make_history, make_user
from tests.conftest import PASSWORD, make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


PERSONAS = ("support", "moderator", "compliance", "auditor", "admin", "outsider", "anonymous")
GET, POST = "GET", "POST"
Y, R, N, L, P = "Y", "R", "N", "L", "P"


@dataclass(frozen=True)
class Row:
    name: str  # URL name
    method: str
    expect: str  # one letter per persona, in PERSONAS order
    args: Callable = lambda w: []
    data: Callable = lambda w: {}
    state: Callable | None = None  # (world, client) -> what an allowed action changes; others must not
    ok_status: int | None = None  # default: 200 for GET, 302 for POST
    label: str = ""
    query: str = ""

    def __post_init__(self):
        assert len(self.expect) == len(PERSONAS), self.name

    @property
    def id(self):
        return f"{self.method} {self.name}{' ' + self.label if self.label else ''}"


def request_state(attr):
    return lambda w, c: PurgeRequest.objects.get(pk=getattr(w, attr).pk).state


def erasure_state(attr):
    return lambda w, c: ErasureRequest.objects.get(pk=getattr(w, attr).pk).state


def exports(w, c):
    return AuditEntry.objects.filter(action="audit.export").count()


#            URL name                  method   su mo co au ad ou an
MATRIX = [
    # login and logout
    Row("login", GET, "PPPPPPP"),
    Row("logout", POST, "YYYYYYL", state=lambda w, c: c.session.get("_auth_user_id")),
    # browse: any role reads
    Row("browse:home", GET, "YYYYYNL"),
    Row("browse:users", GET, "YYYYYNL"),
    Row("browse:user", GET, "YYYYYNL", args=lambda w: [w.alice.pk]),
    Row("browse:conversations", GET, "YYYYYNL"),
    Row("browse:conversation", GET, "YYYYYNL", args=lambda w: [w.group.pk]),
    Row("browse:message", GET, "YYYYYNL", args=lambda w: [w.history[0].pk]),
    Row("browse:attachment", GET, "YYYYYNL", args=lambda w: [w.attachment.pk]),
    Row("browse:search", GET, "YYYYYNL", query="?q=message"),
    Row("browse:suggest_users", GET, "YYYYYNL", query="?sender=a"),
    Row("browse:suggest_conversations", GET, "YYYYYNL", query="?conversation=g"),
    # approvals: the queue opens to whoever may approve something; each request says who may act
    Row("approvals:queue", GET, "NYYNYNL"),
    Row("approvals:reject", GET, "NYYNYNL", args=lambda w: [w.conv_request.pk], label="(form)"),
    Row("approvals:review", GET, "NYYNYNL", args=lambda w: [w.conv_request.pk]),
    Row("approvals:approve", POST, "NYRNYNL", args=lambda w: [w.conv_request.pk], label="conversation request",
        data=lambda w: {"confirmation": "Team"}, state=request_state("conv_request")),
    Row("approvals:approve", POST, "NRYNYNL", args=lambda w: [w.erasure.pk], label="erasure",
        data=lambda w: {"confirmation": "u-bob"}, state=request_state("erasure")),
    Row("approvals:reject", POST, "NYRNYNL", args=lambda w: [w.conv_request.pk], label="conversation request",
        data=lambda w: {"reason": "too broad"}, state=request_state("conv_request")),
    Row("approvals:reject", POST, "NRYNYNL", args=lambda w: [w.erasure.pk], label="erasure",
        data=lambda w: {"reason": "no ticket"}, state=request_state("erasure")),
    # legal holds: every role looks, compliance and admins act
    Row("holds:list", GET, "YYYYYNL"),
    Row("holds:create", GET, "NNYNYNL", label="(form)"),
    Row("holds:create", POST, "NNYNYNL", data=lambda w: {"kind": "conversation", "external_id": "g-team", "reason": "Case 9"},
        state=lambda w, c: LegalHold.objects.count()),
    Row("holds:release", GET, "NNYNYNL", args=lambda w: [w.hold.pk], label="(form)"),
    Row("holds:release", POST, "NNYNYNL", args=lambda w: [w.hold.pk], data=lambda w: {"reason": "case closed"},
        state=lambda w, c: LegalHold.objects.get(pk=w.hold.pk).is_active),
    # audit log: auditors, compliance and admins read; compliance and admins export
    Row("audit:log", GET, "NNYYYNL"),
    Row("audit:verify", GET, "NNYYYNL"),
    Row("audit:export_csv", POST, "NNYNYNL", data=lambda w: {"action": "hold.*"}, state=exports, ok_status=200),
    Row("audit:export_jsonl", POST, "NNYNYNL", state=exports, ok_status=200),
    # the deletion workflow (part A): what each role may request, from chatdata.permissions
    Row("purge:conversation", GET, "YYNNYNL", args=lambda w: [w.group.pk], label="(forms)"),
    Row("purge:conversation", POST, "YYNNYNL", args=lambda w: [w.group.pk], label="hide one message for a member",
        data=lambda w: {"action": "messages", "ids": [w.history[1].pk], "effect": "hide_for_user", "member": w.bob.pk,
                        "reason": "abuse report"},
        state=lambda w, c: PurgeRequest.objects.count()),
    Row("purge:range_preview", GET, "YYNNYNL", args=lambda w: [w.group.pk],
        query="?bounds=before&end=2026-01-02T00:00&effect=hide_for_user"),
    Row("purge:whole_preview", GET, "YYNNYNL", args=lambda w: [w.group.pk], query="?what=clear_all"),
    Row("purge:conversations", GET, "NYNNYNL", label="(form)", query="?conversations=1"),
    Row("purge:conversations", POST, "NYNNYNL", data=lambda w: {"conversations": [w.other.pk], "what": "delete_all", "reason": "old"},
        state=lambda w, c: PurgeRequest.objects.count()),
    # selections kept while they are made (JSON for chatsweep.js): whoever may select or batch
    Row("purge:selection", POST, "YYNNYNL", args=lambda w: [w.group.pk], data=lambda w: {"add": str(w.history[1].pk)},
        ok_status=200, state=lambda w, c: list(Selection.objects.values_list("staff_id", "ids"))),
    Row("purge:batch_selection", POST, "NYNNYNL", data=lambda w: {"add": str(w.other.pk)},
        ok_status=200, state=lambda w, c: list(Selection.objects.values_list("staff_id", "ids"))),
    # "Select all N matching" from the search page: whoever may delete conversation content for everyone
    Row("purge:matching", GET, "NYNNYNL", label="(form with live counts)", query="?q=message"),
    Row("purge:matching", POST, "NYNNYNL", data=lambda w: {"q": "message", "effect": "delete_for_everyone", "reason": "spam"},
        state=lambda w, c: PurgeRequest.objects.count()),
    Row("purge:user", GET, "NNYNYNL", args=lambda w: [w.bob.pk], label="(form)"),
    Row("purge:user", POST, "NNYNYNL", args=lambda w: [w.bob.pk], data=lambda w: {"span": "all", "reason": "GDPR"},
        state=lambda w, c: PurgeRequest.objects.count()),
    Row("purge:request", GET, "YYYYYNL", args=lambda w: [w.root_preview.pk]),
    Row("purge:execute", POST, "YYYNYNL", args=lambda w: [w.own_preview().pk], label="own preview",
        data=lambda w: {"confirmation": str(w.own_preview().preview["messages"])},
        state=lambda w, c: PurgeRequest.objects.get(pk=w.own_preview().pk).state),
    Row("purge:execute", POST, "NNNNNNL", args=lambda w: [w.root_preview.pk], label="someone else's preview",
        data=lambda w: {"confirmation": str(w.root_preview.preview["messages"])}, state=request_state("root_preview")),
    Row("purge:preview_again", POST, "YYYNYNL", args=lambda w: [w.own_preview().pk], label="own preview",
        state=lambda w, c: PurgeRequest.objects.get(pk=w.own_preview().pk).state),
    Row("purge:preview_again", POST, "NNNNNNL", args=lambda w: [w.root_preview.pk], label="someone else's preview",
        state=lambda w, c: PurgeRequest.objects.count()),
    Row("jobs:list", GET, "YYYYYNL"),
    Row("jobs:detail", GET, "YYYYYNL", args=lambda w: [w.conv_request.pk]),
    Row("jobs:cancel", GET, "NYNNYNL", args=lambda w: [w.conv_request.pk], label="(confirmation) conversation request"),
    Row("jobs:cancel", GET, "NNYNYNL", args=lambda w: [w.erasure.pk], label="(confirmation) erasure"),
    Row("jobs:cancel", POST, "NYNNYNL", args=lambda w: [w.conv_request.pk], label="conversation request",
        state=request_state("conv_request")),
    Row("jobs:cancel", POST, "NNYNYNL", args=lambda w: [w.erasure.pk], label="erasure", state=request_state("erasure")),
    Row("jobs:resume", POST, "NYNNYNL", args=lambda w: [w.failed.pk], label="failed conversation request",
        state=request_state("failed")),
    Row("jobs:resume", POST, "NYNNYNL", args=lambda w: [w.cancelled.pk], label="cancelled conversation request",
        state=request_state("cancelled")),
    Row("jobs:close", POST, "NYNNYNL", args=lambda w: [w.cancelled.pk], label="cancelled conversation request",
        state=request_state("cancelled")),
    # erasure requests (issue 13): compliance, auditors and admins look; compliance and admins act,
    # auditors are refused by the domain (root's requests, so nobody here is their requester)
    Row("erasure:overview", GET, "NNYYYNL"),
    Row("erasure:open", GET, "NNYNYNL", label="(form)"),
    Row("erasure:open", POST, "NNYNYNL", data=lambda w: {"user": "u-dave", "ticket": "DSR-9", "peer_conversations": "keep"},
        state=lambda w, c: ErasureRequest.objects.count()),
    Row("erasure:request", GET, "NNYYYNL", args=lambda w: [w.erasure_request.pk]),
    Row("erasure:approve", GET, "NNYYYNL", args=lambda w: [w.erasure_request.pk], label="(page)"),
    Row("erasure:approve", POST, "NNYRYNL", args=lambda w: [w.erasure_request.pk], data=lambda w: {"confirmation": "u-carol"},
        state=erasure_state("erasure_request")),
    Row("erasure:outside_holds", POST, "NNYRYNL", args=lambda w: [w.blocked_erasure.pk], state=erasure_state("blocked_erasure")),
    Row("erasure:reject", POST, "NNYRYNL", args=lambda w: [w.erasure_request.pk], data=lambda w: {"reason": "not the holder"},
        state=erasure_state("erasure_request")),
    Row("erasure:cancel", POST, "NNYRYNL", args=lambda w: [w.erasure_request.pk], state=erasure_state("erasure_request")),
    Row("erasure:resume", POST, "NNYRYNL", args=lambda w: [w.failed_erasure.pk], state=erasure_state("failed_erasure")),
    Row("erasure:export", POST, "NNYRYNL", args=lambda w: [w.erasure_request.pk], ok_status=200,
        state=lambda w, c: AuditEntry.objects.filter(action="erasure.export").count()),
    Row("erasure:certificate", GET, "NNYYYNL", args=lambda w: [w.done_erasure.pk]),
    Row("erasure:certificate_json", GET, "NNYYYNL", args=lambda w: [w.done_erasure.pk]),
    # notices: everyone with a role reads their own (and marks them read: not audited, chatdata.notices)
    Row("notices:list", GET, "YYYYYNL"),
    Row("notices:read", POST, "YYYYYNL", data=lambda w: {"up_to": "1"}),
    # API tokens: everyone with a role makes their own; only the owner (root here) or an admin revokes
    Row("tokens:list", GET, "YYYYYNL"),
    Row("tokens:create", POST, "YYYYYNL", data=lambda w: {"name": "integration"}, ok_status=201,
        state=lambda w, c: ApiToken.objects.count()),
    Row("tokens:revoke", POST, "NNNNYNL", args=lambda w: [w.root_token.pk],
        state=lambda w, c: ApiToken.objects.get(pk=w.root_token.pk).revoked_at),
]

# Django's own admin (and django-rq's pages inside it) is guarded by is_staff, outside the roles.
# The API (/api/v1/) answers tokens, not sessions: tests/test_api_*.py hold its statuses per role.
OUTSIDE_THE_MATRIX = {"admin", "django_rq", "api"}


@pytest.fixture
def world(db, settings):
    settings.PURGE_APPROVAL_THRESHOLD = 2
    staff = {
        "support": make_staff("sam", roles.SUPPORT),
        "moderator": make_staff("mona", roles.MODERATOR),
        "compliance": make_staff("cleo", roles.COMPLIANCE),
        "auditor": make_staff("audrey", roles.AUDITOR),
        "admin": make_staff("ada", roles.ADMIN),
        "outsider": make_staff("otto"),
    }
    root = make_staff("root", roles.ADMIN)
    alice, bob = make_user("u-alice", "Alice"), make_user("u-bob", "Bob")
    group = make_conversation("group", [alice, bob], external_id="g-team", title="Team")
    other = make_conversation("group", [alice, bob], external_id="g-other", title="Other")
    history = make_history(group, alice, 4)
    make_history(other, bob, 3)
    attachment = add_attachment(history[0])

    def submitted(spec, reason):
        request = do_execute_purge(do_preview_purge(spec, actor=root, reason=reason), actor=root)
        assert request.state == "awaiting_approval"
        return request

    failed = do_preview_purge(PurgeSpec(ConversationScope(other.pk), "delete_for_everyone"), actor=root, reason="old")
    PurgeRequest.objects.filter(pk=failed.pk).update(state="failed", attempt=1, error="worker lost")
    cancelled = do_cancel_purge(submitted(PurgeSpec(ConversationScope(other.pk), "delete_for_everyone"), "spam too"), actor=root)
    w = SimpleNamespace(
        staff=staff, root=root, alice=alice, bob=bob, group=group, other=other, history=history, attachment=attachment,
        conv_request=submitted(PurgeSpec(ConversationScope(group.pk), "delete_for_everyone"), "spam"),
        erasure=submitted(PurgeSpec(UserScope(bob.pk), "delete_for_everyone"), "GDPR request"),
        root_preview=do_preview_purge(PurgeSpec(MessagesScope((history[2].pk,), group.pk), "hide_for_user", member=bob.pk),
                                      actor=root, reason="report"),
        failed=failed,
        cancelled=cancelled,
        hold=do_add_legal_hold(actor=root, user=alice, reason="Case 1"),
        root_token=do_create_api_token(actor=root, name="root's")[0],
        me=None,  # the persona under test, set by the test
        own={},
    )

    def own_preview():
        """A preview by the persona under test of what their role may request, else root's."""
        if w.me is None or not roles.roles_of(w.me) - {roles.AUDITOR}:
            return w.root_preview
        if w.me.pk not in w.own:
            hide = PurgeSpec(MessagesScope((history[3].pk,), group.pk), "hide_for_user", member=bob.pk)
            spec = hide if can_request(w.me, hide) else PurgeSpec(UserScope(bob.pk), "delete_for_everyone")
            w.own[w.me.pk] = do_preview_purge(spec, actor=w.me, reason="mine")
        return w.own[w.me.pk]

    w.own_preview = own_preview
    w.erasure_request, w.failed_erasure, w.done_erasure = _erasure_requests(root)
    w.blocked_erasure = do_open_erasure(actor=root, subject="u-alice", ticket="DSR-2")  # w.hold blocks it
    assert w.blocked_erasure.state == "blocked"
    return w


def _erasure_requests(root):
    """Root's erasure requests: one awaiting approval, one failed, one done with its certificate
    (states set directly: the runs themselves are tests/test_erasure_*.py's)."""
    for external_id in ("u-carol", "u-erin", "u-fay", "u-dave"):
        make_user(external_id)
    waiting, failed, done = (do_open_erasure(actor=root, subject=s, ticket="DSR-1") for s in ("u-carol", "u-erin", "u-fay"))
    ErasureRequest.objects.filter(pk__in=[failed.pk, done.pk]).update(state="failed", approved_by=root, attempt=1)
    done.refresh_from_db()
    done.state, done.counts, done.residue, done.kept = "done", {"messages": 0}, {"messages": 0}, []
    done.certificate = issue(done)
    done.save()
    return waiting, failed, done


def _url(row, w):
    return reverse(row.name, args=row.args(w)) + row.query


def _send(client, row, w):
    url = _url(row, w)
    return client.get(url) if row.method == GET else client.post(url, row.data(w))


def _levels(response):
    return {message.level for message in get_messages(response.wsgi_request)}


def _outcome(row, persona, world):
    """What the persona gets for the row, as a letter of the matrix (or a description of the surprise)."""
    client = Client()
    world.me, world.own = world.staff.get(persona), {}
    if world.me is not None:
        client.force_login(world.me)
    before = row.state(world, client) if row.state else None
    response = _send(client, row, world)
    status, location = response.status_code, response.get("Location", "")
    changed = row.state is not None and row.state(world, client) != before
    if status == 302 and location.startswith(reverse("login") + "?next="):
        seen = L
    elif status == 403 and "Not allowed" in response.content.decode():  # templates/403.html
        seen = N
    elif row.name == "login" and status == (200 if persona == "anonymous" else 302):
        seen = P
    elif status == 302 and constants.ERROR in _levels(response):
        seen = R
    elif status == (row.ok_status or (200 if row.method == GET else 302)) and constants.ERROR not in _levels(response):
        seen = Y
    else:
        seen = f"status {status} {location}".strip()
    if row.state is not None and changed != (seen == Y):
        seen += " (state changed)" if changed else " (state unchanged)"
    return seen


@pytest.mark.parametrize("row", MATRIX, ids=[row.id for row in MATRIX])
def test_it_enforces_the_permission_matrix(world, row):
    """Each persona in turn, each in a savepoint rolled back afterwards, so every one meets the
    same world (one world per row instead of one per persona: 7x fewer set-ups)."""
    seen = {}
    for persona in PERSONAS:
        with transaction.atomic():
            seen[persona] = _outcome(row, persona, world)
            transaction.set_rollback(True)
    expected = dict(zip(PERSONAS, row.expect))
    assert seen == expected


@pytest.mark.parametrize("row", [row for row in MATRIX if row.method == POST], ids=lambda row: row.id)
def test_it_refuses_every_post_without_its_csrf_token(world, row):
    client = Client(enforce_csrf_checks=True)
    world.me = world.staff["admin"]
    client.force_login(world.me)
    before = row.state(world, client) if row.state else None
    response = _send(client, row, world)
    assert response.status_code == 403
    if row.state:
        assert row.state(world, client) == before


def test_it_refuses_the_login_form_without_its_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "mona", "password": PASSWORD})
    assert response.status_code == 403 and "_auth_user_id" not in client.session


def _url_names(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = pattern.namespace or ""
            if namespace in OUTSIDE_THE_MATRIX:
                continue
            yield from _url_names(pattern.url_patterns, f"{prefix}{namespace}:" if namespace else prefix)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + pattern.name


def test_it_has_a_row_for_every_view_of_the_app():
    names = set(_url_names(get_resolver().url_patterns))
    assert names - {row.name for row in MATRIX} == set()
    assert {row.name for row in MATRIX} - names == set()


@pytest.mark.parametrize("persona", ["support", "moderator", "compliance", "auditor", "admin", "outsider"])
def test_it_keeps_djangos_admin_to_is_staff_accounts(client, world, persona):
    client.force_login(world.staff[persona])
    for url in ("/admin/", "/admin/django_rq/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
