from django.apps import AppConfig


class ChatdataConfig(AppConfig):
    name = "chatdata"
    verbose_name = "Chat data"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from chatdata import staff_audit

        staff_audit.connect()  # every staff account and role change gets an audit entry
