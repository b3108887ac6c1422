"""Every staff account and role change is audited wherever it is made: Django's admin, the ORM from
either side of the groups relation, and management commands (issue 11, item 3)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection

from chatdata import roles
from chatdata.models import AuditEntry
from tests.conftest import PASSWORD, make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture
def ada(admin_user):
    """An admin who also reaches Django's admin (staff flag, superuser)."""
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    return admin_user


def staff_entries(**filters):
    return list(AuditEntry.objects.filter(action__startswith="staff.", **filters).order_by("id"))


def about(user):
    """(action, actor name, role named) of each staff entry about `user`, oldest first."""
    return [
        (e.action, e.actor_name, (e.scope or {}).get("role"))
        for e in staff_entries()
        if (e.scope or {}).get("staff_id") == user.pk
    ]


def admin_add_user(client, username, password=PASSWORD):
    response = client.post(
        "/admin/auth/user/add/",
        {"username": username, "password1": password, "password2": password, "usable_password": "true"},
        REMOTE_ADDR="192.0.2.50",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    return User.objects.get(username=username)


def admin_change_user(client, user, **changes):
    """Submit the user's change page in Django's admin as it is, with `changes` applied."""
    url = f"/admin/auth/user/{user.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {}
    for field in form:
        if field.field.disabled:
            continue
        value = changes.get(field.name, field.value())
        widget = getattr(field.field.widget, "widget", field.field.widget)
        if hasattr(widget, "widgets"):  # a split date and time
            for index, part in enumerate(widget.decompress(value)):
                data[f"{field.html_name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[field.html_name] = "on"
        elif isinstance(value, (list, tuple)):
            data[field.html_name] = [str(getattr(item, "pk", item)) for item in value]
        else:
            data[field.html_name] = "" if value is None else value
    response = client.post(url, data, REMOTE_ADDR="192.0.2.50")
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    return user


def group(name):
    return Group.objects.get_or_create(name=name)[0]


def test_it_audits_an_account_made_and_promoted_in_djangos_admin(client, ada):
    client.force_login(ada)
    sock = admin_add_user(client, "ada2")
    admin_change_user(client, sock, is_superuser=True, is_staff=True, groups=[group(roles.MODERATOR).pk])
    assert about(sock) == [
        ("staff.created", "ada", None),
        ("staff.superuser_granted", "ada", "admin"),
        ("staff.admin_site_granted", "ada", None),
        ("staff.role_added", "ada", "moderator"),
    ]
    created = staff_entries(action="staff.created")[-1]
    assert (created.actor, created.ip, created.target) == (ada, "192.0.2.50", "staff ada2")
    assert created.scope["via"] == "web POST /admin/auth/user/add/"

    admin_change_user(client, sock, is_superuser=False, groups=[], is_active=False)
    assert about(sock)[4:] == [
        ("staff.superuser_revoked", "ada", "admin"),
        ("staff.deactivated", "ada", None),
        ("staff.role_removed", "ada", "moderator"),
    ]
    admin_change_user(client, sock, is_active=True)
    assert about(sock)[-1] == ("staff.activated", "ada", None)


def test_it_audits_a_password_set_in_djangos_admin_and_never_logs_the_hash(client, ada, moderator):
    client.force_login(ada)
    response = client.post(
        f"/admin/auth/user/{moderator.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    moderator.refresh_from_db()
    assert moderator.check_password(NEW_PASSWORD)
    assert about(moderator)[-1] == ("staff.password_changed", "ada", None)
    everything = json.dumps([[e.scope, e.counts, e.reason, e.target] for e in staff_entries()])
    assert moderator.password not in everything and "md5$" not in everything and NEW_PASSWORD not in everything


def test_it_audits_group_changes_from_either_side_and_clear(moderator, support):
    moderators = group(roles.MODERATOR)
    moderators.user_set.add(support)
    moderators.user_set.remove(support, moderator)
    moderators.user_set.remove(support)  # no longer a member: nothing to record
    support.groups.add(group(roles.COMPLIANCE), group(roles.AUDITOR))
    support.groups.clear()
    assert about(support)[-7:] == [
        ("staff.role_added", "system", "moderator"),
        ("staff.role_removed", "system", "moderator"),
        ("staff.role_added", "system", "compliance"),
        ("staff.role_added", "system", "auditor"),
        ("staff.role_removed", "system", "support"),  # clear() takes every group, the persona's own too
        ("staff.role_removed", "system", "compliance"),
        ("staff.role_removed", "system", "auditor"),
    ]
    assert about(moderator)[-1] == ("staff.role_removed", "system", "moderator")


def test_a_login_writes_no_staff_entry(client, moderator):
    before = len(staff_entries())
    client.post("/login/", {"username": "mona", "password": PASSWORD})
    moderator.refresh_from_db()
    assert moderator.last_login is not None
    assert len(staff_entries()) == before


def test_a_password_hash_upgrade_at_login_is_not_a_password_change(client, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ]
    User.objects.create_user("hank", password=PASSWORD)
    settings.PASSWORD_HASHERS = list(reversed(settings.PASSWORD_HASHERS))  # PBKDF2-SHA1 preferred now
    before = len(staff_entries())
    assert client.post("/login/", {"username": "hank", "password": PASSWORD}).status_code == 302
    assert User.objects.get(username="hank").password.startswith("pbkdf2_sha1$")  # upgraded at login
    assert len(staff_entries()) == before


def test_it_audits_a_deleted_account(client, ada):
    client.force_login(ada)
    temp = admin_add_user(client, "temp")
    response = client.post(f"/admin/auth/user/{temp.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not User.objects.filter(username="temp").exists()
    assert about(temp)[-1] == ("staff.deleted", "ada", None)


def test_create_demo_logins_is_audited_as_the_command(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("create_demo_logins")
    admin = User.objects.get(username="admin")
    entries = [e for e in staff_entries() if e.scope["staff_id"] == admin.pk]
    assert [e.action for e in entries] == ["staff.created", "staff.role_added"]
    assert entries[0].scope["superuser"] is True
    assert {(e.actor, e.actor_name, e.scope["via"]) for e in entries} == {(None, "system", "manage.py create_demo_logins")}
    before = len(staff_entries())
    call_command("create_demo_logins")  # repairs nothing: records nothing
    assert len(staff_entries()) == before


def manage_py(tmp_path, *args, stdin=None, **variables):
    """Run manage.py in a new process against the test database, with no terminal (as from cron)."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CHATSWEEP_VAR_DIR": str(tmp_path),
        **variables,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
        timeout=60, start_new_session=True,  # no controlling terminal: getpass reads stdin
    )


@pytest.mark.django_db(transaction=True)
def test_changepassword_from_the_shell_is_audited(tmp_path):
    mona = make_staff("mona", roles.MODERATOR)
    old_hash = mona.password
    result = manage_py(tmp_path, "changepassword", "mona", stdin=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    mona.refresh_from_db()
    assert mona.password != old_hash  # hashed by the other process's hasher, which this test does not load
    entry = staff_entries(action="staff.password_changed")[-1]
    assert (entry.actor, entry.scope["staff_id"], entry.scope["via"]) == (None, mona.pk, "manage.py changepassword")
    assert entry.scope["by_self"] is False and entry.scope["os_user"]


@pytest.mark.django_db(transaction=True)
def test_createsuperuser_from_the_shell_is_audited(tmp_path):
    result = manage_py(
        tmp_path, "createsuperuser", "--noinput", "--username", "root2", "--email", "r@example.com",
        DJANGO_SUPERUSER_PASSWORD=NEW_PASSWORD,
    )
    assert result.returncode == 0, result.stderr
    root = User.objects.get(username="root2")
    entry = staff_entries(action="staff.created")[-1]
    assert (entry.actor, entry.scope["staff_id"], entry.scope["via"]) == (None, root.pk, "manage.py createsuperuser")
    assert entry.scope["superuser"] is True and entry.scope["os_user"]


def test_the_audit_page_offers_staff_changes_as_a_group(client, ada, auditor):
    make_staff("newbie", roles.SUPPORT)
    client.force_login(auditor)
    page = client.get("/audit/", {"action": "staff.*"}).content.decode()
    assert "Staff accounts and roles" in page and "staff.role_added" in page and "newbie" in page


def test_renaming_or_deleting_a_roles_group_moves_its_members_roles(client, ada, moderator, moderator2):
    client.force_login(ada)
    helpers = Group.objects.create(name="helpers")
    helpers.user_set.add(moderator2)
    moderators = group(roles.MODERATOR)
    response = client.post(f"/admin/auth/group/{moderators.pk}/change/", {"name": "former-moderators", "permissions": []})
    assert response.status_code == 302
    assert about(moderator)[-2:] == [("staff.role_removed", "ada", "moderator"), ("staff.role_added", "ada", "former-moderators")]
    response = client.post(f"/admin/auth/group/{helpers.pk}/change/", {"name": roles.MODERATOR, "permissions": []})
    assert about(moderator2)[-1] == ("staff.role_added", "ada", "moderator")
    response = client.post(f"/admin/auth/group/{helpers.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert about(moderator2)[-1] == ("staff.role_removed", "ada", "moderator")


def test_a_renamed_account_is_audited_with_its_old_name(client, ada, moderator):
    client.force_login(ada)
    admin_change_user(client, moderator, username="mona-2")
    entry = staff_entries(action="staff.renamed")[-1]
    assert (entry.scope["staff_id"], entry.scope["previous_username"], entry.target) == (moderator.pk, "mona", "staff mona-2")
