from django.contrib import admin

from chat.api.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "owner", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "hashed_key", "created_at", "last_used_at"]
    search_fields = ["prefix", "name", "owner__username"]
