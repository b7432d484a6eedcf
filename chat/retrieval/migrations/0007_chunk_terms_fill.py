"""Each existing chunk's term index (passages.term_index), so its searches read it instead
of scanning its text. Its own migration: RunPython beside a schema change breaks on PostgreSQL."""

from django.db import migrations

from chat.retrieval.passages import term_index

BATCH = 500


def fill(apps, schema_editor):
    Chunk = apps.get_model("retrieval", "Chunk")
    ids = list(Chunk.objects.filter(terms__isnull=True).values_list("id", flat=True))
    for start in range(0, len(ids), BATCH):
        chunks = list(Chunk.objects.filter(id__in=ids[start:start + BATCH]).only("id", "text"))
        for chunk in chunks:
            chunk.terms = term_index(chunk.text)
        Chunk.objects.bulk_update(chunks, ["terms"])


class Migration(migrations.Migration):
    dependencies = [("retrieval", "0006_chunk_terms")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
