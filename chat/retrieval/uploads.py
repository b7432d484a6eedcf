"""Checking and saving uploaded files for file_search (the composer and the assistant's
Files page); ``chat.services.messages.post_message`` attaches a message's uploads."""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings

from chat.files import FileTooLarge, store_file
from chat.models import File
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

