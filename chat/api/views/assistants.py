"""/v1/assistants"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest

from chat.access import get_assistant_for_user
from chat.api import params, serializers
from chat.api.errors import not_found
from chat.api.http import json_body, ok
from chat.api.pagination import page
from chat.models import Assistant

FIELDS = {"model", "name", "description", "instructions", "tools", "tool_resources", "metadata", "temperature", "top_p", "response_format", "reasoning_effort"}


def _apply(assistant: Assistant, data: dict, user) -> list[str]:
    changed = []
    if "model" in data:
        assistant.model = params.model(data["model"])
        changed.append("model")
    for name, limit in (("name", 256), ("description", 512), ("instructions", 256_000)):
        if name in data:
            setattr(assistant, name, params.string(data[name], name, max_length=limit) or "")
            changed.append(name)
    if "tools" in data:
        assistant.tools = params.tools(data["tools"]) or []
        changed.append("tools")
    if "tool_resources" in data:
        assistant.tool_resources = params.tool_resources(user, data["tool_resources"]) or {}
        changed.append("tool_resources")
    if "metadata" in data:
        assistant.metadata = params.metadata(data["metadata"])
        changed.append("metadata")
    if "temperature" in data:
        assistant.temperature = params.number(data["temperature"], "temperature", 0, 2)
        changed.append("temperature")
    if "top_p" in data:
        assistant.top_p = params.number(data["top_p"], "top_p", 0, 1)
        changed.append("top_p")
    if "response_format" in data:
        fmt = params.response_format(data["response_format"])
        assistant.response_format = None if fmt == "auto" else fmt
        changed.append("response_format")
    return changed


def create(request: HttpRequest):
    data = json_body(request, allowed=FIELDS, required=("model",))
    assistant = Assistant(owner=request.user)
    _apply(assistant, data, request.user)
    assistant.save()
    return ok(serializers.assistant(assistant))


def list_(request: HttpRequest):
    return ok(page(request, Assistant.objects.filter(owner=request.user), serializers.assistant))


def retrieve(request: HttpRequest, assistant_id: str):
    return ok(serializers.assistant(_get(request, assistant_id)))


def update(request: HttpRequest, assistant_id: str):
    assistant = _get(request, assistant_id)
    data = json_body(request, allowed=FIELDS)
    changed = _apply(assistant, data, request.user)
    if changed:
        assistant.save(update_fields=changed)
    return ok(serializers.assistant(assistant))


def delete(request: HttpRequest, assistant_id: str):
    assistant = _get(request, assistant_id)
    with transaction.atomic():
        assistant.delete()
    return ok(serializers.deleted(assistant_id, "assistant"))


def _get(request: HttpRequest, assistant_id: str) -> Assistant:
    try:
        return get_assistant_for_user(request.user, assistant_id)
    except Http404:
        raise not_found(f"No assistant found with id '{assistant_id}'.") from None
