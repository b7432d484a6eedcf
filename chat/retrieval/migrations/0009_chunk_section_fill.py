"""The section each existing chunk begins inside (passages.sections_at_start), read from its
document's chunks in order. Its own migration: RunPython beside a schema change breaks on PostgreSQL."""

from django.db import migrations

from chat.retrieval.passages import sections_at_start

BATCH = 500


def fill(apps, schema_editor):
    Chunk = apps.get_model("retrieval", "Chunk")
    documents = Chunk.objects.filter(section__isnull=True).order_by().values_list("document_id", flat=True).distinct()
    for document_id in list(documents):
        chunks = list(Chunk.objects.filter(document_id=document_id).order_by("seq").only("id", "text"))
        for chunk, title in zip(chunks, sections_at_start([c.text for c in chunks]), strict=True):
            chunk.section = title
        Chunk.objects.bulk_update(chunks, ["section"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("retrieval", "0008_chunk_section")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
