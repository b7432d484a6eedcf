"""Models → API objects, field for field as the SDK's types (openai/types/beta/…) expect."""

from __future__ import annotations

from datetime import datetime, timedelta

from chat.access import is_class_thread
from chat.engine import events, states
from chat.models import Assistant, File, Message, Run, RunStep, Thread

RUN_ERROR_CODES = {"server_error", "rate_limit_exceeded", "invalid_prompt"}
STEP_ERROR_CODES = {"server_error", "rate_limit_exceeded"}
FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
# What the hosted API reported for a sampling setting left unset (and what a model uses then).
DEFAULT_TEMPERATURE = DEFAULT_TOP_P = 1.0
# The hosted API's run lifetime, reported by queued and in-progress runs. Informational here:
# such a run is never expired by the clock (a dead worker's run is recovered instead).
RUN_LIFETIME = timedelta(minutes=10)


def ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def tool_resources(value: dict | None) -> dict:
    value = value or {}
    out = {}
    if "code_interpreter" in value:
        out["code_interpreter"] = {"file_ids": list((value["code_interpreter"] or {}).get("file_ids") or [])}
    if "file_search" in value:
        out["file_search"] = {"vector_store_ids": list((value["file_search"] or {}).get("vector_store_ids") or [])}
    return out


def assistant(a: Assistant) -> dict:
    return {
        "id": a.id,
        "object": "assistant",
        "created_at": ts(a.created_at),
        "name": a.name or None,
        "description": a.description or None,
        "model": a.model,
        "instructions": a.instructions or None,
        "tools": a.tools,
        "tool_resources": tool_resources(a.tool_resources),
        "metadata": a.metadata or {},
        "temperature": a.temperature if a.temperature is not None else DEFAULT_TEMPERATURE,
        "top_p": a.top_p if a.top_p is not None else DEFAULT_TOP_P,
        "response_format": a.response_format if a.response_format is not None else "auto",
    }


def thread(t: Thread) -> dict:
    return {
        "id": t.id,
        "object": "thread",
        "created_at": ts(t.created_at),
        "metadata": t.metadata or {},
        "tool_resources": tool_resources(t.tool_resources),
    }


def deleted(obj_id: str, kind: str) -> dict:
    return {"id": obj_id, "object": f"{kind}.deleted" if kind != "file" else "file", "deleted": True}


def message(m: Message, *, content: list | None = None) -> dict:
    return {
        "id": m.id,
        "object": "thread.message",
        "created_at": ts(m.created_at),
        "thread_id": m.thread_id,
        "status": m.status,
        "incomplete_details": m.incomplete_details,
        "completed_at": ts(m.completed_at),
        "incomplete_at": ts(m.incomplete_at),
        "role": m.role,
        "content": m.content if content is None else content,
        "assistant_id": m.assistant_id,
        "run_id": m.run_id,
        "attachments": m.attachments or [],
        "metadata": m.metadata or {},
    }


def message_text_so_far(m: Message) -> str:
    """A streaming message's text: the executing process's buffer is ahead of the row."""
    if m.status == Message.IN_PROGRESS:
        live = events.live_text(m.id)
        if live is not None and len(live) >= len(m.text):
            return live
    return m.text


def _last_error(error: dict | None, codes: set[str]) -> dict | None:
    if not error:
        return None
    code = error.get("code")
    return {"code": code if code in codes else "server_error", "message": str(error.get("message") or "")}


def _incomplete_run(details: dict | None) -> dict | None:
    if not details:
        return None
    reason = details.get("reason")
    return {"reason": reason if reason in ("max_completion_tokens", "max_prompt_tokens") else None}


def _run_expires_at(r: Run) -> datetime | None:
    """A waiting run's deadline for outputs; a queued or in-progress run's nominal lifetime;
    none once the run is over (as the hosted API reported)."""
    if r.status in (states.QUEUED, states.IN_PROGRESS, states.REQUIRES_ACTION):
        return r.expires_at or r.created_at + RUN_LIFETIME
    return None


def _tools_seen(r: Run, hidden: bool) -> list[dict]:
    """A class run's tools as its student may see them: the types, and a function's name
    only (the required_action names it anyway), never the tutor's definitions."""
    if not hidden:
        return r.tools
    return [
        {"type": "function", "function": {"name": t["function"]["name"]}} if t.get("type") == "function" else {"type": t.get("type")}
        for t in r.tools or []
    ]


def with_visibility(r: Run) -> Run:
    """Look up (off the event loop) whether the run's set-up is hidden, for ``run`` to use
    where it serializes in an async view."""
    # The run's thread as the request read it, when it did (its class link with it).
    r.set_up_hidden = is_class_thread(r.thread if Run.thread.is_cached(r) else r.thread_id)
    return r


def run(r: Run) -> dict:
    # A class's assistant: its instructions and function definitions stay the tutor's.
    hidden = r.set_up_hidden if hasattr(r, "set_up_hidden") else is_class_thread(r.thread_id)
    return {
        "id": r.id,
        "object": "thread.run",
        "created_at": ts(r.created_at),
        "thread_id": r.thread_id,
        "assistant_id": r.assistant_id or "",
        "status": r.status,
        "required_action": r.required_action,
        "last_error": _last_error(r.last_error, RUN_ERROR_CODES),
        "expires_at": ts(_run_expires_at(r)),
        "started_at": ts(r.started_at),
        "cancelled_at": ts(r.cancelled_at),
        "failed_at": ts(r.failed_at),
        "completed_at": ts(r.completed_at),
        "incomplete_details": _incomplete_run(r.incomplete_details),
        "model": r.model,
        "instructions": "" if hidden else "\n\n".join(filter(None, [r.instructions, r.additional_instructions])),
        "tools": _tools_seen(r, hidden),
        "metadata": r.metadata or {},
        "usage": r.usage,
        "temperature": r.temperature if r.temperature is not None else DEFAULT_TEMPERATURE,
        "top_p": r.top_p if r.top_p is not None else DEFAULT_TOP_P,
        "max_prompt_tokens": r.max_prompt_tokens,
        "max_completion_tokens": r.max_completion_tokens,
        "truncation_strategy": r.truncation_strategy or {"type": "auto", "last_messages": None},
        "response_format": r.response_format if r.response_format is not None else "auto",
        "tool_choice": r.tool_choice if r.tool_choice is not None else "auto",
        "parallel_tool_calls": r.parallel_tool_calls,
    }


def step_details(details: dict, *, include_content: bool = False) -> dict:
    if details.get("type") != "tool_calls":
        return details
    calls = []
    for call in details.get("tool_calls", []):
        if call.get("type") == "file_search" and not include_content:
            fs = dict(call.get("file_search") or {})
            if fs.get("results"):
                fs["results"] = [{k: v for k, v in r.items() if k != "content"} for r in fs["results"]]
            call = {**call, "file_search": fs}
        calls.append(call)
    return {"type": "tool_calls", "tool_calls": calls}


def step(s: RunStep, *, run: Run | None = None, include_content: bool = False, details: dict | None = None) -> dict:
    r = run or s.run
    return {
        "id": s.id,
        "object": "thread.run.step",
        "created_at": ts(s.created_at),
        "assistant_id": r.assistant_id or "",
        "thread_id": r.thread_id,
        "run_id": s.run_id,
        "type": s.type,
        "status": s.status,
        "step_details": details if details is not None else step_details(s.step_details, include_content=include_content),
        "last_error": _last_error(s.last_error, STEP_ERROR_CODES),
        "expired_at": ts(s.expired_at),
        "cancelled_at": ts(s.cancelled_at),
        "failed_at": ts(s.failed_at),
        "completed_at": ts(s.completed_at),
        "metadata": s.metadata or {},
        "usage": s.usage,
    }


def file(f: File) -> dict:
    out = {
        "id": f.id,
        "object": "file",
        "bytes": f.bytes,
        "created_at": ts(f.created_at),
        "filename": f.filename,
        "purpose": f.purpose,
        "status": f.status,
    }
    # Both optional, not nullable: left out when empty (files here do not expire).
    if f.status_details:
        out["status_details"] = f.status_details
    return out


def model(name: str, created: int) -> dict:
    return {"id": name, "object": "model", "created": created, "owned_by": "system" if name == "offline" else "openai-compatible"}
