"""Serving stored files: the one rule for every response that carries a user's bytes.

Uploaded and generated files are untrusted. An HTML, SVG, XHTML or XML file shown inline
on our origin would run its scripts with the viewer's session, so only a short list of
passive types is ever shown inline; everything else is an attachment of type
``application/octet-stream``. Every response also carries ``nosniff`` (the browser may not
guess a more dangerous type) and a sandboxing Content-Security-Policy (even if a browser
did render the bytes, they would run in an opaque origin with nothing allowed).
"""

from __future__ import annotations

from django.http import FileResponse

from chat.files import clean_filename
from chat.models import File

# Types a browser shows without running anything from the file.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"})

# Chromium's PDF viewer still shows an inline PDF under this policy (it runs in its own
# extension frame; tests/browser/test_csp_in_browser.py checks it), so PDFs get it too.
FILE_CSP = "sandbox; default-src 'none'"


def file_response(file: File, *, inline: bool = False) -> FileResponse:
    """The file's bytes, inline only if asked for and its type is passive. Raises
    FileNotFoundError when the stored bytes are missing."""
    inline = inline and file.content_type in INLINE_TYPES
    response = FileResponse(
        file.data.open("rb"),
        as_attachment=not inline,
        # The name is untrusted: no control characters (a newline would break the header);
        # Django quotes it, or encodes it as RFC 5987 filename*= when it is not ASCII.
        filename=clean_filename(file.filename),
        content_type=file.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    return response
