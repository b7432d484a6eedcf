from __future__ import annotations

import html
import re

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.safestring import mark_safe

from chat.access import get_assistant_for_user, get_file_for_reader, get_file_for_user
from chat.retrieval import stores
from chat.retrieval.extract import ExtractError, extract
from chat.retrieval.models import VectorStoreFile
from chat.services import Refused
from chat.services.files import add_assistant_files, remove_assistant_file, upload_problems
from chat.views.methods import require_GET, require_http_methods, require_POST


@require_http_methods(["GET", "POST"])
@login_required
def assistant_files(request: HttpRequest, assistant_id: str) -> HttpResponse:
    assistant = get_assistant_for_user(request.user, assistant_id)
    errors: list[str] = []
    if request.method == "POST":
        uploads = request.FILES.getlist("files")
        errors = [str(problem) for problem in upload_problems(uploads)]
        if not errors:
            try:
                add_assistant_files(assistant, uploads)
            except Refused as refused:
                errors = [str(refused)]
            else:
                return redirect("retrieval:assistant_files", assistant_id=assistant.id)
    entries = VectorStoreFile.objects.filter(
        vector_store_id__in=stores.store_ids(assistant), vector_store__owner=request.user
    ).select_related("file")
    processing = any(e.status == VectorStoreFile.IN_PROGRESS for e in entries)
    context = {"assistant": assistant, "entries": entries, "errors": errors, "processing": processing}
    return render(request, "retrieval/assistant_files.html", context, status=400 if errors else 200)


@require_POST
@login_required
def assistant_file_remove(request: HttpRequest, assistant_id: str, file_id: str) -> HttpResponse:
    assistant = get_assistant_for_user(request.user, assistant_id)
    file = get_file_for_user(request.user, file_id)
    remove_assistant_file(assistant, file)
    return redirect("retrieval:assistant_files", assistant_id=assistant.id)


@require_GET
@login_required
def passage(request: HttpRequest, file_id: str) -> HttpResponse:
    """A text document with the quoted passage highlighted (PDFs open in the browser's viewer)."""
    file = get_file_for_reader(request.user, file_id)
    quote = request.GET.get("q", "").strip()
    with file.data.open("rb") as handle:
        data = handle.read()
    try:
        _kind, pages = extract(file.filename, data)
        text = "\n\n".join(t for _, t in pages)
        error = ""
    except ExtractError as exc:
        text, error = "", str(exc)
    body = escape(text)
    if quote:
        needle = re.escape(escape(quote)).replace(r"\ ", r"\s+")
        body, _found = re.subn(needle, lambda m: f'<mark id="quote" tabindex="-1">{m.group(0)}</mark>', body, count=1)
    context = {"file": file, "body": mark_safe(body), "error": error, "quote": html.unescape(quote)}
    return render(request, "retrieval/passage.html", context)
