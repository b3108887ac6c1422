"""One demo login per staff role, with a random password printed on screen.

The passwords are kept in var/demo-logins.json (readable by its owner only), so every start of
the demo prints the same ones; the accounts are put back in that state each time (password,
role, active), so a printed login always works. `--new-passwords` draws fresh ones. What it
creates or repairs is audited as this command's doing (chatdata.staff_audit); an account already
in order is not saved again, so a second start writes nothing.
"""

import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chatdata import roles, staff_audit


def logins_file():
    return Path(settings.VAR_DIR) / "demo-logins.json"


def _load_passwords(path):
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CommandError(f"Cannot read {path}: {exc}. Delete it to draw new passwords.") from None
    return {name: value for name, value in stored.items() if isinstance(value, str) and value}


def _save_passwords(path, passwords):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(passwords, fh, indent=2)
    os.replace(tmp, path)


@transaction.atomic
def ensure_demo_logins(passwords):
    """Create or repair one account per role, named after the role. Returns [(username, password)]."""
    groups = {group.name: group for group in Group.objects.filter(name__in=roles.ALL_ROLES)}
    missing = [name for name in roles.ALL_ROLES if name not in groups]
    if missing:
        raise CommandError(f"Role groups missing: {', '.join(missing)}. Run `manage.py migrate` first.")
    logins = []
    for role in roles.ALL_ROLES:
        # Built whole before the first save, so a new login is one "created" entry, not several.
        user = User.objects.filter(username=role).first() or User(username=role)
        # Only the admin login reaches Django's /admin/; the others use the dashboard.
        wanted = {"is_active": True, "is_staff": role == roles.ADMIN, "is_superuser": role == roles.ADMIN}
        changed = user.pk is None or any(getattr(user, field) != value for field, value in wanted.items())
        for field, value in wanted.items():
            setattr(user, field, value)
        if not user.check_password(passwords[role]):
            user.set_password(passwords[role])
            changed = True
        if changed:
            user.save()
        user.groups.set([groups[role]])
        logins.append((role, passwords[role]))
    return logins


class Command(BaseCommand):
    help = "Create (or repair) one demo login per role and print the usernames and passwords."

    def add_arguments(self, parser):
        parser.add_argument("--new-passwords", action="store_true", help="draw new passwords instead of reusing the stored ones")

    def handle(self, *args, new_passwords=False, **options):
        path = logins_file()
        passwords = {} if new_passwords else _load_passwords(path)
        for role in roles.ALL_ROLES:
            passwords.setdefault(role, secrets.token_urlsafe(9))
        with staff_audit.command("create_demo_logins"):
            logins = ensure_demo_logins(passwords)
        _save_passwords(path, passwords)
        self.stdout.write(format_logins(logins))


def format_logins(logins):
    """A small table, one login per line; each login is named after its role."""
    width = max(len(username) for username, _ in logins) + 2
    lines = [f"  {'login'.ljust(width)}password"]
    for username, password in logins:
        note = "   (superuser: also Django admin at /admin/)" if username == roles.ADMIN else ""
        lines.append(f"  {username.ljust(width)}{password}{note}")
    return "\n".join(lines)
