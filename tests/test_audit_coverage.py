"""Every way to change something leaves an audit entry, and so does every refused attempt (issue 11,
item 5; DESIGN.md §4, invariant 4).

The test walks every URL pattern of the project (get_resolver(), recursively: ours, Django's admin,
django-rq) and every management command (get_commands()), and fails on one it does not know, so a
new view or command cannot forget: whoever adds one must say here how it is audited. Then, for each
state-changing endpoint and command, it makes a refused attempt and a successful one and counts the
entries each wrote: a refusal writes exactly one (the action's own, or dashboard.web.middleware's
safety net when no action was reached), a success at least one.
"""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from chatdata import roles
from chatdata.models import AuditEntry, LegalHold, PurgeRequest
from chatdata.purge.actions import do_execute_purge, do_preview_purge
from chatdata.purge.holds import do_add_legal_hold
from chatdata.purge.scopes import ConversationScope, PurgeSpec
from tests.builders import make_conversation, make_history, make_user
from tests.conftest import PASSWORD, make_staff

pytestmark = pytest.mark.django_db

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

# Endpoints that change state: each has a scenario below (a refused attempt and a successful one).
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
    # The API (dashboard.api): each route that takes a POST has a refused call below, and the
    # deletion workflow a successful one; the GET-only ones are in EXCLUDED.
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


def test_every_url_pattern_is_known():
    routes = list(all_routes())
    unknown = sorted(set(routes) - known_routes())
    assert not unknown, f"URL patterns this test does not know (say how they are audited): {unknown}"
    assert not set(READ_ONLY) & STATE_CHANGING and not STATE_CHANGING & set(EXCLUDED)
    gone = sorted((set(READ_ONLY) | STATE_CHANGING) - set(routes))
    assert not gone, f"routes listed here that no longer exist: {gone}"


# --- the people and data the scenarios use --------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


# --- read-only pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", sorted(READ_ONLY))
def test_a_post_to_a_read_only_page_is_refused_and_recorded(signed_in, world, route):
    written = entries_written(lambda: _expect_status(signed_in[world.mona].post(sample_url(route)), 405))
    assert written == ["request.refused"]
    entry = AuditEntry.objects.latest("id")
    assert entry.actor == world.mona and entry.target == f"POST {sample_url(route)}" and entry.reason.startswith("405")


def _expect_status(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    return response


def test_an_anonymous_refusal_writes_nothing(client, world):
    # Anonymous POSTs go to the login page (302); nobody unknown can grow the log.
    assert entries_written(lambda: _expect_status(client.post("/jobs/1/cancel/"), 302)) == []


# --- the deletion workflow ------------------------------------------------------------------------


def test_previewing_from_a_conversation(signed_in, world):
    url = f"/conversations/{world.group.pk}/purge/"
    data = {"action": "conversation", "what": "delete_all", "reason": "spam"}
    refused_once(lambda: _expect_status(signed_in[world.audrey].post(url, data), 403), "request.refused")
    succeeded(lambda: _expect_status(signed_in[world.mona].post(url, data), 302), "purge.preview")


def test_previewing_a_batch_of_conversations(signed_in, world):
    data = {"conversations": [world.group.pk, world.other.pk], "what": "delete_all", "reason": "spam"}
    refused_once(lambda: _expect_status(signed_in[world.sam].post("/conversations/purge/", data), 403))
    succeeded(lambda: _expect_status(signed_in[world.mona].post("/conversations/purge/", data), 302), "purge.preview")


def test_previewing_what_a_search_found(signed_in, world):
    data = {"q": "message", "effect": "delete_for_everyone", "reason": "spam"}
    refused_once(lambda: _expect_status(signed_in[world.sam].post("/search/purge/", data), 403), "request.refused")
    succeeded(lambda: _expect_status(signed_in[world.mona].post("/search/purge/", data), 302), "purge.preview")


def test_previewing_a_user_erasure(signed_in, world):
    url = f"/users/{world.alice.pk}/purge/"
    data = {"span": "all", "reason": "erasure", "ticket": "DSR-1"}
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url, data), 403))
    succeeded(lambda: _expect_status(signed_in[world.cleo].post(url, data), 302), "purge.preview")


def test_executing(signed_in, world, django_capture_on_commit_callbacks):
    purge = a_preview(world)
    url = f"/purge/{purge.pk}/execute/"
    data = {"confirmation": str(purge.total_messages)}
    refused_once(lambda: _expect_status(signed_in[world.max].post(url, data), 403), "purge.refused")
    with django_capture_on_commit_callbacks(execute=True):
        succeeded(lambda: _expect_status(signed_in[world.mona].post(url, data), 302), "purge.start")
    # Again: the request is done now, and the engine says so (and records the attempt).
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url, data), 302), "purge.refused")


def test_approving(signed_in, world, settings, django_capture_on_commit_callbacks):
    purge = awaiting(world, settings)
    url = f"/approvals/{purge.pk}/approve/"
    typed = {"confirmation": str(purge.total_messages)}
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url, typed), 302), "purge.refused")  # their own
    refused_once(lambda: _expect_status(signed_in[world.sam].post(url, typed), 403), "request.refused")  # no queue
    # A confirmation that does not match is bad input: a 400, recorded by the safety net.
    refused_once(lambda: _expect_status(signed_in[world.max].post(url, {"confirmation": "1"}), 400), "request.refused")
    with django_capture_on_commit_callbacks(execute=True):
        succeeded(lambda: _expect_status(signed_in[world.max].post(url, typed), 302), "purge.approve")


def test_rejecting(signed_in, world, settings):
    purge = awaiting(world, settings)
    url = f"/approvals/{purge.pk}/reject/"
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url, {"reason": "no"}), 302), "purge.refused")
    refused_once(lambda: _expect_status(signed_in[world.max].post(url, {"reason": ""}), 400), "request.refused")
    succeeded(lambda: _expect_status(signed_in[world.max].post(url, {"reason": "too broad"}), 302), "purge.reject")


def test_cancelling(signed_in, world):
    purge = a_preview(world)
    url = f"/jobs/{purge.pk}/cancel/"
    refused_once(lambda: _expect_status(signed_in[world.audrey].post(url), 403), "purge.refused")
    succeeded(lambda: _expect_status(signed_in[world.mona].post(url), 302), "purge.cancel")
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url), 302), "purge.refused")  # already cancelled


def test_resuming(signed_in, world, django_capture_on_commit_callbacks):
    purge = a_preview(world)
    url = f"/jobs/{purge.pk}/resume/"
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url), 302), "purge.refused")  # only previewed
    PurgeRequest.objects.filter(pk=purge.pk).update(state=PurgeRequest.State.FAILED, runs_inline=True)
    refused_once(lambda: _expect_status(signed_in[world.audrey].post(url), 403), "purge.refused")
    with django_capture_on_commit_callbacks(execute=True):
        succeeded(lambda: _expect_status(signed_in[world.mona].post(url), 302), "purge.resume")


def a_cancelled_run(world, settings):
    """mona's request, confirmed (queued in the background) and cancelled before it ran."""
    settings.PURGE_INLINE_LIMIT = 0
    purge = do_execute_purge(a_preview(world), actor=world.mona)
    from chatdata.purge.actions import do_cancel_purge

    return do_cancel_purge(purge, actor=world.mona)


def test_the_cancel_confirmation_page_writes_nothing(signed_in, world, settings):
    purge = a_cancelled_run(world, settings)
    assert entries_written(lambda: _expect_status(signed_in[world.mona].get(f"/jobs/{purge.pk}/cancel/"), 200)) == []


def test_closing(signed_in, world, settings):
    purge = a_cancelled_run(world, settings)
    url = f"/jobs/{purge.pk}/close/"
    refused_once(lambda: _expect_status(signed_in[world.audrey].post(url), 403), "purge.refused")
    succeeded(lambda: _expect_status(signed_in[world.mona].post(url, {"reason": "done by hand"}), 302), "purge.close")
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url), 302), "purge.refused")  # already closed


def test_resuming_a_cancelled_request(signed_in, world, settings, django_capture_on_commit_callbacks):
    purge = a_cancelled_run(world, settings)
    url = f"/jobs/{purge.pk}/resume/"
    refused_once(lambda: _expect_status(signed_in[world.audrey].post(url), 403), "purge.refused")
    with django_capture_on_commit_callbacks(execute=False):
        succeeded(lambda: _expect_status(signed_in[world.mona].post(url), 302), "purge.resume")


def test_previewing_again(signed_in, world):
    purge = a_preview(world)
    url = f"/purge/{purge.pk}/preview-again/"
    refused_once(lambda: _expect_status(signed_in[world.max].post(url), 403), "purge.refused")  # not theirs
    written = succeeded(lambda: _expect_status(signed_in[world.mona].post(url), 302), "purge.preview")
    assert written == ["purge.preview", "purge.cancel"]  # the new preview, the old one discarded
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url), 302), "purge.refused")  # no longer previewed


def test_executing_an_expired_or_changed_preview(signed_in, world, settings):
    from datetime import timedelta

    from chatdata.models import Message

    purge = a_preview(world)
    url = f"/purge/{purge.pk}/execute/"
    PurgeRequest.objects.filter(pk=purge.pk).update(created_at=timezone.now() - timedelta(seconds=settings.PURGE_PREVIEW_TTL + 1))
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url, {"confirmation": "6"}), 302), "purge.refused")
    PurgeRequest.objects.filter(pk=purge.pk).update(created_at=timezone.now())
    Message.objects.filter(pk=Message.objects.filter(conversation=world.group).order_by("id").values("id")[:1]).delete()
    written = entries_written(lambda: _expect_status(signed_in[world.mona].post(url, {"confirmation": "6"}), 302))
    assert written == ["purge.recount", "purge.refused"]  # the new counts, and the refused attempt


# --- legal holds and the audit log ----------------------------------------------------------------


def test_placing_a_hold(signed_in, world):
    data = {"kind": "conversation", "external_id": "grp", "reason": "case 7"}
    refused_once(lambda: _expect_status(signed_in[world.mona].post("/holds/new/", data), 403), "request.refused")
    succeeded(lambda: _expect_status(signed_in[world.cleo].post("/holds/new/", data), 302), "hold.add")


def test_releasing_a_hold(signed_in, world):
    hold = do_add_legal_hold(actor=world.cleo, conversation=world.group, reason="case 7")
    url = f"/holds/{hold.pk}/release/"
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url, {"reason": "x"}), 403), "request.refused")
    succeeded(lambda: _expect_status(signed_in[world.cleo].post(url, {"reason": "closed"}), 302), "hold.release")
    refused_once(lambda: _expect_status(signed_in[world.cleo].post(url, {"reason": "again"}), 302), "hold.refused")
    assert not LegalHold.objects.get(pk=hold.pk).is_active


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_exporting_the_audit_log(signed_in, world, fmt):
    url = f"/audit/export.{fmt}"
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url), 403), "request.refused")
    succeeded(lambda: _expect_status(signed_in[world.cleo].post(url), 200), "audit.export")


# --- erasure requests ----------------------------------------------------------------------------


def an_erasure(world, subject=None):
    from chatdata.erasure.actions import do_open_erasure

    return do_open_erasure(actor=world.cleo, subject=(subject or world.alice).external_id, ticket="DSR-1")


def test_opening_an_erasure(signed_in, world):
    data = {"user": "alice", "ticket": "DSR-7", "peer_conversations": "keep"}
    refused_once(lambda: _expect_status(signed_in[world.mona].post("/erasures/new/", data), 403), "request.refused")
    refused_once(lambda: _expect_status(signed_in[world.cleo].post("/erasures/new/", {**data, "user": "nobody"}), 400))
    succeeded(lambda: _expect_status(signed_in[world.cleo].post("/erasures/new/", data), 302), "erasure.open")


def test_approving_and_rejecting_an_erasure(signed_in, world, django_capture_on_commit_callbacks):
    erasure = an_erasure(world)
    refused_once(lambda: _expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/approve/"), 302), "erasure.refused")
    refused_once(lambda: _expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/reject/", {"reason": "no"}), 302),
                 "erasure.refused")
    refused_once(lambda: _expect_status(signed_in[world.mona].post(f"/erasures/{erasure.pk}/reject/", {"reason": "no"}), 403))
    succeeded(lambda: _expect_status(signed_in[world.root].post(f"/erasures/{erasure.pk}/reject/", {"reason": "wrong ticket"}), 302),
              "erasure.reject")
    other = an_erasure(world, world.bob)
    with django_capture_on_commit_callbacks(execute=False):
        succeeded(lambda: _expect_status(signed_in[world.root].post(f"/erasures/{other.pk}/approve/", {"confirmation": "bob"}), 302),
                  "erasure.approve")


def test_erasing_everything_not_held(signed_in, world):
    hold = do_add_legal_hold(actor=world.cleo, user=world.alice, reason="case 7")
    erasure = an_erasure(world)
    assert erasure.state == "blocked"
    url = f"/erasures/{erasure.pk}/outside-holds/"
    refused_once(lambda: _expect_status(signed_in[world.mona].post(url), 403))
    refused_once(lambda: _expect_status(signed_in[world.audrey].post(url), 302), "erasure.refused")
    succeeded(lambda: _expect_status(signed_in[world.cleo].post(url), 302), "erasure.outside_holds")
    refused_once(lambda: _expect_status(signed_in[world.cleo].post(url), 302), "erasure.refused")  # not blocked any more
    assert hold.is_active


def test_cancelling_and_resuming_an_erasure(signed_in, world):
    erasure = an_erasure(world)
    refused_once(lambda: _expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/resume/"), 302), "erasure.refused")
    refused_once(lambda: _expect_status(signed_in[world.mona].post(f"/erasures/{erasure.pk}/cancel/"), 403))
    succeeded(lambda: _expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/cancel/"), 302), "erasure.cancel")
    refused_once(lambda: _expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/cancel/"), 302), "erasure.refused")


def test_exporting_a_subjects_data(signed_in, world):
    erasure = an_erasure(world)
    refused_once(lambda: _expect_status(signed_in[world.mona].post(f"/erasures/{erasure.pk}/export/"), 403))
    succeeded(lambda: b"".join(_expect_status(signed_in[world.cleo].post(f"/erasures/{erasure.pk}/export/"), 200).streaming_content),
              "erasure.export")


# --- API tokens and the API ----------------------------------------------------------------------


def test_creating_and_revoking_an_api_token(signed_in, world):
    from chatdata.models import ApiToken

    succeeded(lambda: _expect_status(signed_in[world.mona].post("/tokens/new/", {"name": "ci"}), 201, 302), "api_token.create")
    token = ApiToken.objects.get(owner=world.mona)
    refused_once(lambda: _expect_status(signed_in[world.max].post(f"/tokens/{token.pk}/revoke/"), 403, 404, 302))
    succeeded(lambda: _expect_status(signed_in[world.mona].post(f"/tokens/{token.pk}/revoke/"), 302), "api_token.revoke")


def api_call(client, secret, path, body=None):
    import json

    return client.post(f"/api/v1/{path}", json.dumps(body or {}), content_type="application/json",
                       headers={"Authorization": f"Bearer {secret}"})


def test_every_state_changing_api_call_refused_to_an_auditor_writes_one_entry(client, world, settings):
    from chatdata.erasure.actions import do_open_erasure
    from tests.api_helpers import token_for

    purge = awaiting(world, settings)
    erasure = do_open_erasure(actor=world.cleo, subject="alice", ticket="DSR-1")
    hold = do_add_legal_hold(actor=world.cleo, conversation=world.other, reason="case 8")
    secret = token_for(world.audrey)
    calls = [
        ("purge-requests", {"scope": {"kind": "conversation", "conversation": world.group.pk}, "effect": "delete_for_everyone",
                            "reason": "spam"}),
        *((f"purge-requests/{purge.pk}/{verb}", {"reason": "no"} if verb == "reject" else {})
          for verb in ("execute", "approve", "reject", "cancel", "resume", "close", "preview-again")),
        ("erasure-requests", {"user": "bob", "ticket": "DSR-2"}),
        *((f"erasure-requests/{erasure.pk}/{verb}", {"reason": "no"} if verb == "reject" else {})
          for verb in ("approve", "reject", "cancel", "resume", "outside-holds")),
        ("legal-holds", {"kind": "conversation", "subject": "grp", "reason": "case 9"}),
        (f"legal-holds/{hold.pk}/release", {"reason": "closed"}),
    ]
    exercised = {"api/v1/" + re.sub(r"/\d+/", "/<int:pk>/", re.sub(r"/\d+$", "/<int:pk>", path)) for path, _ in calls}
    assert exercised == {route for route in STATE_CHANGING if route.startswith("api/v1/")}
    for path, body in calls:
        written = entries_written(lambda: _expect_status(api_call(client, secret, path, body), 403, 409, 422))
        assert len(written) == 1, f"POST /api/v1/{path}: a refusal must write exactly one entry, wrote {written}"


def test_a_purge_through_the_api_is_audited_with_the_tokens_name(client, world):
    from tests.api_helpers import token_for

    secret = token_for(world.mona, name="ticketing")
    body = {"scope": {"kind": "conversation", "conversation": world.group.pk}, "effect": "delete_for_everyone", "reason": "spam"}
    succeeded(lambda: _expect_status(api_call(client, secret, "purge-requests", body), 200, 201), "purge.preview")
    assert AuditEntry.objects.filter(action="purge.preview").latest("id").api_token == "ticketing"


# --- signing in and out ---------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "admin/"])
def test_logging_in_and_out(client, world, prefix):
    refused_once(lambda: client.post(f"/{prefix}login/", {"username": "root", "password": "wrong"}), "auth.login_failed")
    succeeded(lambda: client.post(f"/{prefix}login/", {"username": "root", "password": PASSWORD}), "auth.login")
    succeeded(lambda: client.post(f"/{prefix}logout/"), "auth.logout")


# --- Django's admin -------------------------------------------------------------------------------


def test_admin_staff_changes(signed_in, world):
    target = make_staff("temp", roles.SUPPORT)
    moderators = Group.objects.get(name=roles.MODERATOR)
    add = {"username": "newbie", "password1": "a long passphrase 42", "password2": "a long passphrase 42",
           "usable_password": "true"}
    for url, data, expected in [
        ("/admin/auth/user/add/", add, "staff.created"),
        (f"/admin/auth/user/{target.pk}/password/", {"password1": "another passphrase 7", "password2": "another passphrase 7",
                                                       "usable_password": "true"}, "staff.password_changed"),
        (f"/admin/auth/user/{target.pk}/change/", {"username": "temp", "is_active": "on", "groups": [moderators.pk],
                                                     "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"},
         "staff.role_added"),
        (f"/admin/auth/user/{target.pk}/delete/", {"post": "yes"}, "staff.deleted"),
    ]:
        refused_once(lambda: _expect_status(signed_in[world.clerk].post(url, data), 403), "request.refused")
        succeeded(lambda: _expect_status(signed_in[world.root].post(url, data), 302), expected)


def test_admin_bulk_delete_of_staff(signed_in, world):
    target = make_staff("temp", roles.SUPPORT)
    data = {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"}
    refused_once(lambda: _expect_status(signed_in[world.clerk].post("/admin/auth/user/", data), 403))
    succeeded(lambda: _expect_status(signed_in[world.root].post("/admin/auth/user/", data), 302), "staff.deleted")


def test_admin_group_changes(signed_in, world):
    group = Group.objects.get(name=roles.SUPPORT)
    spare = Group.objects.create(name="spare")
    for url, data, expected in [
        ("/admin/auth/group/add/", {"name": "newcomers"}, None),  # a group no role is named after
        (f"/admin/auth/group/{group.pk}/change/", {"name": "helpdesk"}, "staff.role_removed"),  # the role's name
        (f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}, "staff.role_removed"),
        ("/admin/auth/group/", {"action": "delete_selected", "_selected_action": [spare.pk], "post": "yes"}, None),
    ]:
        refused_once(lambda: _expect_status(signed_in[world.clerk].post(url, data), 403), "request.refused")
        if expected:
            succeeded(lambda: _expect_status(signed_in[world.root].post(url, data), 302), expected)


def test_admin_own_password_change(signed_in, world):
    data = {"old_password": PASSWORD, "new_password1": "a new passphrase 42", "new_password2": "a new passphrase 42"}
    succeeded(lambda: _expect_status(signed_in[world.root].post("/admin/password_change/", data), 302),
              "staff.password_changed")


@pytest.mark.parametrize("model", CHAT_ADMIN_MODELS)
def test_the_chat_data_admin_refuses_every_change(signed_in, world, model):
    from django.apps import apps

    row = apps.get_model("chatdata", model).objects.order_by("pk").first()
    # (A change or delete of a row that does not exist is a redirect to the admin's index.)
    for action in ("add/", *((f"{row.pk}/change/", f"{row.pk}/delete/") if row else ())):
        refused_once(lambda: _expect_status(signed_in[world.root].post(f"/admin/chatdata/{model}/{action}", {}), 403),
                     "request.refused")


# --- management commands --------------------------------------------------------------------------

COMMANDS_READ_ONLY = {
    "check", "diffsettings", "dumpdata", "findstatic", "inspectdb", "showmigrations", "sqlflush", "sqlmigrate",
    "sqlsequencereset", "rqstats", "axes_list_attempts",
    "verify_audit",  # reads the log; writes only a witness of its head (chatdata.witness)
    "export_openapi_schema",  # django-ninja: prints the API's schema
}
# Each has a scenario below: a refused attempt where one exists, and a successful one.
COMMANDS_STATE_CHANGING = {
    "purge", "legal_hold", "erasure", "import_chat", "axes_reset", "axes_reset_ip", "axes_reset_username",
    "axes_reset_ip_username", "create_demo_logins", "changepassword", "createsuperuser",
}
COMMANDS_EXCLUDED = {
    # Deployment, development and operations tooling, run by whoever holds the database's keys:
    "migrate": "schema changes (deployment)", "makemigrations": "writes source files", "squashmigrations": "source files",
    "optimizemigration": "source files", "startapp": "source files", "startproject": "source files",
    "makemessages": "source files", "compilemessages": "source files", "collectstatic": "static files",
    "createcachetable": "schema", "flush": "empties every table; the audit log's triggers refuse it (migration 0006)",
    "loaddata": "fixtures (development); the audit log refuses edits, staff changes are audited by signal",
    "clearsessions": "expired sessions only", "remove_stale_contenttypes": "schema bookkeeping",
    "sendtestemail": "sends mail, changes nothing", "dbshell": "an interactive shell", "shell": "an interactive shell",
    "runserver": "serves the app", "testserver": "serves the app", "test": "runs tests",
    "rqworker": "runs jobs; each purge and erasure job audits itself", "rqworker-pool": "runs jobs, as rqworker",
    "rqscheduler": "runs scheduled jobs", "rqcron": "runs cron jobs (chatdata.cron: the witness)",
    "rqenqueue": "enqueues a job by dotted path: operator tooling, its job audits itself",
    "rqsuspend": "pauses the workers (Redis)", "rqresume": "resumes the workers (Redis)",
    "axes_reset_logs": "django-axes's access log, not lockouts (no login is unlocked)",
    "axes_reset_failure_logs": "django-axes's failure log, not lockouts (no login is unlocked)",
    # Flagged for the lead: seed_demo --reset deletes all chat data without an audit entry. It is the
    # demo's and the benchmarks' loader, never meant for a production database.
    "seed_demo": "the demo and benchmark loader (unaudited: see the report)",
}


def test_every_management_command_is_known():
    known = COMMANDS_READ_ONLY | COMMANDS_STATE_CHANGING | set(COMMANDS_EXCLUDED)
    unknown = sorted(set(get_commands()) - known)
    assert not unknown, f"management commands this test does not know (say how they are audited): {unknown}"


def command(*args, **kwargs):
    """Run a command; its exit status (0, or the CommandError's)."""
    try:
        call_command(*args, **kwargs)
    except CommandError as exc:
        return exc.returncode
    return 0


def test_the_purge_command(world, capsys):
    purge = a_preview(world)
    refused_once(lambda: command("purge", "--cancel", str(purge.pk), "--actor", "audrey"), "purge.refused")
    refused_once(lambda: command("purge", "--resume", str(purge.pk), "--actor", "mona"), "purge.refused")
    refused_once(lambda: command("purge", "--execute", str(purge.pk), "--actor", "max"), "purge.refused")
    refused_once(lambda: command("purge", "--approve", str(purge.pk), "--actor", "max"), "purge.refused")
    refused_once(lambda: command("purge", "--reject", str(purge.pk), "--actor", "max", "--reason", "no"), "purge.refused")
    succeeded(lambda: command("purge", "--conversation", "grp2", "--effect", "delete-for-everyone", "--actor", "mona",
                              "--reason", "spam"), "purge.preview")
    refused_once(lambda: command("purge", "--close", str(purge.pk), "--actor", "mona"), "purge.refused")  # not cancelled
    refused_once(lambda: command("purge", "--preview-again", str(purge.pk), "--actor", "max"), "purge.refused")
    succeeded(lambda: command("purge", "--preview-again", str(purge.pk), "--actor", "mona"), "purge.preview")
    purge = a_preview(world)
    succeeded(lambda: command("purge", "--cancel", str(purge.pk), "--actor", "mona"), "purge.cancel")


def test_the_legal_hold_command(world, capsys):
    refused_once(lambda: command("legal_hold", "add", "--conversation", "grp", "--reason", "x", "--actor", "mona"),
                 "hold.refused")
    succeeded(lambda: command("legal_hold", "add", "--conversation", "grp", "--reason", "x", "--actor", "cleo"), "hold.add")
    hold = LegalHold.objects.get()
    refused_once(lambda: command("legal_hold", "release", str(hold.pk), "--actor", "mona"), "hold.refused")
    succeeded(lambda: command("legal_hold", "release", str(hold.pk), "--actor", "cleo"), "hold.release")
    refused_once(lambda: command("legal_hold", "release", str(hold.pk), "--actor", "cleo"), "hold.refused")


def test_the_erasure_command(world, capsys):
    refused_once(lambda: command("erasure", "open", "--user", "alice", "--ticket", "DSR-1", "--actor", "mona"),
                 "erasure.refused")
    succeeded(lambda: command("erasure", "open", "--user", "alice", "--ticket", "DSR-1", "--actor", "cleo"), "erasure.open")
    from chatdata.models import ErasureRequest

    pk = str(ErasureRequest.objects.get().pk)
    refused_once(lambda: command("erasure", "open", "--user", "alice", "--ticket", "DSR-2", "--actor", "cleo"),
                 "erasure.refused")  # one pending request per subject
    refused_once(lambda: command("erasure", "approve", pk, "--actor", "cleo"), "erasure.refused")  # their own
    refused_once(lambda: command("erasure", "resume", pk, "--actor", "cleo"), "erasure.refused")  # nothing to resume
    refused_once(lambda: command("erasure", "reject", pk, "--actor", "audrey", "--reason", "x"), "erasure.refused")
    refused_once(lambda: command("erasure", "outside-holds", pk, "--actor", "cleo"), "erasure.refused")  # not blocked
    succeeded(lambda: command("erasure", "cancel", pk, "--actor", "cleo"), "erasure.cancel")
    refused_once(lambda: command("erasure", "cancel", pk, "--actor", "cleo"), "erasure.refused")  # already cancelled
    do_add_legal_hold(actor=world.cleo, user=world.bob, reason="case 8")
    succeeded(lambda: command("erasure", "open", "--user", "bob", "--ticket", "DSR-3", "--actor", "cleo"), "erasure.blocked")
    blocked = str(ErasureRequest.objects.get(ticket="DSR-3").pk)
    succeeded(lambda: command("erasure", "outside-holds", blocked, "--actor", "cleo"), "erasure.outside_holds")


def test_the_import_command(world, capsys):
    from tests.test_import_chat import EXAMPLE

    refused_once(lambda: command("import_chat", str(EXAMPLE), "--actor", "mona"), "import.refused")
    succeeded(lambda: command("import_chat", str(EXAMPLE), "--actor", "root"), "import.chat")


@pytest.mark.parametrize("args", [
    ("axes_reset",), ("axes_reset_ip", "10.0.0.1"), ("axes_reset_username", "mona"), ("axes_reset_ip_username", "10.0.0.1", "mona"),
])
def test_the_unlock_commands(world, capsys, args):
    succeeded(lambda: command(*args), "auth.unlock")


def test_the_staff_account_commands(world, capsys, monkeypatch, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    succeeded(lambda: command("create_demo_logins"), "staff.created")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long passphrase 42")
    succeeded(lambda: command("createsuperuser", "--noinput", "--username", "boss", "--email", "b@example.com"),
              "staff.created")
    monkeypatch.setattr("django.contrib.auth.management.commands.changepassword.getpass.getpass",
                        lambda prompt="": "another passphrase 7")
    succeeded(lambda: command("changepassword", "mona"), "staff.password_changed")
