from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard.views import auth, browse

browse_patterns = (
    [
        path("", browse.home, name="home"),
        path("users/", browse.users, name="users"),
        path("users/<int:pk>/", browse.user, name="user"),
        path("conversations/", browse.conversations, name="conversations"),
        path("conversations/<int:pk>/", browse.conversation, name="conversation"),
        path("attachments/<int:pk>/", browse.attachment, name="attachment"),
        path("search/", browse.search_messages, name="search"),
    ],
    "browse",
)

urlpatterns = [
    path("login/", auth.login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/django_rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("", include(browse_patterns)),
]
