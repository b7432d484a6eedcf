"""The full-text index over chunks, in each database's own engine.

SQLite: an external-content FTS5 table (porter stemming, BM25 ranking) kept in step
with retrieval_chunk by triggers. PostgreSQL: a generated tsvector column with a GIN
index. Other databases get no index (search then finds nothing lexically).
"""

from django.db import migrations

SQLITE_UP = [
    "CREATE VIRTUAL TABLE retrieval_chunk_fts USING fts5("
    "text, content='retrieval_chunk', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER retrieval_chunk_ai AFTER INSERT ON retrieval_chunk BEGIN "
    "INSERT INTO retrieval_chunk_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER retrieval_chunk_ad AFTER DELETE ON retrieval_chunk BEGIN "
    "INSERT INTO retrieval_chunk_fts(retrieval_chunk_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER retrieval_chunk_au AFTER UPDATE OF text ON retrieval_chunk BEGIN "
    "INSERT INTO retrieval_chunk_fts(retrieval_chunk_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO retrieval_chunk_fts(rowid, text) VALUES (new.id, new.text); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS retrieval_chunk_au",
    "DROP TRIGGER IF EXISTS retrieval_chunk_ad",
    "DROP TRIGGER IF EXISTS retrieval_chunk_ai",
    "DROP TABLE IF EXISTS retrieval_chunk_fts",
]
POSTGRES_UP = [
    "ALTER TABLE retrieval_chunk ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
    "CREATE INDEX retrieval_chunk_search_gin ON retrieval_chunk USING GIN (search_vector)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS retrieval_chunk_search_gin",
    "ALTER TABLE retrieval_chunk DROP COLUMN IF EXISTS search_vector",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("retrieval", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        )
    ]
