from chatdata.management.commands.axes_reset import UnlockCommand


class Command(UnlockCommand):
    name = "axes_reset_ip_username"
    help = "Lift the login lockout of one account from one address (audited)."

    def add_arguments(self, parser):
        parser.add_argument("ip")
        parser.add_argument("username")

    def handle(self, *args, ip, username, **options):
        self.unlock([(username, ip)])
