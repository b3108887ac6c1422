"""`manage.py axes_reset [--username NAME ...] [--ip ADDRESS ...]`: lift login lockouts, audited.

Replaces django-axes's command of the same name (chatdata comes first in INSTALLED_APPS), which
would lift them without a trace; `axes_reset_ip`, `axes_reset_username` and
`axes_reset_ip_username` keep axes's spelling and are audited the same way.
"""

from django.core.management.base import BaseCommand, CommandError

from chatdata.login_locks import check_address, check_username, do_unlock_logins


class UnlockCommand(BaseCommand):
    name = "axes_reset"

    def unlock(self, pairs):
        """`pairs`: [(username or None, address or None)], each unlocked and audited on its own."""
        try:
            pairs = [
                (None if u is None else check_username(u), None if a is None else check_address(a)) for u, a in pairs
            ]
        except ValueError as exc:
            raise CommandError(f"{exc} Nothing was unlocked.", returncode=2) from None
        for username, address in pairs:
            cleared = do_unlock_logins(actor=None, username=username, ip=address, via=f"manage.py {self.name}")
            what = " from ".join(part for part in (username, address) if part) or "every login and address"
            self.stdout.write(f"Unlocked {what}: {cleared} failed-login record{'s' if cleared != 1 else ''} cleared.")


class Command(UnlockCommand):
    help = "Lift login lockouts: of the given accounts and addresses, or all of them (audited)."

    def add_arguments(self, parser):
        parser.add_argument("--username", action="append", default=[], metavar="NAME", help="unlock this account (repeatable)")
        parser.add_argument("--ip", action="append", default=[], metavar="ADDRESS", help="unlock this address (repeatable)")

    def handle(self, *args, username, ip, **options):
        pairs = [(name, None) for name in username] + [(None, address) for address in ip]
        self.unlock(pairs or [(None, None)])
