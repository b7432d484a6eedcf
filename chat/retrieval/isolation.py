"""Extraction in a child process, with its own memory and time limits.

Parsing a file is pure-Python work for seconds at a time; in a thread of the web process
it holds the GIL against the event loop and every request waits its turn (a hostile DOCX
made requests seven times slower). A child process competes only for a CPU, and a file
that slips past the parsers' own caps meets the kernel's: the child's address space is
capped (``RETRIEVAL_EXTRACT_MEMORY_MB``) and it is killed after
``RETRIEVAL_EXTRACT_TIMEOUT``.

The child is a fresh interpreter (``python -m chat.retrieval.isolation``), not a fork of
a web process full of threads and sockets: the bytes go in on stdin, the limits in its
argument, the pages come back as JSON on stdout. It configures Django with those limits
only: it never loads the project's settings, and its environment holds none of the
server's keys.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from django.conf import settings

from chat.retrieval.extract import ExtractError, Page, extract

# The settings extract.py reads, handed to the child.
LIMITS = ("RETRIEVAL_MAX_TEXT_CHARS", "RETRIEVAL_MAX_ELEMENTS", "RETRIEVAL_MAX_PDF_PAGES", "RETRIEVAL_MAX_UNPACKED_BYTES")
OUT_OF_MEMORY = (
    "The file could not be read within the server's memory limit "
    "(it may be built to exhaust the server); it was not processed."
)


def extract_isolated(filename: str, data: bytes) -> tuple[str, list[Page]]:
    """``extract`` run in a child process: (kind, pages), or ExtractError."""
    job = {
        "filename": filename,
        "memory_mb": settings.RETRIEVAL_EXTRACT_MEMORY_MB,
        "settings": {name: getattr(settings, name) for name in LIMITS},
    }
    timeout = settings.RETRIEVAL_EXTRACT_TIMEOUT
    child = subprocess.Popen(
        [sys.executable, "-m", "chat.retrieval.isolation", json.dumps(job)],
        cwd=settings.BASE_DIR,
        env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},  # none of the server's secrets
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = child.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise ExtractError(f"Reading the file took longer than the limit of {timeout:g} s; it was not processed.") from None
    if child.returncode != 0:
        if b"MemoryError" in err or child.returncode < 0:  # the address-space cap, or killed by the kernel
            raise ExtractError(OUT_OF_MEMORY)
        raise RuntimeError(f"extraction of {filename!r} failed in the child: {err.decode(errors='replace')[-2000:]}")
    result = json.loads(out)
    if "refused" in result:
        raise ExtractError(result["refused"])
    kind, pages = result["ok"]
    return kind, [(number, text) for number, text in pages]


def main() -> None:
    job = json.loads(sys.argv[1])
    limit = job["memory_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    settings.configure(**job["settings"])
    data = sys.stdin.buffer.read()
    try:
        result = {"ok": extract(job["filename"], data)}
    except ExtractError as exc:
        result = {"refused": str(exc)}
    except MemoryError:
        result = {"refused": OUT_OF_MEMORY}
    del data
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()
