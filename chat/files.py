"""Storing files: uploads from users and files that tools generate."""

from __future__ import annotations

import hashlib
import mimetypes

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q, QuerySet

from chat.models import File


class FileTooLarge(Exception):
    def __init__(self, size: int) -> None:
        limit = settings.FILE_MAX_BYTES
        super().__init__(f"The file is {size:,} bytes; the limit is {limit:,} bytes ({limit // 2**20} MB).")


def clean_filename(name: str) -> str:
    """The base name only, without control characters or path parts, at most 255 characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "file"
    return name[-255:]


def code_interpreter_files(*holders) -> QuerySet[File]:
    """The files a run's code interpreter gets in /mnt/data: those its assistant and its
    thread list under ``tool_resources.code_interpreter``, each holder's owner's own only
    (a tutor's, for a published assistant, and the thread owner's), oldest first so the
    last is the newest one attached."""
    allowed = Q(pk__in=[])
    for holder in holders:
        if holder is None:
            continue
        mine = ((holder.tool_resources or {}).get("code_interpreter") or {}).get("file_ids", [])
        allowed |= Q(pk__in=mine, owner_id=holder.owner_id)
    return File.objects.filter(allowed).order_by("created_at", "id")


def attached_files(messages) -> dict[str, list[File]]:
    """The files attached to each message (id -> files, in attachment order), the thread
    owner's only, for any number of messages in one query."""
    wanted = {
        m.id: [a.get("file_id") for a in m.attachments or [] if isinstance(a, dict)] for m in messages
    }
    owners = {m.thread.owner_id for m in messages if wanted[m.id]}
    ids = {i for file_ids in wanted.values() for i in file_ids if isinstance(i, str)}
    if not ids:
        return {}
    found = {(f.owner_id, f.id): f for f in File.objects.filter(pk__in=ids, owner_id__in=owners)}
    # What each file is for (its chip says so): the tools its attachment names.
    for m in messages:
        for a in m.attachments or []:
            if isinstance(a, dict) and (m.thread.owner_id, a.get("file_id")) in found:
                file = found[(m.thread.owner_id, a.get("file_id"))]
                file.used_for = [t.get("type") for t in a.get("tools") or [] if isinstance(t, dict)]
    return {
        m.id: [found[key] for key in ((m.thread.owner_id, i) for i in wanted[m.id]) if key in found]
        for m in messages
        if wanted[m.id]
    }


def store_file(owner, name: str, content: bytes | object, *, purpose: str = "assistants") -> File:
    """Save bytes (or an UploadedFile) as a File owned by ``owner``. Raises FileTooLarge."""
    size = len(content) if isinstance(content, bytes) else content.size
    if size > settings.FILE_MAX_BYTES:
        raise FileTooLarge(size)
    digest = hashlib.sha256()
    if isinstance(content, bytes):
        digest.update(content)
        payload = ContentFile(content)
    else:
        for chunk in content.chunks():
            digest.update(chunk)
        content.seek(0)
        payload = content
    filename = clean_filename(name)
    record = File(
        owner=owner,
        filename=filename,
        purpose=purpose,
        bytes=size,
        sha256=digest.hexdigest(),
        content_type=mimetypes.guess_type(filename)[0] or "application/octet-stream",
    )
    with transaction.atomic():
        record.data.save(record.id, payload, save=False)
        record.save()
    return record
