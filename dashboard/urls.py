from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard.api import urlpatterns as api_urlpatterns
from dashboard.web.accounts import login as auth, tokens
from dashboard.web.browse import views as browse
from dashboard.web.erasure import views as erasure
from dashboard.web.oversight import approvals, audit, holds, notices
from dashboard.web.purge import jobs, matching, request_page, views as purge

browse_patterns = (
    [
        path("", browse.home, name="home"),
        path("users/", browse.users, name="users"),
        path("users/<int:pk>/", browse.user, name="user"),
        path("conversations/", browse.conversations, name="conversations"),
        path("conversations/<int:pk>/", browse.conversation, name="conversation"),
        path("messages/<int:pk>/", browse.message, name="message"),
        path("attachments/<int:pk>/", browse.attachment, name="attachment"),
        path("search/", browse.search_messages, name="search"),
        path("suggest/users/", browse.suggest_users, name="suggest_users"),
        path("suggest/conversations/", browse.suggest_conversations, name="suggest_conversations"),
    ],
    "browse",
)

# Oversight (issue 4, part B): the approvals queue, legal holds, the audit log.
approvals_patterns = (
    [
        path("", approvals.queue, name="queue"),
        path("<int:pk>/", approvals.review, name="review"),
        path("<int:pk>/approve/", approvals.approve, name="approve"),
        path("<int:pk>/reject/", approvals.reject, name="reject"),
    ],
    "approvals",
)
holds_patterns = (
    [
        path("", holds.holds, name="list"),
        path("new/", holds.create, name="create"),
        path("<int:pk>/release/", holds.release, name="release"),
    ],
    "holds",
)
audit_patterns = (
    [
        path("", audit.log, name="log"),
        path("verify/", audit.verify, name="verify"),
        path("export.csv", audit.export, {"fmt": "csv"}, name="export_csv"),
        path("export.jsonl", audit.export, {"fmt": "jsonl"}, name="export_jsonl"),
    ],
    "audit",
)

# The deletion workflow (issue 4, part A): choose a scope, preview, confirm; jobs and their progress.
purge_patterns = (
    [
        path("conversations/<int:pk>/purge/", purge.conversation, name="conversation"),
        path("conversations/<int:pk>/purge/range-preview/", purge.range_preview, name="range_preview"),
        path("conversations/<int:pk>/purge/whole-preview/", purge.whole_preview, name="whole_preview"),
        path("conversations/<int:pk>/purge/selection/", purge.selection, name="selection"),
        path("conversations/purge/", purge.conversations, name="conversations"),
        path("conversations/purge/selection/", purge.batch_selection, name="batch_selection"),
        path("users/<int:pk>/purge/", purge.user, name="user"),
        path("search/purge/", matching.matching, name="matching"),
        path("purge/<int:pk>/", request_page.purge_request, name="request"),
        path("purge/<int:pk>/execute/", request_page.execute, name="execute"),
        path("purge/<int:pk>/preview-again/", request_page.preview_again, name="preview_again"),
    ],
    "purge",
)
jobs_patterns = (
    [
        path("", jobs.job_list, name="list"),
        path("<int:pk>/", jobs.job_detail, name="detail"),
        path("<int:pk>/cancel/", jobs.cancel, name="cancel"),
        path("<int:pk>/resume/", jobs.resume, name="resume"),
        path("<int:pk>/close/", jobs.close, name="close"),
    ],
    "jobs",
)

# Erasure requests (issue 13): the compliance overview, intake, a request, its approval, what it hands out.
erasure_patterns = (
    [
        path("", erasure.erasure_overview, name="overview"),
        path("new/", erasure.open_request, name="open"),
        path("<int:pk>/", erasure.request_page, name="request"),
        path("<int:pk>/approve/", erasure.approve, name="approve"),
        path("<int:pk>/reject/", erasure.reject, name="reject"),
        path("<int:pk>/cancel/", erasure.cancel, name="cancel"),
        path("<int:pk>/resume/", erasure.resume, name="resume"),
        path("<int:pk>/outside-holds/", erasure.outside_holds, name="outside_holds"),
        path("<int:pk>/export/", erasure.export, name="export"),
        path("<int:pk>/certificate/", erasure.certificate, name="certificate"),
        path("<int:pk>/certificate.json", erasure.certificate_json, name="certificate_json"),
    ],
    "erasure",
)

# What became of one's own requests (issue 14, item 6).
notices_patterns = (
    [
        path("", notices.notices, name="list"),
        path("read/", notices.read, name="read"),
    ],
    "notices",
)

tokens_patterns = (
    [
        path("", tokens.tokens, name="list"),
        path("new/", tokens.create, name="create"),
        path("<int:pk>/revoke/", tokens.revoke, name="revoke"),
    ],
    "tokens",
)

urlpatterns = [
    path("api/v1/", api_urlpatterns()),
    path("tokens/", include(tokens_patterns)),
    path("notices/", include(notices_patterns)),
    path("login/", auth.login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/django_rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("approvals/", include(approvals_patterns)),
    path("holds/", include(holds_patterns)),
    path("audit/", include(audit_patterns)),
    path("jobs/", include(jobs_patterns)),
    path("erasures/", include(erasure_patterns)),
    path("", include(purge_patterns)),
    path("", include(browse_patterns)),
]
