"""Assistants: saving one (new or changed), its functions, and deleting it."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from chat.engine.runs import cancel_run
from chat.models import Assistant, Run
from chat.states import ACTIVE


def save_assistant(assistant: Assistant, fields: Iterable[str] | None = None) -> Assistant:
    """Save a new assistant, or the named ``fields`` of an existing one (all when None).
    Every surface writes an assistant here: the browser's form, the Functions page and
    /v1 each parse and check their input, then call this."""
    fields = None if fields is None else sorted(set(fields))
    with transaction.atomic():
        if assistant._state.adding or fields is None:
            assistant.save()
        elif fields:
            assistant.save(update_fields=fields)
    return assistant


def functions_of(assistant: Assistant) -> list[dict]:
    return [t["function"] for t in assistant.tools if t.get("type") == "function" and "function" in t]


def set_functions(assistant: Assistant, functions: list[dict]) -> Assistant:
    """Replace the assistant's function tools with ``functions`` (definitions checked by
    ``clean_definition``); its other tools are kept, in front."""
    others = [t for t in assistant.tools if t.get("type") != "function"]
    assistant.tools = others + [{"type": "function", "function": fn} for fn in functions]
    return save_assistant(assistant, ["tools"])


def delete_assistant(assistant: Assistant) -> None:
    """Delete an assistant. Its runs still going are cancelled first (a run must not
    carry on, or wait for tool outputs, for an assistant that no longer exists); its
    conversations are kept, read-only in the browser."""
    for run in Run.objects.filter(assistant=assistant, status__in=ACTIVE):
        cancel_run(run)
    with transaction.atomic():
        assistant.delete()
