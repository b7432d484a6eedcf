"""Documents belong to one owner: indexed text is no longer shared across users.

Each existing Document goes to the first owner of a file with its content; every other
owner of such a file gets a copy of it and its chunks (so nothing has to be indexed
again), and documents whose files are all gone are dropped.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CHUNK_FIELDS = ["seq", "text", "page_start", "page_end", "page_marks", "tokens", "embedding"]
DOCUMENT_FIELDS = ["sha256", "chunking", "kind", "status", "error", "pages", "tokens", "embedding_model", "created_at"]


def give_documents_owners(apps, schema_editor):
    Document = apps.get_model("retrieval", "Document")
    Chunk = apps.get_model("retrieval", "Chunk")
    File = apps.get_model("chat", "File")
    for document in Document.objects.filter(owner__isnull=True).iterator():
        owners = list(
            dict.fromkeys(File.objects.filter(sha256=document.sha256).order_by("created_at").values_list("owner_id", flat=True))
        )
        if not owners:
            document.delete()
            continue
        document.owner_id = owners[0]
        document.save(update_fields=["owner"])
        for owner_id in owners[1:]:
            copy = Document.objects.create(owner_id=owner_id, **{f: getattr(document, f) for f in DOCUMENT_FIELDS})
            Chunk.objects.bulk_create(
                (
                    Chunk(document=copy, **{f: getattr(chunk, f) for f in CHUNK_FIELDS})
                    for chunk in Chunk.objects.filter(document=document).order_by("seq").iterator()
                ),
                batch_size=500,
            )


def fire_deferred_checks(apps, schema_editor):
    """PostgreSQL refuses to ALTER a table with deferred foreign-key checks still pending
    from the rows written just above ("pending trigger events"): run them now."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_file"),
        ("retrieval", "0002_fulltext"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="document", name="one_document_per_content"),
        migrations.AddField(
            model_name="document",
            name="owner",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="documents", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.RunPython(give_documents_owners, migrations.RunPython.noop),
        migrations.RunPython(fire_deferred_checks, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="document",
            name="owner",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="documents", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.UniqueConstraint(fields=("owner", "sha256", "chunking"), name="one_document_per_owner_and_content"),
        ),
    ]
