"""An assistant's or thread's ``tool_resources`` as stored, from its checked spec.

On create, ``file_search.vector_stores`` describes a new vector store (the hosted API's
shorthand): it is created here, its files are added (ingested in the background), and its
id joins ``vector_store_ids``.
"""

from __future__ import annotations

from chat.api import specs
from chat.models import File
from chat.services.files import create_vector_store


def save(owner, spec: specs.ToolResources | None, current: dict | None = None) -> dict:
    """The resources to store. On update (``current``), each tool named in the body has its
    resources replaced and the others are kept; ``null`` clears them all (docs/api.md).
    Call inside the transaction that saves the assistant or thread."""
    if spec is None:
        return {}
    out = {name: value for name, value in (current or {}).items() if name not in spec.model_fields_set}
    if spec.code_interpreter is not None:
        out["code_interpreter"] = {"file_ids": list(spec.code_interpreter.file_ids or [])}
    search = spec.file_search
    if search is not None:
        ids = list(search.vector_store_ids or [])
        for inline in getattr(search, "vector_stores", None) or []:
            files = list(File.objects.filter(pk__in=inline.file_ids or [], owner=owner))
            store = create_vector_store(owner, metadata=inline.metadata, files=files, chunking=specs.chunking(inline.chunking_strategy))
            ids.append(store.id)
        out["file_search"] = {"vector_store_ids": ids}
    return out
