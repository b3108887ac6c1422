"""Staff accounts and roles are audited wherever they change (issue 11, item 3; DESIGN.md
invariant 4).

The entries come from signals on Django's User and on its groups relation, not from any one form,
so Django's admin, the management commands (createsuperuser, changepassword, create_demo_logins),
a shell and any later API leave the same entries: an account created, renamed or deleted; a role
added or removed (from either side of the relation, clear() included, and when a role's group is
renamed or deleted); the superuser flag (the admin role) and Django's staff flag (the admin site)
set or cleared; an account activated or deactivated; a password set. A password hash upgraded at
login (Django's check_password setter: the same password, rehashed) is not a change, nor is
`last_login` moving.

Who acted comes from a context. For a web request a middleware (dashboard.web.middleware) names the
logged-in person and their address; outside a request the change is the system's, and the entry
names the command (`command()` below, or else `manage.py <name>` from the process's arguments)
and the operating-system user who ran it.

Each entry names the staff member changed in scope.staff_id: the two-person rule's cooling period
(chatdata.permissions.cooling_refusal) reads it. Passwords and their hashes never enter the log.
Writes that bypass signals (QuerySet.update(), raw SQL) are not seen; chatsweep never changes
staff accounts that way.
"""

import getpass
import os
import sys
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from chatdata.audit import write_audit

TRACKED = ("username", "password", "is_active", "is_staff", "is_superuser")
FLAGS = {
    # field: (action when set, action when cleared, role named in the entry)
    "is_superuser": ("staff.superuser_granted", "staff.superuser_revoked", "admin"),
    "is_staff": ("staff.admin_site_granted", "staff.admin_site_revoked", None),
    "is_active": ("staff.activated", "staff.deactivated", None),
}
VIA_MAX = 200

_acting = ContextVar("chatsweep_staff_acting", default=None)


@contextmanager
def web_request(*, user, ip, via):
    """Changes made inside are by `user` (a callable returning the logged-in User or None) from `ip`."""
    token = _acting.set((user, ip, {"via": via[:VIA_MAX]}))
    try:
        yield
    finally:
        _acting.reset(token)


@contextmanager
def command(name):
    """Changes made inside are the system's, on behalf of `manage.py name`."""
    token = _acting.set((None, None, _command_origin(f"manage.py {name}")))
    try:
        yield
    finally:
        _acting.reset(token)


def _os_user():
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry, e.g. in some containers
        return str(os.getuid())


def _command_origin(via):
    return {"via": via[:VIA_MAX], "os_user": _os_user()}


def _argv_origin():
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    if prog in ("manage.py", "django-admin") and len(sys.argv) > 1:
        return _command_origin(f"manage.py {sys.argv[1]}")
    return _command_origin(prog)


def _current():
    acting = _acting.get()
    if acting is None:
        return None, None, _argv_origin()
    user, ip, origin = acting
    return (user() if callable(user) else user), ip, origin


def _write(action, staff, *, role=None, **extra):
    actor, ip, origin = _current()
    scope = {"staff_id": staff.pk, "username": staff.get_username()}
    if role is not None:
        scope["role"] = role
    write_audit(action, actor=actor, target=f"staff {staff.get_username()}", scope={**scope, **extra, **origin}, ip=ip)


# --- the User row --------------------------------------------------------------------------------


def _before_save(sender, instance, raw=False, update_fields=None, **kwargs):
    instance._staff_before = None
    if raw or instance._state.adding:
        return
    if update_fields is not None and not set(update_fields) & set(TRACKED):
        return  # e.g. last_login at every login: nothing to compare, no query
    instance._staff_before = sender._default_manager.filter(pk=instance.pk).values(*TRACKED).first()
    # Django's check_password() rehashes an outdated hash with exactly this save: same password.
    instance._staff_rehash = update_fields is not None and set(update_fields) == {"password"} and getattr(instance, "_password", None) is None


def _after_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    if created:
        _write("staff.created", instance, superuser=instance.is_superuser, admin_site=instance.is_staff, active=instance.is_active)
        return
    before = instance.__dict__.pop("_staff_before", None)
    rehash = instance.__dict__.pop("_staff_rehash", False)
    if before is None:
        return
    if before["username"] != instance.get_username():
        _write("staff.renamed", instance, previous_username=before["username"])
    for field, (granted, revoked, role) in FLAGS.items():
        if before[field] != getattr(instance, field):
            _write(granted if getattr(instance, field) else revoked, instance, role=role)
    if before["password"] != instance.password and not rehash:
        actor, _, _ = _current()
        _write("staff.password_changed", instance, by_self=actor is not None and actor.pk == instance.pk)


def _before_delete(sender, instance, **kwargs):
    instance._staff_roles = sorted(instance.groups.values_list("name", flat=True))


def _after_delete(sender, instance, **kwargs):
    _write("staff.deleted", instance, roles=getattr(instance, "_staff_roles", []), superuser=instance.is_superuser)


# --- roles: the groups relation, and the groups themselves ------------------------------------------


def _record_roles(action, users, groups):
    for user in sorted(users, key=lambda u: u.pk):
        for group in sorted(groups, key=lambda g: g.pk):
            _write(action, user, role=group.name)


def _groups_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """`instance` is a User (user.groups.add(...)) or, with `reverse`, a Group (group.user_set...)."""
    related = instance.user_set if reverse else instance.groups
    if action == "pre_clear":
        instance._staff_pending = set(related.values_list("pk", flat=True))
    elif action == "pre_remove":
        # remove() signals every pk it was given, members or not; record only real removals.
        instance._staff_pending = set(related.filter(pk__in=pk_set).values_list("pk", flat=True))
    elif action in ("post_add", "post_remove", "post_clear"):
        ids = pk_set if action == "post_add" else instance.__dict__.pop("_staff_pending", set())
        if not ids:
            return
        others = list(model._default_manager.filter(pk__in=ids))
        name = "staff.role_added" if action == "post_add" else "staff.role_removed"
        if reverse:
            _record_roles(name, others, [instance])
        else:
            _record_roles(name, [instance], others)


def _before_group_save(sender, instance, raw=False, **kwargs):
    instance._staff_old_name = None
    if not raw and not instance._state.adding:
        instance._staff_old_name = sender.objects.filter(pk=instance.pk).values_list("name", flat=True).first()


def _after_group_save(sender, instance, created, raw=False, **kwargs):
    """Renaming a group moves its members from one role to another."""
    old = instance.__dict__.pop("_staff_old_name", None)
    if raw or created or old is None or old == instance.name:
        return
    members = list(instance.user_set.all())
    for member in sorted(members, key=lambda u: u.pk):
        _write("staff.role_removed", member, role=old)
        _write("staff.role_added", member, role=instance.name)


def _before_group_delete(sender, instance, **kwargs):
    instance._staff_members = list(instance.user_set.all())


def _after_group_delete(sender, instance, **kwargs):
    _record_roles("staff.role_removed", getattr(instance, "_staff_members", []), [instance])


def connect():
    User = get_user_model()
    pre_save.connect(_before_save, sender=User, dispatch_uid="chatsweep.staff.pre_save")
    post_save.connect(_after_save, sender=User, dispatch_uid="chatsweep.staff.post_save")
    pre_delete.connect(_before_delete, sender=User, dispatch_uid="chatsweep.staff.pre_delete")
    post_delete.connect(_after_delete, sender=User, dispatch_uid="chatsweep.staff.post_delete")
    m2m_changed.connect(_groups_changed, sender=User.groups.through, dispatch_uid="chatsweep.staff.groups")
    pre_save.connect(_before_group_save, sender=Group, dispatch_uid="chatsweep.staff.group_pre_save")
    post_save.connect(_after_group_save, sender=Group, dispatch_uid="chatsweep.staff.group_post_save")
    pre_delete.connect(_before_group_delete, sender=Group, dispatch_uid="chatsweep.staff.group_pre_delete")
    post_delete.connect(_after_group_delete, sender=Group, dispatch_uid="chatsweep.staff.group_post_delete")
