from chatdata.management.commands.axes_reset import UnlockCommand


class Command(UnlockCommand):
    name = "axes_reset_username"
    help = "Lift the login lockouts of the given accounts (audited; same as axes_reset --username)."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="+")

    def handle(self, *args, username, **options):
        self.unlock([(name, None) for name in username])
