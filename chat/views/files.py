from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest
from django.views.decorators.http import require_GET

from chat.access import get_file_for_reader

# Served inline only where a browser cannot be tricked into running them.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}


@require_GET
@login_required
def file_content(request: HttpRequest, file_id: str) -> FileResponse:
    file = get_file_for_reader(request.user, file_id)
    inline = request.GET.get("inline") == "1" and file.content_type in INLINE_TYPES
    response = FileResponse(
        file.data.open("rb"),
        as_attachment=not inline,
        filename=file.filename,
        content_type=file.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    return response
