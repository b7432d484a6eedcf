"""Extraction in a child process, with its own memory and time limits.

Parsing a file is pure-Python work for seconds at a time; in a thread of the web process
it holds the GIL against the event loop and every request waits its turn (a hostile DOCX
made pages ten times slower). A child process competes only for a CPU, and a file that
slips past the parsers' own caps meets the kernel's: the child's address space is capped
(``RETRIEVAL_EXTRACT_MEMORY_MB``) and it is killed after ``RETRIEVAL_EXTRACT_TIMEOUT``.

Children fork from a forkserver that has already imported the parsers, so each file
costs a fork, not an interpreter start.
"""

from __future__ import annotations

import multiprocessing
import resource

from django.conf import settings

from chat.retrieval.extract import ExtractError, Page, extract

# The settings extract.py reads, handed to the child (which has no Django project).
LIMITS = (
    "RETRIEVAL_MAX_TEXT_CHARS",
    "RETRIEVAL_MAX_ELEMENTS",
    "RETRIEVAL_MAX_PDF_PAGES",
    "RETRIEVAL_MAX_UNPACKED_BYTES",
)
OUT_OF_MEMORY = (
    "The file could not be read within the server's memory limit "
    "(it may be built to exhaust the server); it was not processed."
)
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["chat.retrieval.extract"])


def extract_isolated(filename: str, data: bytes) -> tuple[str, list[Page]]:
    """``extract`` run in a child process: (kind, pages), or ExtractError."""
    receive, send = _context.Pipe(duplex=False)
    child = _context.Process(
        target=_extract_in_child,
        args=(send, filename, data, {name: getattr(settings, name) for name in LIMITS}, settings.RETRIEVAL_EXTRACT_MEMORY_MB),
        name="retrieval-extract",
        daemon=True,
    )
    child.start()
    send.close()
    timeout = settings.RETRIEVAL_EXTRACT_TIMEOUT
    try:
        if not receive.poll(timeout):
            raise ExtractError(f"Reading the file took longer than the limit of {timeout:g} s; it was not processed.")
        outcome, value = receive.recv()
    except EOFError:  # the child died: the kernel's memory cap, or a crash in a parser
        raise ExtractError(OUT_OF_MEMORY) from None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join()
    if outcome == "refused":
        raise ExtractError(value)
    if outcome == "failed":
        raise RuntimeError(f"extraction of {filename!r} failed in the child: {value}")
    return value


def _extract_in_child(send, filename: str, data: bytes, limits: dict, memory_mb: int) -> None:
    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if not settings.configured:
        settings.configure(**limits)
    try:
        send.send(("ok", extract(filename, data)))
    except ExtractError as exc:
        send.send(("refused", str(exc)))
    except MemoryError:
        send.send(("refused", OUT_OF_MEMORY))
    except Exception as exc:  # a bug: the parent logs it
        send.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()
