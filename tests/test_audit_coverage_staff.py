"""Signing in and out, and every change through Django's admin, are audited: each refused attempt
writes exactly one entry, each success the staff change it made (tests/audit_coverage.py)."""

import pytest
from django.contrib.auth.models import Group

from chatdata import roles
from tests.audit_coverage import (  # noqa: F401 (world and signed_in are fixtures)
    CHAT_ADMIN_MODELS, expect_status, refused_once, signed_in, succeeded, world,
)
from tests.conftest import PASSWORD, make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


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
        refused_once(lambda: expect_status(signed_in[world.clerk].post(url, data), 403), "request.refused")
        succeeded(lambda: expect_status(signed_in[world.root].post(url, data), 302), expected)


def test_admin_bulk_delete_of_staff(signed_in, world):
    target = make_staff("temp", roles.SUPPORT)
    data = {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"}
    refused_once(lambda: expect_status(signed_in[world.clerk].post("/admin/auth/user/", data), 403))
    succeeded(lambda: expect_status(signed_in[world.root].post("/admin/auth/user/", data), 302), "staff.deleted")


def test_admin_group_changes(signed_in, world):
    group = Group.objects.get(name=roles.SUPPORT)
    spare = Group.objects.create(name="spare")
    for url, data, expected in [
        ("/admin/auth/group/add/", {"name": "newcomers"}, None),  # a group no role is named after
        (f"/admin/auth/group/{group.pk}/change/", {"name": "helpdesk"}, "staff.role_removed"),  # the role's name
        (f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}, "staff.role_removed"),
        ("/admin/auth/group/", {"action": "delete_selected", "_selected_action": [spare.pk], "post": "yes"}, None),
    ]:
        refused_once(lambda: expect_status(signed_in[world.clerk].post(url, data), 403), "request.refused")
        if expected:
            succeeded(lambda: expect_status(signed_in[world.root].post(url, data), 302), expected)


def test_admin_own_password_change(signed_in, world):
    data = {"old_password": PASSWORD, "new_password1": "a new passphrase 42", "new_password2": "a new passphrase 42"}
    succeeded(lambda: expect_status(signed_in[world.root].post("/admin/password_change/", data), 302),
              "staff.password_changed")


@pytest.mark.parametrize("model", CHAT_ADMIN_MODELS)
def test_the_chat_data_admin_refuses_every_change(signed_in, world, model):
    from django.apps import apps

    row = apps.get_model("chatdata", model).objects.order_by("pk").first()
    # (A change or delete of a row that does not exist is a redirect to the admin's index.)
    for action in ("add/", *((f"{row.pk}/change/", f"{row.pk}/delete/") if row else ())):
        refused_once(lambda: expect_status(signed_in[world.root].post(f"/admin/chatdata/{model}/{action}", {}), 403),
                     "request.refused")
