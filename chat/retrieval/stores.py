"""Vector stores as Assistants v2 wires them: an assistant's and a thread's
``tool_resources.file_search.vector_store_ids``, and message attachments that add
files to the thread's store."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from chat.models import Assistant, File, Thread
from chat.retrieval.ingest import chunking_key, schedule_ingest
from chat.retrieval.models import Document, VectorStore, VectorStoreFile
from chat.retrieval.resources import FILE_SEARCH, store_ids


def _own_store(obj, name: str) -> VectorStore:
    """The first store the assistant or thread points at, created on first use."""
    for store_id in store_ids(obj):
        store = VectorStore.objects.filter(pk=store_id, owner_id=obj.owner_id).first()
        if store is not None:
            return store
    store = VectorStore.objects.create(owner_id=obj.owner_id, name=name)
    resources = dict(obj.tool_resources or {})
    resources[FILE_SEARCH] = {"vector_store_ids": [store.id, *store_ids(obj)]}
    obj.tool_resources = resources
    obj.save(update_fields=["tool_resources"])
    return store


def assistant_store(assistant: Assistant) -> VectorStore:
    return _own_store(assistant, f"Files of {assistant.name}"[:256])


def thread_store(thread: Thread) -> VectorStore:
    return _own_store(thread, f"Files of thread {thread.id}")


def add_files(
    store: VectorStore, files: list[File], *, thread_id: str | None = None, chunking: tuple[int, int] | None = None
) -> list[VectorStoreFile]:
    """Add files to a store and ingest them in the background, split with ``chunking``
    (max tokens, overlap; default the server's). Files whose content was already indexed
    that way complete at once. Runs of threads that search this store wait until the
    ingest is over (see ``waiting``). A file already in the store keeps its chunking."""
    size, overlap = chunking or (None, None)
    entries = []
    with transaction.atomic():
        for file in files:
            if file.owner_id != store.owner_id:
                raise PermissionError("A store can only hold its owner's files.")
            entry, _ = VectorStoreFile.objects.get_or_create(
                vector_store=store, file=file, defaults={"chunk_tokens": size, "chunk_overlap": overlap}
            )
            entries.append(entry)
        schedule_ingest(entries, thread_id)
    return entries


def enable_file_search(assistant: Assistant) -> None:
    if FILE_SEARCH not in assistant.tool_types:
        assistant.tools = [*assistant.tools, {"type": FILE_SEARCH}]
        assistant.save(update_fields=["tools"])


def searchable_files(thread: Thread, assistant: Assistant | None) -> list[tuple[File, int]]:
    """(file, document id) for every processed file the run may search: the thread's
    stores with the thread owner's files, and the assistant's stores with the assistant
    owner's files (a tutor's, when a student talks to a published assistant)."""
    owned = [(store_ids(thread), thread.owner_id)]
    if assistant is not None:
        owned.append((store_ids(assistant), assistant.owner_id))
    return files_of(owned)


def files_of(owned: list[tuple[list[str], int]]) -> list[tuple[File, int]]:
    """(file, document id) for every processed file of the stores ``owned`` names, each
    list of store ids with the owner whose stores and files they must be."""
    allowed = Q()
    for ids, owner_id in owned:
        if ids:
            allowed |= Q(vector_store_id__in=ids, vector_store__owner_id=owner_id, file__owner_id=owner_id)
    if not allowed:
        return []
    entries = (
        VectorStoreFile.objects.filter(allowed, status=VectorStoreFile.COMPLETED)
        .select_related("file")
        .order_by("created_at")
    )
    files: dict[str, tuple[File, str]] = {}  # file id -> (file, chunking key of its first entry)
    for entry in entries:
        files.setdefault(entry.file_id, (entry.file, chunking_key(entry.chunking)))

    # A file's text is its owner's Document (never another user's copy of the same bytes),
    # split as the file's entry asked.
    documents = {
        (owner_id, sha256, chunking): document_id
        for owner_id, sha256, chunking, document_id in Document.objects.filter(
            owner_id__in={f.owner_id for f, _ in files.values()},
            sha256__in={f.sha256 for f, _ in files.values()},
            chunking__in={key for _, key in files.values()},
            status=Document.READY,
        ).values_list("owner_id", "sha256", "chunking", "id")
    }
    return [(f, documents[f.owner_id, f.sha256, key]) for f, key in files.values() if (f.owner_id, f.sha256, key) in documents]


def delete_store(store: VectorStore) -> None:
    """Delete a store and take it out of every assistant's and thread's
    ``tool_resources.file_search.vector_store_ids``, as the hosted API did."""
    with transaction.atomic():
        for model in (Assistant, Thread):
            for obj in model.objects.filter(owner_id=store.owner_id, tool_resources__has_key=FILE_SEARCH).select_for_update():
                ids = store_ids(obj)
                if store.id in ids:
                    resources = dict(obj.tool_resources)
                    resources[FILE_SEARCH] = {**resources[FILE_SEARCH], "vector_store_ids": [i for i in ids if i != store.id]}
                    obj.tool_resources = resources
                    obj.save(update_fields=["tool_resources"])
        store.delete()
