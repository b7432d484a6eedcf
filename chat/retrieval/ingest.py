"""Ingest: extract a file's text, split it into overlapping token windows, index them.

Work is done once per owner and distinct content (see ``models.Document``).
``schedule_ingest`` runs it in a background thread after the request's transaction
commits, so neither the request nor the event loop waits for a 24-page PDF; when a file
is done its status is pushed to the thread page that attached it. Extraction itself runs
in a child process (``isolation.py``). However many threads wait, at most
``RETRIEVAL_MAX_PARALLEL_INGESTS`` read and split files at once in this process:
extraction is where a file's size turns into memory and CPU time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from array import array
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from chat.engine import dispatch, events
from chat.models import File
from chat.retrieval import passages, waiting
from chat.retrieval.extract import ExtractError, Page
from chat.retrieval.isolation import extract_isolated
from chat.retrieval.models import Chunk, Document, VectorStoreFile
from chat.retrieval.tokens import Tokenizer, encoding_name

logger = logging.getLogger("chat.retrieval")

# One lock per content being indexed, gone when no thread holds it.
_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()
_extraction_slots: threading.BoundedSemaphore | None = None


def default_chunking() -> tuple[int, int]:
    return settings.RETRIEVAL_CHUNK_TOKENS, settings.RETRIEVAL_CHUNK_OVERLAP


def chunking_key(chunking: tuple[int, int] | None = None) -> str:
    size, overlap = chunking or default_chunking()
    return f"{encoding_name()}:{size}:{overlap}"


@dataclass
class Piece:
    text: str
    page_start: int
    page_end: int
    page_marks: list[list[int]]
    tokens: int


def split(pages: list[Page], size: int, overlap: int, tokenizer: Tokenizer | None = None) -> list[Piece]:
    """Overlapping windows of ``size`` tokens (``overlap`` shared with the previous one),
    each knowing the pages it spans and where in its text each page begins."""
    tokenizer = tokenizer or Tokenizer()
    tokens: list = []
    starts: list[tuple[int, int]] = []  # (token index where a page begins, page number)
    for number, text in pages:
        starts.append((len(tokens), number))
        tokens.extend(tokenizer.encode(text + "\n\n"))
    pieces: list[Piece] = []
    step = max(1, size - overlap)
    begin = 0
    while begin < len(tokens):
        end = min(begin + size, len(tokens))
        first_page = next(number for at, number in reversed(starts) if at <= begin)
        marks, last_page = [[0, first_page]], first_page
        for at, number in starts:
            if begin < at < end:
                marks.append([len(tokenizer.decode(tokens[begin:at])), number])
                last_page = number
        text = tokenizer.decode(tokens[begin:end]).strip("\ufffd")
        pieces.append(Piece(text.rstrip(), first_page, last_page, marks, end - begin))
        if end == len(tokens):
            break
        begin += step
    return [p for p in pieces if p.text.strip()]


def _lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.Lock()
        return lock


def extraction_slots() -> threading.BoundedSemaphore:
    """The process-wide limit on files being read and split at the same time."""
    global _extraction_slots
    with _locks_guard:
        if _extraction_slots is None:
            _extraction_slots = threading.BoundedSemaphore(settings.RETRIEVAL_MAX_PARALLEL_INGESTS)
        return _extraction_slots


def _read_and_split(file: File, chunking: tuple[int, int] | None = None) -> tuple[str, list[Page], list[Piece]]:
    with extraction_slots():
        with file.data.open("rb") as handle:
            data = handle.read(settings.FILE_MAX_BYTES + 1)
        if len(data) > settings.FILE_MAX_BYTES:
            raise ExtractError(f"The file is larger than the limit of {settings.FILE_MAX_BYTES:,} bytes.")
        kind, pages = extract_isolated(file.filename, data)
        del data
        return kind, pages, split(pages, *(chunking or default_chunking()))


def index_file(file: File, chunking: tuple[int, int] | None = None) -> Document:
    """The file's Document, extracting and indexing its content unless its owner had
    the same content indexed before with the same chunking (default: the server's)."""
    chunking = chunking or default_chunking()
    key = chunking_key(chunking)
    identity = {"owner_id": file.owner_id, "sha256": file.sha256, "chunking": key}
    with _lock_for(f"{file.owner_id}:{file.sha256}:{key}"):
        try:
            document, _ = Document.objects.get_or_create(**identity)
        except IntegrityError:  # another process created it a moment ago
            document = Document.objects.get(**identity)
        if document.status != Document.PENDING:
            return document  # the same content was ingested (or refused) before
        try:
            kind, pages, pieces = _read_and_split(file, chunking)
            if not pieces:
                raise ExtractError("The file contains no text.")
            vectors = _embed([p.text for p in pieces])
            term_indexes = [passages.term_index(p.text) for p in pieces]
            sections = passages.sections_at_start([p.text for p in pieces])
        except ExtractError as exc:
            document.status, document.error = Document.ERROR, str(exc)
            document.save(update_fields=["status", "error"])
            return document
        except Exception:
            logger.exception("ingest of %s failed", file.id)
            document.status = Document.ERROR
            document.error = "The file could not be read (an internal error; the details are in the server log)."
            document.save(update_fields=["status", "error"])
            return document
        with transaction.atomic():
            # Another process may have indexed the same content meanwhile (two workers
            # resuming the same files at start-up): the first to commit wins, once.
            current = Document.objects.select_for_update().get(pk=document.pk)
            if current.status != Document.PENDING:
                return current
            Chunk.objects.bulk_create(
                [
                    Chunk(
                        document=document, seq=i, text=p.text, page_start=p.page_start, page_end=p.page_end,
                        page_marks=p.page_marks, tokens=p.tokens, terms=term_indexes[i], section=sections[i],
                        embedding=array("f", vectors[i]).tobytes() if vectors else None,
                    )
                    for i, p in enumerate(pieces)
                ],
                batch_size=500,
            )
            document.kind, document.status = kind, Document.READY
            document.pages = max(number for number, _ in pages)
            document.tokens = sum(p.tokens for p in pieces)
            document.embedding_model = settings.RETRIEVAL_EMBEDDING_MODEL if vectors else ""
            document.save(update_fields=["kind", "status", "pages", "tokens", "embedding_model"])
        return document


def _embed(texts: list[str]) -> list[list[float]] | None:
    """Dense vectors from the configured embeddings endpoint, or None (lexical only)."""
    from chat.retrieval import dense

    if not dense.available():
        return None
    try:
        return dense.embed_chunks(texts)
    except Exception as exc:  # the lexical index still works; say why dense is missing
        logger.warning("embeddings unavailable, indexing lexically only: %s", exc)
        return None


@receiver(post_delete, sender=File, dispatch_uid="retrieval-forget-deleted-file")
def forget_deleted_file(sender, instance: File, **kwargs) -> None:
    """A deleted file's indexed text goes with it, unless its owner keeps another copy."""
    if not File.objects.filter(owner_id=instance.owner_id, sha256=instance.sha256).exists():
        Document.objects.filter(owner_id=instance.owner_id, sha256=instance.sha256).delete()


def ingest_store_file(entry_id: int) -> VectorStoreFile | None:
    """Process one vector-store entry and set its status and its file's status."""
    entry = VectorStoreFile.objects.select_related("file").filter(pk=entry_id).first()
    if entry is None:
        return None
    document = index_file(entry.file, entry.chunking)
    ok = document.status == Document.READY
    entry.status = VectorStoreFile.COMPLETED if ok else VectorStoreFile.FAILED
    entry.last_error = "" if ok else document.error
    entry.save(update_fields=["status", "last_error"])
    File.objects.filter(pk=entry.file_id).update(
        status=File.PROCESSED if ok else File.ERROR, status_details="" if ok else document.error
    )
    return entry


def ingest_now(entry_ids: list[int], thread_id: str | None = None) -> None:
    """Ingest entries one by one, pushing each file's new status to the thread page;
    then start the runs that waited for them (whatever happened to the files)."""
    try:
        _ingest_each(entry_ids, thread_id)
    finally:
        stores_done = set(VectorStoreFile.objects.filter(pk__in=entry_ids).values_list("vector_store_id", flat=True))
        waiting.start_runs_waiting_for(stores_done)


def _ingest_each(entry_ids: list[int], thread_id: str | None) -> None:
    for entry_id in entry_ids:
        try:
            entry = ingest_store_file(entry_id)
        except Exception:
            logger.exception("ingest of vector store entry %s failed", entry_id)
            VectorStoreFile.objects.filter(pk=entry_id).update(
                status=VectorStoreFile.FAILED, last_error="The file could not be processed (internal error)."
            )
            continue
        if entry is not None and thread_id:
            notify_file_status(thread_id, entry.file_id)


def notify_file_status(thread_id: str, file_id: str) -> None:
    """Tell the thread's page that a file's status changed (on the server loop, where the
    in-memory channel layer lives; no loop, no page to tell)."""
    loop = dispatch.server_loop()
    if loop is None or not loop.is_running():
        return
    asyncio.run_coroutine_threadsafe(events.publish(thread_id, events.FILE_STATUS, file_id=file_id), loop)


def ingest_with_own_connection(entry_ids: list[int], thread_id: str | None = None) -> None:
    """``ingest_now`` in a thread of its own (a background thread, a worker's task)."""
    close_old_connections()
    try:
        ingest_now(entry_ids, thread_id)
    finally:
        connection.close()


def _run_in_background(entry_ids: list[int], thread_id: str | None) -> None:
    threading.Thread(
        target=ingest_with_own_connection, args=(entry_ids, thread_id), name="retrieval-ingest", daemon=True
    ).start()


def resume_unfinished() -> None:
    """At start-up: ingest the entries a stopped server left in progress."""

    def work() -> None:
        close_old_connections()
        try:
            ids = list(VectorStoreFile.objects.filter(status=VectorStoreFile.IN_PROGRESS).values_list("pk", flat=True))
            if ids:
                logger.info("resuming the ingest of %d file(s) left in progress", len(ids))
                ingest_now(ids)
        except Exception:
            logger.exception("resuming unfinished ingest failed")
        finally:
            connection.close()

    threading.Thread(target=work, name="retrieval-resume", daemon=True).start()


# Tests replace this to ingest in the test's own transaction; with RUN_BACKEND="workers"
# ChatConfig.ready() sends the ingest to a worker process instead.
runner = _run_in_background


def schedule_ingest(entries: list[VectorStoreFile], thread_id: str | None = None) -> None:
    ids = [e.pk for e in entries if e.status == VectorStoreFile.IN_PROGRESS]
    if ids:
        transaction.on_commit(lambda: runner(ids, thread_id))
