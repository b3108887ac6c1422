import sys

from django.apps import AppConfig


class LaunchConfig(AppConfig):
    name = "launch"
    verbose_name = "Process plumbing"

    def ready(self):
        from django.conf import settings

        # With REDIS_URL unset, a `manage.py` command that may talk to RQ (rqworker, runserver,
        # shell, purge ...) starts the embedded Redis, or joins the one already running.
        if settings.EMBEDDED_REDIS:
            from launch import embedded_redis

            if embedded_redis.wanted_by(sys.argv):
                embedded_redis.ensure_started()
