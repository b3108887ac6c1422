import sys

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self):
        from django.conf import settings

        from dashboard import login_audit

        login_audit.connect()  # every login, failed login and logout gets an audit entry

        # With REDIS_URL unset, a `manage.py` command that may talk to RQ (rqworker, runserver,
        # shell, purge ...) starts the embedded Redis, or joins the one already running.
        if settings.EMBEDDED_REDIS:
            from dashboard import embedded_redis

            if embedded_redis.wanted_by(sys.argv):
                embedded_redis.ensure_started()
