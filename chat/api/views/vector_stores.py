"""/v1/vector_stores, their files and file batches, over chat.retrieval's models.

A vector store file's API id is its File's id. Ingestion (extracting, chunking,
indexing) is chat.retrieval's; every change goes through ``chat.services.files``.
"""

from __future__ import annotations

from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone

from chat.api import specs
from chat.api.errors import invalid, not_found
from chat.api.http import ok, read
from chat.api.models import FileBatch
from chat.api.pagination import page
from chat.api.serializers import ts
from chat.models import File
from chat.retrieval.models import VectorStore, VectorStoreFile
from chat.services import files as services

ENTRY_STATUSES = ("in_progress", "completed", "failed", "cancelled")


# --- serializers ---------------------------------------------------------------------------


def _counts(entries) -> dict:
    counts = dict.fromkeys(ENTRY_STATUSES, 0)
    for status in entries.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    counts["total"] = sum(counts[s] for s in ENTRY_STATUSES)
    return counts


def store_dict(store: VectorStore) -> dict:
    entries = VectorStoreFile.objects.filter(vector_store=store)
    counts = _counts(entries)
    usage = entries.filter(status=VectorStoreFile.COMPLETED).aggregate(total=Sum("file__bytes"))["total"] or 0
    return {
        "id": store.id,
        "object": "vector_store",
        "created_at": ts(store.created_at),
        "name": store.name,
        "metadata": store.metadata or {},
        "file_counts": counts,
        "status": "in_progress" if counts["in_progress"] else "completed",
        "usage_bytes": usage,
        "last_active_at": ts(store.created_at),
        "expires_at": None,  # stores here do not expire; expires_after (optional, not nullable) is left out
    }


def entry_dict(entry: VectorStoreFile) -> dict:
    error = {"code": "invalid_file", "message": entry.last_error or "The file could not be processed."} if entry.status == VectorStoreFile.FAILED else None
    return {
        "id": entry.file_id,
        "object": "vector_store.file",
        "created_at": ts(entry.created_at),
        "vector_store_id": entry.vector_store_id,
        "status": entry.status,
        "last_error": error,
        "usage_bytes": entry.file.bytes if entry.status == VectorStoreFile.COMPLETED else 0,
        "attributes": {},
        # What the file was split with: the strategy asked for, or the server's for "auto".
        "chunking_strategy": {"type": "static", "static": dict(zip(("max_chunk_size_tokens", "chunk_overlap_tokens"), entry.chunking, strict=False))},
    }


def batch_dict(batch: FileBatch) -> dict:
    counts = _counts(VectorStoreFile.objects.filter(vector_store_id=batch.vector_store_id, file_id__in=batch.file_ids))
    if batch.cancelled_at is not None:
        status = "cancelled"
    elif counts["in_progress"]:
        status = "in_progress"
    elif counts["total"] and counts["failed"] == counts["total"]:
        status = "failed"
    else:
        status = "completed"
    return {
        "id": batch.id,
        "object": "vector_store.files_batch",
        "created_at": ts(batch.created_at),
        "vector_store_id": batch.vector_store_id,
        "status": status,
        "file_counts": counts,
    }


# --- helpers -------------------------------------------------------------------------------


def _store(request: HttpRequest, store_id: str) -> VectorStore:
    store = VectorStore.objects.filter(pk=store_id, owner=request.user).first()
    if store is None:
        raise not_found(f"No vector store found with id '{store_id}'.")
    return store


def _files(request: HttpRequest, ids: list[str], param: str) -> list[File]:
    found = {f.id: f for f in File.objects.filter(pk__in=ids, owner=request.user)}
    for file_id in ids:
        if file_id not in found:
            raise invalid(f"No file with id '{file_id}' found.", param=param)
    return [found[i] for i in dict.fromkeys(ids)]


def _changes(spec) -> dict:
    # expires_after is checked and accepted, but stores here do not expire (docs/api.md).
    return {name: getattr(spec, name) for name in spec.model_fields_set & {"name", "metadata"}}


# --- vector stores -------------------------------------------------------------------------


def create(request: HttpRequest):
    spec = read(request, specs.StoreCreate)
    files = _files(request, spec.file_ids or [], "file_ids")
    store = services.create_vector_store(request.user, **_changes(spec), files=files, chunking=specs.chunking(spec.chunking_strategy))
    return ok(store_dict(store))


def list_(request: HttpRequest):
    return ok(page(request, VectorStore.objects.filter(owner=request.user), store_dict))


def retrieve(request: HttpRequest, store_id: str):
    return ok(store_dict(_store(request, store_id)))


def search(request: HttpRequest, store_id: str):
    """The store's best passages for a query, as the hosted API's vector store search
    answered them (one page)."""
    store = _store(request, store_id)
    spec = read(request, specs.StoreSearch)
    if spec.filters:
        raise invalid("Invalid 'filters': filtering on file attributes is not supported here.", param="filters")
    threshold = spec.ranking_options.score_threshold if spec.ranking_options else None
    found = services.search_vector_store(store, spec.text(), limit=spec.max_num_results, threshold=threshold or 0.0)
    return ok(
        {
            "object": "vector_store.search_results.page",
            "search_query": [spec.query] if isinstance(spec.query, str) else spec.query,
            "data": [
                {
                    "file_id": file.id,
                    "filename": file.filename,
                    "score": hit.score,
                    "attributes": {},
                    "content": [{"type": "text", "text": hit.chunk.text}],
                }
                for file, hit in found
            ],
            "has_more": False,
            "next_page": None,
        }
    )


def update(request: HttpRequest, store_id: str):
    store = _store(request, store_id)
    services.update_vector_store(store, **_changes(read(request, specs.StoreUpdate)))
    return ok(store_dict(store))


def delete(request: HttpRequest, store_id: str):
    services.delete_vector_store(_store(request, store_id))
    return ok({"id": store_id, "object": "vector_store.deleted", "deleted": True})


# --- files in a store ----------------------------------------------------------------------


def _entry(store: VectorStore, file_id: str) -> VectorStoreFile:
    entry = VectorStoreFile.objects.select_related("file").filter(vector_store=store, file_id=file_id).first()
    if entry is None:
        raise not_found(f"No file found with id '{file_id}' in vector store '{store.id}'.")
    return entry


def file_create(request: HttpRequest, store_id: str):
    store = _store(request, store_id)
    spec = read(request, specs.StoreFileCreate)
    files = _files(request, [spec.file_id], "file_id")
    services.add_to_store(store, files, chunking=specs.chunking(spec.chunking_strategy), param="file_id")
    return ok(entry_dict(_entry(store, files[0].id)))


def _entries(request: HttpRequest, entries):
    wanted = request.GET.get("filter")
    if wanted:
        if wanted not in ENTRY_STATUSES:
            raise invalid(f"Invalid value for 'filter': {wanted!r}.", param="filter")
        entries = entries.filter(status=wanted)
    return ok(page(request, entries.select_related("file"), entry_dict, cursor="file_id"))


def file_list(request: HttpRequest, store_id: str):
    store = _store(request, store_id)
    return _entries(request, VectorStoreFile.objects.filter(vector_store=store))


def file_retrieve(request: HttpRequest, store_id: str, file_id: str):
    return ok(entry_dict(_entry(_store(request, store_id), file_id)))


def file_update(request: HttpRequest, store_id: str, file_id: str):
    entry = _entry(_store(request, store_id), file_id)
    read(request, specs.StoreFileUpdate)
    return ok(entry_dict(entry))


def file_delete(request: HttpRequest, store_id: str, file_id: str):
    services.remove_store_file(_entry(_store(request, store_id), file_id))
    return ok({"id": file_id, "object": "vector_store.file.deleted", "deleted": True})


# --- file batches --------------------------------------------------------------------------


def _batch(store: VectorStore, batch_id: str) -> FileBatch:
    batch = FileBatch.objects.filter(pk=batch_id, vector_store=store).first()
    if batch is None:
        raise not_found(f"No file batch found with id '{batch_id}'.")
    return batch


def batch_create(request: HttpRequest, store_id: str):
    store = _store(request, store_id)
    spec = read(request, specs.BatchCreate)
    ids = spec.file_ids
    if ids is None and spec.files is not None:
        ids = [f.file_id for f in spec.files]
    if not ids:
        raise invalid("Missing required parameter: 'file_ids'.", param="file_ids", code="missing_required_parameter")
    files = _files(request, ids, "file_ids")
    default = specs.chunking(spec.chunking_strategy)
    # Each of ``files`` may ask for its own strategy; the others use the batch's.
    own = {f.file_id: specs.chunking(f.chunking_strategy) for f in spec.files or [] if f.chunking_strategy is not None}
    services.add_batch(store, files, chunking=default, own=own)
    batch = FileBatch.objects.create(vector_store=store, file_ids=[f.id for f in files])
    return ok(batch_dict(batch))


def batch_retrieve(request: HttpRequest, store_id: str, batch_id: str):
    return ok(batch_dict(_batch(_store(request, store_id), batch_id)))


def batch_cancel(request: HttpRequest, store_id: str, batch_id: str):
    store = _store(request, store_id)
    batch = _batch(store, batch_id)
    status = batch_dict(batch)["status"]
    if status != "in_progress":  # as the hosted API: only a batch still ingesting can be cancelled
        raise invalid(f"Cannot cancel a file batch with status '{status}'.")
    batch.cancelled_at = timezone.now()
    batch.save(update_fields=["cancelled_at"])
    return ok(batch_dict(batch))


def batch_files(request: HttpRequest, store_id: str, batch_id: str):
    store = _store(request, store_id)
    batch = _batch(store, batch_id)
    return _entries(request, VectorStoreFile.objects.filter(vector_store=store, file_id__in=batch.file_ids))
