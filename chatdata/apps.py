from django.apps import AppConfig


class ChatdataConfig(AppConfig):
    name = "chatdata"
    verbose_name = "Chat data"
    default_auto_field = "django.db.models.BigAutoField"
