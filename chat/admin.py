from django.contrib import admin

from chat.functions.admin import AssistantToolsAdminForm
from chat.models import Assistant, Message, Run, RunStep, Thread
from chat.services.assistants import delete_assistant, save_assistant


def assistant_label(assistant: Assistant | None) -> str:
    """Two users' "Math Tutor"s told apart by their owner."""
    if assistant is None:
        return "—"
    return f"{assistant.name} (owner: {assistant.owner.get_username()})"


class AssistantWithOwner:
    """An admin column for a model with an ``assistant``: its name and owner."""

    @admin.display(description="assistant", ordering="assistant__name")
    def assistant_with_owner(self, obj):
        return assistant_label(obj.assistant)


@admin.register(Assistant)
class AssistantAdmin(admin.ModelAdmin):
    form = AssistantToolsAdminForm  # AssistantForm + the tools JSON validated
    list_display = ["name", "owner", "model", "created_at"]
    list_filter = ["model"]
    search_fields = ["name", "id", "owner__username"]
    fields = ["owner", "name", "description", "model", "instructions", "temperature", "top_p", "tools", "function_tools", "tool_resources", "metadata", "response_format"]
    raw_id_fields = ["owner"]

    # The admin is one more surface: it writes and deletes through the same services.
    def save_model(self, request, obj, form, change):
        save_assistant(obj)

    def delete_model(self, request, obj):
        delete_assistant(obj)

    def delete_queryset(self, request, queryset):
        for assistant in queryset:
            delete_assistant(assistant)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Threads, messages, runs and steps are records of what happened: view, never edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["id", "role", "status", "text", "created_at"]
    readonly_fields = fields

    @admin.display(description="text")
    def text(self, obj):
        return obj.text[:200]


@admin.register(Thread)
class ThreadAdmin(AssistantWithOwner, ReadOnlyAdmin):
    list_display = ["id", "display_title", "owner", "assistant_with_owner", "updated_at"]
    list_select_related = ["owner", "assistant__owner"]
    search_fields = ["id", "title", "owner__username"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "thread", "role", "status", "created_at"]
    list_filter = ["role", "status"]
    search_fields = ["id", "thread__id"]


class RunStepInline(ReadOnlyInline):
    model = RunStep
    fields = ["id", "type", "status", "step_details", "usage", "last_error", "created_at"]
    readonly_fields = fields


@admin.register(Run)
class RunAdmin(AssistantWithOwner, ReadOnlyAdmin):
    list_display = ["id", "thread", "assistant_with_owner", "status", "model", "created_at"]
    list_select_related = ["thread", "assistant__owner"]
    list_filter = ["status", "model"]
    search_fields = ["id", "thread__id"]
    inlines = [RunStepInline]


@admin.register(RunStep)
class RunStepAdmin(ReadOnlyAdmin):
    list_display = ["id", "run", "type", "status", "created_at"]
    list_filter = ["type", "status"]
