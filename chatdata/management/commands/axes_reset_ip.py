from chatdata.management.commands.axes_reset import UnlockCommand


class Command(UnlockCommand):
    name = "axes_reset_ip"
    help = "Lift the login lockouts of the given addresses (audited; same as axes_reset --ip)."

    def add_arguments(self, parser):
        parser.add_argument("ip", nargs="+")

    def handle(self, *args, ip, **options):
        self.unlock([(None, address) for address in ip])
