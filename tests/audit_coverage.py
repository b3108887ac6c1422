"""Every way to change something leaves an audit entry, and so does every refused attempt (issue 11,
item 5; DESIGN.md §4, invariant 4). What the tests/test_audit_coverage_*.py modules share.

tests/test_audit_coverage_routes.py walks every URL pattern of the project (get_resolver(),
recursively: ours, Django's admin, django-rq) and tests/test_audit_coverage_commands.py every
management command (get_commands()); each fails on one it does not know, so a new view or command
cannot forget: whoever adds one must say here (or beside the commands) how it is audited. Then, for
each state-changing endpoint and command, a scenario makes a refused attempt and a successful one and
counts the entries each wrote: a refusal writes exactly one (the action's own, or
dashboard.web.middleware's safety net when no action was reached), a success at least one.

This module holds the inventory of routes, the scenarios' people and data (`world`, `signed_in`,
fixtures a module imports) and the counting helpers.
"""

import re

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver

from chatdata import roles
from chatdata.models import AuditEntry
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import make_conversation, make_history, make_user
from tests.conftest import make_staff

# --- what the project serves --------------------------------------------------------------------


def all_routes(resolver=None, prefix=""):
    """Every URL pattern's full route, recursively through include()s."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from all_routes(pattern, route)
        else:
            assert isinstance(pattern, URLPattern)
            yield route


# Pages that only read: a POST to them is answered 405 and recorded by the safety net.
READ_ONLY = {
    "": "browse: home",
    "users/": "browse: chat users",
    "users/<int:pk>/": "browse: one chat user",
    "conversations/": "browse: conversations",
    "conversations/<int:pk>/": "browse: one conversation",
    "messages/<int:pk>/": "browse: one message",
    "attachments/<int:pk>/": "browse: an attachment's file",
    "search/": "browse: search",
    "approvals/": "the approvals queue",
    "approvals/<int:pk>/": "one request's review page (the requester's preview, the decision forms)",
    "notices/": "one's own notices (read from the audit log)",
    "holds/": "the legal holds list",
    "audit/": "the audit log",
    "audit/verify/": "the audit chain's check",
    "jobs/": "the job list",
    "jobs/<int:pk>/": "one job",
    "purge/<int:pk>/": "a request's preview page",
    "conversations/<int:pk>/purge/range-preview/": "the live range preview (computes, stores nothing)",
    "conversations/<int:pk>/purge/whole-preview/": "the live whole-conversation preview (computes, stores nothing)",
    "suggest/users/": "browse: user suggestions while typing",
    "suggest/conversations/": "browse: conversation suggestions while typing",
    "erasures/": "the erasure requests overview",
    "erasures/<int:pk>/": "one erasure request",
    # GET only; issuing a certificate writes erasure.certificate (the domain's do_issue_certificate).
    "erasures/<int:pk>/certificate/": "an erasure's printable certificate",
    "erasures/<int:pk>/certificate.json": "an erasure's signed certificate",
    "tokens/": "the API tokens page",
}

# Endpoints that change state: each has a scenario in a test_audit_coverage_* module (a refused attempt
# and a successful one).
STATE_CHANGING = {
    "login/", "logout/",
    "approvals/<int:pk>/approve/", "approvals/<int:pk>/reject/",
    "holds/new/", "holds/<int:pk>/release/",
    "jobs/<int:pk>/cancel/", "jobs/<int:pk>/resume/", "jobs/<int:pk>/close/",
    "conversations/<int:pk>/purge/", "conversations/purge/", "users/<int:pk>/purge/", "purge/<int:pk>/execute/",
    "search/purge/", "purge/<int:pk>/preview-again/",
    "audit/export.csv", "audit/export.jsonl",
    "erasures/new/", "erasures/<int:pk>/approve/", "erasures/<int:pk>/reject/", "erasures/<int:pk>/cancel/",
    "erasures/<int:pk>/resume/", "erasures/<int:pk>/export/", "erasures/<int:pk>/outside-holds/",
    "tokens/new/", "tokens/<int:pk>/revoke/",
    # The API (dashboard.api): each route that takes a POST has a refused call (test_audit_coverage_api),
    # and the deletion workflow a successful one; the GET-only ones are in EXCLUDED.
    *(f"api/v1/{route}" for route in (
        "purge-requests", "purge-requests/<int:pk>/execute", "purge-requests/<int:pk>/approve",
        "purge-requests/<int:pk>/reject", "purge-requests/<int:pk>/cancel", "purge-requests/<int:pk>/resume",
        "purge-requests/<int:pk>/close", "purge-requests/<int:pk>/preview-again",
        "erasure-requests", "erasure-requests/<int:pk>/approve", "erasure-requests/<int:pk>/reject",
        "erasure-requests/<int:pk>/cancel", "erasure-requests/<int:pk>/resume", "erasure-requests/<int:pk>/outside-holds",
        "legal-holds",
        "legal-holds/<int:pk>/release",
    )),
    "admin/login/", "admin/logout/", "admin/password_change/",
    "admin/auth/user/add/", "admin/auth/user/<path:object_id>/change/", "admin/auth/user/<path:object_id>/delete/",
    "admin/auth/user/<id>/password/", "admin/auth/user/",
    "admin/auth/group/add/", "admin/auth/group/<path:object_id>/change/", "admin/auth/group/<path:object_id>/delete/",
    "admin/auth/group/",
}
CHAT_ADMIN_MODELS = ("chatuser", "conversation", "membership", "message", "messagehide", "attachment", "reaction",
                     "pendingdelivery", "syncevent")
# chatdata's models in Django's admin are read-only (chatdata.admin.ReadOnlyAdmin): add, change and
# delete are refused (403), which the safety net records; their lists have no actions.
for _model in CHAT_ADMIN_MODELS:
    STATE_CHANGING |= {f"admin/chatdata/{_model}/add/", f"admin/chatdata/{_model}/<path:object_id>/change/",
                       f"admin/chatdata/{_model}/<path:object_id>/delete/"}

EXCLUDED = {
    # django-rq's console (is_staff only) changes RQ's queues in Redis, not chat data nor staff: a job
    # deleted or stopped there leaves its PurgeRequest queued or running, which turns resumable once
    # stale, and that resume is audited. Its refusals are redirects to the admin login, not 4xx.
    **{route: "django-rq console" for route in ()},
    # A person's selection while they make it (chatdata.models.selection): a draft, not chat data
    # nor a request, so ticking is not audited; the request made from it is, and a refused tick is
    # recorded by the safety net (tests/test_purge_selection.py).
    "conversations/<int:pk>/purge/selection/": "a selection in progress (a draft)",
    "conversations/purge/selection/": "a batch selection in progress (a draft)",
    # Marking one's notices as read moves one's own read cursor (chatdata.models.NoticeCursor): a
    # person's reading state, not chat data, a request or an account; not audited (chatdata.notices).
    "notices/read/": "marking one's own notices as read (reading state)",
    "admin/": "Django admin: index (read)",
    "admin/password_change/done/": "Django admin: a confirmation page (read)",
    "admin/autocomplete/": "Django admin: autocomplete (read)",
    "admin/jsi18n/": "Django admin: translations (read)",
    "admin/r/<path:content_type_id>/<path:object_id>/": "Django admin: view on site (a redirect)",
    "admin/^(?P<app_label>auth|django_rq|chatdata)/$": "Django admin: an app's index (read)",
    "admin/(?P<url>.*)$": "Django admin: catch-all (404 or a redirect)",
    # The API's GET-only routes: reads. A POST to one is answered 405 before any token is read, as
    # for someone unknown, so nothing is recorded (as for the web's anonymous refusals). The export
    # and the certificate are reads that the domain audits (erasure.export, erasure.certificate).
    **{f"api/v1/{route}": "API: read (GET only)" for route in (
        "", "docs", "openapi.json", "purge-requests/<int:pk>", "erasure-requests/<int:pk>",
        "erasure-requests/<int:pk>/export", "erasure-requests/<int:pk>/certificate", "audit-entries", "users",
        "users/<int:pk>", "conversations", "conversations/<int:pk>", "conversations/<int:pk>/messages", "sync-events",
    )},
}
for _model in ("auth/group", "auth/user", "django_rq/dashboard", *(f"chatdata/{m}" for m in CHAT_ADMIN_MODELS)):
    EXCLUDED[f"admin/{_model}/<path:object_id>/history/"] = "Django admin: history (read)"
    EXCLUDED[f"admin/{_model}/<path:object_id>/"] = "Django admin: a redirect to the change page"
for _model in CHAT_ADMIN_MODELS:
    EXCLUDED[f"admin/chatdata/{_model}/"] = "Django admin: a read-only list (ReadOnlyAdmin.get_actions is empty)"
for _route in ("add/", "<path:object_id>/change/", "<path:object_id>/delete/", ""):
    EXCLUDED[f"admin/django_rq/dashboard/{_route}"] = "django-rq's admin entry: a link to its console"


def _django_rq_routes():
    return {route for route in all_routes() if route.startswith(("admin/django_rq/", "admin/django_rq/dashboard/"))}


def known_routes():
    rq = {route: "django-rq console (see EXCLUDED)" for route in _django_rq_routes() if route not in EXCLUDED}
    return set(READ_ONLY) | STATE_CHANGING | set(EXCLUDED) | set(rq)


# --- the people and data the scenarios use --------------------------------------------------------


@pytest.fixture
def world(db, redis_conn):
    class World:
        mona = make_staff("mona", roles.MODERATOR)
        max = make_staff("max", roles.MODERATOR)
        sam = make_staff("sam", roles.SUPPORT)
        cleo = make_staff("cleo", roles.COMPLIANCE)
        audrey = make_staff("audrey", roles.AUDITOR)
        root = make_staff("root", superuser=True)
        # In Django's admin (is_staff) with no permission there: its pages refuse them (403).
        clerk = make_staff("clerk", roles.MODERATOR)
        alice, bob = make_user("alice"), make_user("bob")
        group = make_conversation("group", [alice, bob], external_id="grp")
        other = make_conversation("group", [alice, bob], external_id="grp2")

    User.objects.filter(pk=World.root.pk).update(is_staff=True)
    User.objects.filter(pk=World.clerk.pk).update(is_staff=True)
    World.root.refresh_from_db()
    World.clerk.refresh_from_db()
    make_history(World.group, World.alice, 6)
    make_history(World.other, World.bob, 3)
    return World


def a_preview(world, actor=None, conversation=None):
    spec = PurgeSpec(ConversationScope((conversation or world.group).pk), "delete_for_everyone")
    return do_preview_purge(spec, actor=actor or world.mona, reason="spam")


def awaiting(world, settings):
    settings.PURGE_APPROVAL_THRESHOLD = 1
    return do_execute_purge(a_preview(world), actor=world.mona)


def entries_written(action):
    """Run `action`; the audit entries it wrote (newest last)."""
    newest = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    action()
    return list(AuditEntry.objects.filter(id__gt=newest).order_by("id").values_list("action", flat=True))


def refused_once(action, expected=None):
    written = entries_written(action)
    assert len(written) == 1, f"a refusal must write exactly one entry, wrote {written}"
    if expected:
        assert written == [expected]
    return written


def succeeded(action, expected):
    written = entries_written(action)
    assert expected in written, f"expected {expected} among {written}"
    return written


@pytest.fixture
def signed_in(world):
    """A test client per persona, signed in before the scenarios count entries (a login writes one)."""
    from django.test import Client

    clients = {}
    for user in (world.mona, world.max, world.sam, world.cleo, world.audrey, world.root, world.clerk):
        clients[user] = Client()
        clients[user].force_login(user)
    return clients


def sample_url(route):
    """A URL for `route`, its parameters filled with 1 (a GET-only view refuses a POST before it
    looks anything up)."""
    return "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route)


def expect_status(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    return response
