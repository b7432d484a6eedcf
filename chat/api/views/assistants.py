"""/v1/assistants"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest

from chat.access import get_assistant_for_user
from chat.api import serializers, specs, tool_resources
from chat.api.errors import not_found
from chat.api.http import ok, read
from chat.api.pagination import page
from chat.models import Assistant
from chat.services.assistants import delete_assistant, save_assistant

TEXTS = ("name", "description", "instructions")


def _apply(assistant: Assistant, spec: specs.AssistantUpdate, user) -> list[str]:
    """Set the fields the body names; null clears a field (the model cannot be cleared)."""
    given = spec.model_fields_set - {"reasoning_effort"}  # accepted as the hosted API did; unused here
    if spec.model is None:
        given.discard("model")
    for name in given & {"model", "temperature", "top_p"}:
        setattr(assistant, name, getattr(spec, name))
    for name in given & set(TEXTS):
        setattr(assistant, name, getattr(spec, name) or "")
    if "tools" in given:
        assistant.tools = specs.dump_tools(spec.tools) or []
    if "tool_resources" in given:
        assistant.tool_resources = tool_resources.save(user, spec.tool_resources, assistant.tool_resources)
    if "metadata" in given:
        assistant.metadata = spec.metadata or {}
    if "response_format" in given:
        assistant.response_format = specs.dump_response_format(spec.response_format)
    return sorted(given)


def create(request: HttpRequest):
    spec = read(request, specs.AssistantCreate)
    assistant = Assistant(owner=request.user)
    with transaction.atomic():  # the vector stores tool_resources creates, with the assistant
        _apply(assistant, spec, request.user)
        save_assistant(assistant)
    return ok(serializers.assistant(assistant))


def list_(request: HttpRequest):
    return ok(page(request, Assistant.objects.filter(owner=request.user), serializers.assistant))


def retrieve(request: HttpRequest, assistant_id: str):
    return ok(serializers.assistant(_get(request, assistant_id)))


def update(request: HttpRequest, assistant_id: str):
    assistant = _get(request, assistant_id)
    spec = read(request, specs.AssistantUpdate)
    with transaction.atomic():
        save_assistant(assistant, _apply(assistant, spec, request.user))
    return ok(serializers.assistant(assistant))


def delete(request: HttpRequest, assistant_id: str):
    delete_assistant(_get(request, assistant_id))
    return ok(serializers.deleted(assistant_id, "assistant"))


def _get(request: HttpRequest, assistant_id: str) -> Assistant:
    try:
        return get_assistant_for_user(request.user, assistant_id)
    except Http404:
        raise not_found(f"No assistant found with id '{assistant_id}'.") from None
