"""Vector stores (Assistants v2) and the indexed text behind them.

A ``VectorStore`` lists files (``VectorStoreFile``). The text of a file is indexed once
per owner and distinct content: ``Document`` is keyed by the owner, the file's sha256
and the chunking settings, so re-uploading the same bytes (or attaching one file to many
stores) reuses the owner's chunks instead of extracting and indexing again. Never across
owners: how fast a file is indexed would tell one user what another has uploaded. ``Chunk`` rows are mirrored into
the database's full-text index (an FTS5 table on SQLite, a tsvector column on
PostgreSQL), created in the migration.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from chat.models import File


def new_vs_id() -> str:
    return "vs_" + secrets.token_hex(12)


class VectorStore(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_vs_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vector_stores")
    name = models.CharField(max_length=256, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name or self.id

    def file_counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("in_progress", "completed", "failed", "cancelled")}
        for status in self.files.values_list("status", flat=True):
            counts[status] = counts.get(status, 0) + 1
        counts["total"] = sum(counts.values())
        return counts


class VectorStoreFile(models.Model):
    class Status(models.TextChoices):
        # The hosted API's vector store file statuses (a file here is never "cancelled").
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        FAILED = "failed"

    IN_PROGRESS, COMPLETED, FAILED = Status.IN_PROGRESS, Status.COMPLETED, Status.FAILED

    vector_store = models.ForeignKey(VectorStore, on_delete=models.CASCADE, related_name="files")
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="vector_store_files")
    status = models.CharField(max_length=16, choices=Status, default=Status.IN_PROGRESS)
    last_error = models.TextField(blank=True)
    # The chunking asked for when the file was added (a static chunking_strategy); null is
    # the server's (RETRIEVAL_CHUNK_TOKENS / RETRIEVAL_CHUNK_OVERLAP).
    chunk_tokens = models.PositiveIntegerField(null=True, blank=True)
    chunk_overlap = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["vector_store", "file"], name="one_entry_per_file_per_store")]

    @property
    def chunking(self) -> tuple[int, int]:
        """(max tokens per chunk, tokens shared with the previous chunk) used for this file."""
        if self.chunk_tokens is None:
            return settings.RETRIEVAL_CHUNK_TOKENS, settings.RETRIEVAL_CHUNK_OVERLAP
        return self.chunk_tokens, self.chunk_overlap or 0

    def __str__(self) -> str:
        return f"{self.file_id} in {self.vector_store_id} ({self.status})"


class Document(models.Model):
    """The extracted, chunked text of one owner's distinct content (owner + sha256 + chunking settings)."""

    PENDING, READY, ERROR = "pending", "ready", "error"
    STATUSES = [(s, s) for s in (PENDING, READY, ERROR)]

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="documents")
    sha256 = models.CharField(max_length=64)
    # e.g. "cl100k_base:800:400": different chunking settings index the content again.
    chunking = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, blank=True)  # pdf, docx, html, text
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    error = models.TextField(blank=True)
    pages = models.PositiveIntegerField(default=0)
    tokens = models.PositiveIntegerField(default=0)
    embedding_model = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "sha256", "chunking"], name="one_document_per_owner_and_content")
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} {self.chunking} ({self.status})"


class Chunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    text = models.TextField()
    page_start = models.PositiveIntegerField(default=1)
    page_end = models.PositiveIntegerField(default=1)
    # [[char offset in text, page number], …]: where each page begins inside this chunk.
    page_marks = models.JSONField(default=list)
    tokens = models.PositiveIntegerField(default=0)
    # Where each word stem stands in the text (passages.term_index), written with it: the
    # passage ranking reads its query's lines instead of scanning the text. Null (rows
    # from before it, or written by hand): the text is scanned. Nullable because adding a
    # NOT NULL column makes SQLite rebuild the table, which drops the full-text triggers.
    terms = models.TextField(null=True, blank=True)
    # The title of the section this chunk begins inside (passages.sections_at_start), found
    # at ingest from the chunks before it: "" before the document's first heading, null on
    # rows written by hand. Nullable for the reason ``terms`` is.
    section = models.TextField(null=True, blank=True)
    # float32 vector from the embeddings endpoint, when one is configured.
    embedding = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["document", "seq"]
        indexes = [models.Index(fields=["document", "seq"])]

    def page_at(self, offset: int) -> int:
        page = self.page_start
        for start, number in self.page_marks:
            if start <= offset:
                page = number
        return page
