from django.apps import AppConfig


class ChatdataConfig(AppConfig):
    name = "chatdata"
    verbose_name = "Chat data"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from chatdata import callbacks, staff_audit

        staff_audit.connect()  # every staff account and role change gets an audit entry
        callbacks.connect()  # signed notices when a request made through the API ends
