"""Saving uploaded files for file_search (the composer and the assistant's Files page)."""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings
from django.db import transaction

from chat.engine import dispatch
from chat.files import FileTooLarge, store_file
from chat.models import File
from chat.retrieval import stores
from chat.retrieval.extract import ACCEPTED

MAX_FILES_PER_MESSAGE = 10


def check_uploads(uploads) -> list[str]:
    """Per-file problems known before saving anything (size, type, count)."""
    errors = []
    if len(uploads) > MAX_FILES_PER_MESSAGE:
        errors.append(f"Attach at most {MAX_FILES_PER_MESSAGE} files at a time.")
    for upload in uploads:
        ext = PurePath(upload.name.lower()).suffix
        if upload.size > settings.FILE_MAX_BYTES:
            errors.append(f"{upload.name}: {FileTooLarge(upload.size)}")
        elif ext not in ACCEPTED:
            errors.append(
                f"{upload.name}: files of type “{ext or 'no extension'}” cannot be searched "
                "(accepted: PDF, DOCX, HTML, Markdown, text, CSV/JSON, source code)."
            )
    return errors


def save_uploads(owner, uploads) -> list[File]:
    return [store_file(owner, upload.name, upload) for upload in uploads]


def start_run(message, run, uploads) -> None:
    """Attach a message's uploads and start its run.

    The run was created with ``start=False``; it is dispatched after commit, and while
    its files are being read it waits (``waiting``), so the first answer can already
    search them. A thread with files gets file_search on its runs even when the
    assistant itself has none (the files were attached to be searched).
    """
    files = save_uploads(message.thread.owner, uploads)
    if files:
        message.attachments = [
            *message.attachments, *({"file_id": f.id, "tools": [{"type": stores.FILE_SEARCH}]} for f in files)
        ]
        message.save(update_fields=["attachments"])
        stores.add_files(stores.thread_store(message.thread), files, thread_id=message.thread_id)
    if stores.store_ids(message.thread) and stores.FILE_SEARCH not in {t.get("type") for t in run.tools}:
        run.tools = [*run.tools, {"type": stores.FILE_SEARCH}]
        run.save(update_fields=["tools"])
    transaction.on_commit(lambda: dispatch.dispatch(run.id))
