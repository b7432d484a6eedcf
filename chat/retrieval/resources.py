"""How Assistants v2 names the vector stores an assistant or a thread searches:
``tool_resources.file_search.vector_store_ids``."""

from __future__ import annotations

FILE_SEARCH = "file_search"


def store_ids(owner_object) -> list[str]:
    resources = owner_object.tool_resources or {}
    return list((resources.get(FILE_SEARCH) or {}).get("vector_store_ids") or [])
