from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self):
        from dashboard.web.accounts import login_audit

        login_audit.connect()  # every login, failed login and logout gets an audit entry
