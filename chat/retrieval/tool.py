"""The file_search server tool: a run step whose details list what was found.

The model reads the passages, each headed by a stable source marker
``【<call>:<result>†<file name>】`` (call = this call's position among the run's
file_search calls, result = the passage's position in it). Markers the answer
copies become ``file_citation`` annotations (see ``annotate``).
"""

from __future__ import annotations

import json
import math

from asgiref.sync import sync_to_async
from django.conf import settings

from chat import tools
from chat.models import RunStep
from chat.retrieval import search as search_module
from chat.retrieval.stores import FILE_SEARCH, searchable_files

SCHEMA = {
    "type": "function",
    "function": {
        "name": "file_search",
        "description": (
            "Search the files attached to this assistant and conversation (course material, papers, notes). "
            "Returns the most relevant passages, each with a source marker; quote the marker right after "
            "every sentence that uses that passage."
        ),
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "What to look for, in a few words."}},
            "required": ["query"],
        },
    },
}


def marker(call_index: int, result_index: int, file_name: str) -> str:
    return f"【{call_index}:{result_index}†{file_name.replace('】', ')')}】"


def options(run) -> tuple[int, float]:
    """(max_num_results, score_threshold) from the run's file_search tool entry."""
    for entry in run.tools or []:
        if entry.get("type") == FILE_SEARCH:
            # /v1 refuses bad options; rows saved before it did must not fail every run.
            config = _object(entry.get(FILE_SEARCH))
            limit = _number(config.get("max_num_results")) or settings.RETRIEVAL_MAX_RESULTS
            threshold = _number(_object(config.get("ranking_options")).get("score_threshold")) or 0.0
            return max(1, min(int(limit), 50)), max(0.0, min(float(threshold), 1.0))
    return settings.RETRIEVAL_MAX_RESULTS, 0.0


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


def _number(value) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None


def _query(call: tools.ToolCall) -> str:
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        return call.arguments.strip()
    if isinstance(value, dict):
        return str(value.get("query") or "").strip()
    return str(value).strip()


def _call_index(run, call_id: str) -> int:
    """How many file_search calls of this run come before this one."""
    index = 0
    for details in RunStep.objects.filter(run=run, type=RunStep.TOOL_CALLS).order_by("created_at").values_list(
        "step_details", flat=True
    ):
        for entry in details.get("tool_calls", []):
            if entry.get("id") == call_id:
                return index
            if entry.get("type") == FILE_SEARCH:
                index += 1
    return index


def search_for_run(run, call: tools.ToolCall) -> dict:
    """The step's tool-call entry for one file_search call."""
    query = _query(call)
    limit, threshold = options(run)
    files = searchable_files(run.thread, run.assistant)
    by_document = {document_id: file for file, document_id in files}
    hits = search_module.search(query, list(by_document), limit, threshold=threshold) if query else []
    return entry_for(call.id, query, hits, by_document, _call_index(run, call.id), threshold, files_searched=len(files))


def entry_for(
    call_id: str, query: str, hits: list, by_document: dict, marker_index: int = 0, threshold: float = 0.0,
    *, files_searched: int | None = None,
) -> dict:
    """The step's tool-call entry for search hits, ``by_document`` mapping each searched
    document id to its file."""
    results = [
        {
            "file_id": by_document[hit.chunk.document_id].id,
            "file_name": by_document[hit.chunk.document_id].filename,
            "score": hit.score,
            "page": hit.chunk.page_start,
            "page_end": hit.chunk.page_end,
            "page_marks": hit.chunk.page_marks,
            # The section the passage begins inside: its heading may stand in the chunk before.
            "section": hit.chunk.section or "",
            "content": [{"type": "text", "text": hit.chunk.text}],
        }
        for hit in hits
    ]
    return {
        "id": call_id,
        "type": FILE_SEARCH,
        FILE_SEARCH: {
            "query": query,
            "marker_index": marker_index,
            "files_searched": len(by_document) if files_searched is None else files_searched,
            "ranking_options": {"ranker": "auto", "score_threshold": threshold},
            "results": results,
        },
    }


def model_output(entry: dict) -> str:
    """What the model reads: the passages with their markers."""
    details = entry.get(FILE_SEARCH) or {}
    results = details.get("results") or []
    query = details.get("query", "")
    if not details.get("files_searched"):
        return f'No files to search for "{query}": none are attached to this assistant or conversation (or none has finished processing).'
    if not results:
        return f'Nothing relevant was found in the files for "{query}".'
    n = details.get("marker_index", 0)
    parts = [
        f'Passages found for "{query}". Quote the marker (e.g. {marker(n, 0, results[0]["file_name"])}) '
        "right after each sentence that uses a passage."
    ]
    for i, result in enumerate(results):
        pages = f"page {result.get('page', 1)}" + (
            f"–{result['page_end']}" if result.get("page_end", result.get("page")) != result.get("page") else ""
        )
        text = "".join(c.get("text", "") for c in result.get("content", []))
        section = f", section “{result['section']}”" if result.get("section") else ""
        parts.append(f"{marker(n, i, result['file_name'])} ({result['file_name']}, {pages}{section})\n{text}")
    return "\n\n".join(parts)


async def run(run_obj, call: tools.ToolCall) -> tools.ToolResult:
    entry = await sync_to_async(search_for_run)(run_obj, call)
    return tools.ToolResult(output=model_output(entry), details=entry)


def replay(entry: dict) -> tuple[str, str]:
    query = (entry.get(FILE_SEARCH) or {}).get("query", "")
    return json.dumps({"query": query}, ensure_ascii=False), model_output(entry)


def pending(call: tools.ToolCall) -> dict:
    return {"id": call.id, "type": FILE_SEARCH, FILE_SEARCH: {"query": _query(call), "results": [], "pending": True}}


FILE_SEARCH_TOOL = tools.register(
    tools.ServerTool(type=FILE_SEARCH, schema=SCHEMA, run=run, replay=replay, pending=pending)
)
