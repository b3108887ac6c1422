"""Chat data in Django's admin: read-only, and no deletes.

Every deletion must go through the engine (chatdata.purge), which previews, audits, removes files
through the outbox and writes sync events. The admin's own delete would bypass all of that.
"""

from django.contrib import admin

from chatdata import models


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return {}


@admin.register(models.ChatUser)
class ChatUserAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "display_name", "created_at", "erased_at"]
    search_fields = ["external_id", "display_name"]
    show_full_result_count = False


@admin.register(models.Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "kind", "title", "last_message_at"]
    list_filter = ["kind"]
    search_fields = ["external_id", "title"]
    show_full_result_count = False


@admin.register(models.Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["conversation", "user", "joined_at", "cleared_before", "hidden"]
    raw_id_fields = ["conversation", "user"]
    show_full_result_count = False


@admin.register(models.Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "external_id", "conversation", "sender", "sent_at", "kind"]
    raw_id_fields = ["conversation", "sender"]
    show_full_result_count = False


for _model in (models.MessageHide, models.Attachment, models.Reaction, models.PendingDelivery, models.SyncEvent):
    admin.site.register(_model, type(f"{_model.__name__}Admin", (ReadOnlyAdmin,), {"show_full_result_count": False}))
