from django.contrib import admin

from chat.retrieval.ingest import schedule_ingest
from chat.retrieval.models import Document, VectorStore, VectorStoreFile
from chat.services.files import delete_vector_store


class VectorStoreFileInline(admin.TabularInline):
    model = VectorStoreFile
    extra = 1
    raw_id_fields = ["file"]
    readonly_fields = ["status", "last_error"]


@admin.register(VectorStore)
class VectorStoreAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "created_at"]
    inlines = [VectorStoreFileInline]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        schedule_ingest(list(VectorStoreFile.objects.filter(vector_store=form.instance)))

    # Deleting here is the service's delete too: the store leaves every tool_resources.
    def delete_model(self, request, obj):
        delete_vector_store(obj)

    def delete_queryset(self, request, queryset):
        for store in queryset:
            delete_vector_store(store)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["sha256", "owner", "chunking", "kind", "status", "pages", "tokens"]
    readonly_fields = [f.name for f in Document._meta.fields]
