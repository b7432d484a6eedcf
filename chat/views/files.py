from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest

from chat.access import get_file_for_reader
from chat.downloads import file_response
from chat.views.methods import require_GET


@require_GET
@login_required
def file_content(request: HttpRequest, file_id: str) -> FileResponse:
    file = get_file_for_reader(request.user, file_id)
    try:
        return file_response(file, inline=request.GET.get("inline") == "1")
    except (FileNotFoundError, ValueError):
        raise Http404("The file's content is missing.") from None
