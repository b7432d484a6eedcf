"""The file chip pushed to a thread page when an attached file's status changes."""

from __future__ import annotations

from django.template.loader import render_to_string

from chat.models import File


def render_file_chip(thread, file_id: str) -> str:
    file = File.objects.filter(pk=file_id, owner_id=thread.owner_id).first()
    if file is None:
        return ""
    return render_to_string("retrieval/file_chip.html", {"file": file, "oob": True})
