"""Uploading files and putting them in vector stores, whatever the surface: the browser's
composer and assistant Files page, /v1's files, vector stores, file batches and message
attachments. Each limit is checked here once:

- a file over ``FILE_MAX_BYTES`` is refused (413, ``file_too_large``);
- a file whose type cannot be searched is refused when it would enter a vector store (the
  hosted API's "Files with extensions [...] are not supported for retrieval"); a file for
  code_interpreter or vision may be of any type (``tools_for_file``: which tools a
  composer's upload or a /v1 attachment is for);
- a message carries at most ``MAX_FILES_PER_MESSAGE`` attachments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePath

from django.conf import settings
from django.db import transaction

from chat.files import FileTooLarge, store_file
from chat.models import Assistant, File, Thread
from chat.retrieval import search, stores
from chat.retrieval.extract import ACCEPTED
from chat.retrieval.models import VectorStore, VectorStoreFile
from chat.services import Refused

MAX_FILES_PER_MESSAGE = 10  # the hosted API's limit on a message's attachments


# Browsers (the HTML form-data encoding) and httpx (the openai SDK) write these three
# characters of a multipart file name as %22, %0D and %0A; any other "%" is the name's own.
_FORM_ESCAPES = {"%22": '"', "%0D": "\r", "%0A": "\n"}
_FORM_ESCAPE = re.compile("|".join(_FORM_ESCAPES))


def uploaded_name(name: str) -> str:
    """An uploaded file's name as the user wrote it: the multipart form escapes undone."""
    return _FORM_ESCAPE.sub(lambda m: _FORM_ESCAPES[m[0]], name)


def too_many(count: int, *, param: str = "attachments") -> Refused | None:
    if count > MAX_FILES_PER_MESSAGE:
        return Refused(f"Attach at most {MAX_FILES_PER_MESSAGE} files at a time.", param=param, code="array_above_max_length")
    return None


def too_large(name: str, size: int, *, param: str = "file") -> Refused | None:
    if size > settings.FILE_MAX_BYTES:
        return Refused(f"{name}: {FileTooLarge(size)}", param=param, code="file_too_large", status=413)
    return None


CODE_INTERPRETER = "code_interpreter"
TOOL_NAMES = {stores.FILE_SEARCH: "File Search", CODE_INTERPRETER: "Code Interpreter"}


def searchable(name: str) -> bool:
    return PurePath(name.lower()).suffix in ACCEPTED


def not_searchable(name: str, *, param: str = "file_ids") -> Refused | None:
    if searchable(name):
        return None
    ext = PurePath(name.lower()).suffix
    return Refused(
        f"{name}: files of type “{ext or 'no extension'}” cannot be searched "
        "(accepted: PDF, DOCX, HTML, Markdown, text, CSV/JSON, source code).",
        param=param,
        code="unsupported_file",
    )


def tools_for_file(name: str, enabled: Iterable[str]) -> list[str]:
    """The one rule of which tools a file is for: of the ``enabled`` tools, file_search
    takes a type it can read, code_interpreter any file (size is checked apart)."""
    enabled = set(enabled)
    usable = [stores.FILE_SEARCH] if stores.FILE_SEARCH in enabled and searchable(name) else []
    return usable + ([CODE_INTERPRETER] if CODE_INTERPRETER in enabled else [])


def unusable(name: str, enabled: Iterable[str], *, param: str = "files") -> Refused | None:
    """Why no ``enabled`` tool can use the file, naming the tools that could; None if one can."""
    enabled = set(enabled)
    if tools_for_file(name, enabled):
        return None
    refused = not_searchable(name, param=param)
    if refused is None:  # searchable, but File Search is off
        return Refused(f"{name}: File Search or Code Interpreter could use it, but both are off here.", param=param, code="unsupported_file")
    if CODE_INTERPRETER not in enabled:
        return Refused(
            f"{refused} Code Interpreter could use it (it takes any file), but it is off for this assistant.",
            param=param,
            code="unsupported_file",
        )
    return refused


def upload_problems(uploads, *, tools: Iterable[str] = (stores.FILE_SEARCH,)) -> list[Refused]:
    """Every problem with a set of uploads known before saving anything (count, size, and
    whether one of the ``tools`` can use each file), so the browser can list them all; the
    other surfaces raise the first."""
    problems = [too_many(len(uploads), param="files")]
    for upload in uploads:
        name = uploaded_name(upload.name)
        problems.append(too_large(name, upload.size) or unusable(name, tools))
    return [p for p in problems if p is not None]


def upload_file(owner, name: str, content, *, purpose: str = "assistants") -> File:
    """Save one upload (bytes or an UploadedFile) as ``owner``'s File."""
    name = uploaded_name(name)
    size = len(content) if isinstance(content, bytes) else content.size
    if refused := too_large(name, size):
        raise refused
    return store_file(owner, name, content, purpose=purpose)


def save_uploads(owner, uploads, *, tools: Iterable[str] = (stores.FILE_SEARCH,)) -> list[File]:
    """Save a set of uploads, or none of them if any is refused."""
    if problems := upload_problems(uploads, tools=tools):
        raise problems[0]
    return [store_file(owner, uploaded_name(upload.name), upload) for upload in uploads]


def add_to_store(
    store: VectorStore, files: list[File], *, chunking: tuple[int, int] | None = None, thread_id: str | None = None, param: str = "file_ids"
) -> list[VectorStoreFile]:
    """Add the owner's files to a store (ingested in the background); a type that cannot
    be searched is refused before any is added."""
    for file in files:
        if refused := not_searchable(file.filename, param=param):
            raise refused
    return stores.add_files(store, files, chunking=chunking, thread_id=thread_id)


def add_batch(store: VectorStore, files: list[File], *, chunking=None, own: dict | None = None) -> None:
    """A file batch: every file in, or none (a type that cannot be searched refuses the
    batch). Each file is split with its own chunking in ``own`` (file id -> chunking),
    or the batch's ``chunking``."""
    own = own or {}
    for file in files:
        if refused := not_searchable(file.filename):
            raise refused
    with transaction.atomic():
        for strategy in dict.fromkeys([chunking, *own.values()]):
            group = [f for f in files if own.get(f.id, chunking) == strategy]
            if group:
                add_to_store(store, group, chunking=strategy)


def add_assistant_files(assistant: Assistant, uploads) -> list[VectorStoreFile]:
    """The Files page: save the uploads into the assistant's own store and turn file_search on."""
    if not uploads:
        raise Refused("Choose at least one file.", param="files")
    with transaction.atomic():
        entries = add_to_store(stores.assistant_store(assistant), save_uploads(assistant.owner, uploads))
        stores.enable_file_search(assistant)
    return entries


def remove_assistant_file(assistant: Assistant, file: File) -> None:
    VectorStoreFile.objects.filter(vector_store_id__in=stores.store_ids(assistant), file=file).delete()


def attach_to_thread(thread: Thread, files: list[File]) -> None:
    """file_search attachments: the files go into the thread's own store."""
    add_to_store(stores.thread_store(thread), files, thread_id=thread.id, param="attachments")


# --- vector stores (/v1; the browser's stores are the assistant's and thread's own) ---------


def create_vector_store(owner, *, name: str = "", metadata: dict | None = None, files: list[File] = (), chunking=None) -> VectorStore:
    with transaction.atomic():
        store = VectorStore.objects.create(owner=owner, name=name or "", metadata=metadata or {})
        if files:
            add_to_store(store, list(files), chunking=chunking)
    return store


def update_vector_store(store: VectorStore, **changes) -> list[str]:
    """Change a store's ``name`` and/or ``metadata``; returns the fields changed."""
    changed = sorted(set(changes) & {"name", "metadata"})
    if "name" in changed:
        store.name = changes["name"] or ""
    if "metadata" in changed:
        store.metadata = changes["metadata"] or {}
    if changed:
        store.save(update_fields=changed)
    return changed


def delete_vector_store(store: VectorStore) -> None:
    """Delete a store and take it out of every assistant's and thread's tool_resources."""
    stores.delete_store(store)


def remove_store_file(entry: VectorStoreFile) -> None:
    entry.delete()


def search_vector_store(
    store: VectorStore, query: str, *, limit: int = 10, threshold: float = 0.0
) -> list[tuple[File, search.Hit]]:
    """The store's best passages for ``query``, best first, each with its file: the search
    a run's file_search makes (chat.retrieval.search), over this store's files only."""
    files = stores.files_of([([store.id], store.owner_id)])
    by_document = {document_id: file for file, document_id in files}
    if not query.strip() or not by_document:
        return []
    hits = search.search(query, list(by_document), limit, threshold=threshold)
    return [(by_document[hit.chunk.document_id], hit) for hit in hits]
