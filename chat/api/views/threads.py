"""/v1/threads and /v1/threads/{thread_id}/messages"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from chat.access import get_thread_for_api, thread_is_read_only
from chat.api import serializers, specs, tool_resources
from chat.api.errors import ApiError, invalid, not_found
from chat.api.http import ok, read
from chat.api.pagination import page
from chat.engine import runs as engine_runs
from chat.models import File, Message, Thread


def get_thread(request: HttpRequest, thread_id: str) -> Thread:
    try:
        return get_thread_for_api(request.user, thread_id)
    except Http404:
        raise not_found(f"No thread found with id '{thread_id}'.") from None


def save_thread(user, spec: specs.ThreadCreate, thread_id: str | None = None) -> Thread:
    extra = {"id": thread_id} if thread_id else {}
    with transaction.atomic():
        resources = tool_resources.save(user, spec.tool_resources)
        thread = Thread.objects.create(owner=user, metadata=spec.metadata or {}, tool_resources=resources, **extra)
        for message in spec.messages or []:
            add_message(thread, message.cleaned())
    return thread


def add_message(thread: Thread, cleaned: dict) -> Message:
    message = Message.objects.create(thread=thread, **cleaned)
    fields = ["updated_at"]
    fields += _use_attachments(thread, message.attachments)
    thread.updated_at = timezone.now()
    if not thread.title and message.role == Message.USER and message.text.strip():
        thread.title = engine_runs.title_from(message.text)
        fields.append("title")
    thread.save(update_fields=fields)
    return message


def _use_attachments(thread: Thread, attachments: list[dict]) -> list[str]:
    """As the hosted API did: file_search attachments go into the thread's vector store,
    code_interpreter attachments become files the thread's code interpreter can read."""
    search = [a["file_id"] for a in attachments if any(t["type"] == "file_search" for t in a["tools"])]
    code = [a["file_id"] for a in attachments if any(t["type"] == "code_interpreter" for t in a["tools"])]
    changed = []
    if search:
        from chat.retrieval import stores

        files = list(File.objects.filter(pk__in=search, owner_id=thread.owner_id))
        stores.add_files(stores.thread_store(thread), files, thread_id=thread.id)
    if code:
        resources = dict(thread.tool_resources or {})
        known = list((resources.get("code_interpreter") or {}).get("file_ids") or [])
        resources["code_interpreter"] = {"file_ids": known + [i for i in code if i not in known]}
        thread.tool_resources = resources
        changed.append("tool_resources")
    return changed


def busy(thread: Thread, run=None) -> ApiError:
    run = run or thread.active_run()
    return ApiError(409, f"Thread {thread.id} already has an active run {run.id if run else ''}.".replace(" .", "."), code="thread_busy")


# --- threads -------------------------------------------------------------------------------


def create(request: HttpRequest):
    thread = save_thread(request.user, read(request, specs.ThreadCreate))
    return ok(serializers.thread(thread))


def retrieve(request: HttpRequest, thread_id: str):
    return ok(serializers.thread(get_thread(request, thread_id)))


def update(request: HttpRequest, thread_id: str):
    thread = get_thread(request, thread_id)
    spec = read(request, specs.ThreadUpdate)
    fields = sorted(spec.model_fields_set)
    if "metadata" in fields:
        thread.metadata = spec.metadata or {}
    with transaction.atomic():
        if "tool_resources" in fields:
            thread.tool_resources = tool_resources.save(request.user, spec.tool_resources, thread.tool_resources)
        if fields:
            thread.save(update_fields=fields)
    return ok(serializers.thread(thread))


def delete(request: HttpRequest, thread_id: str):
    thread = get_thread(request, thread_id)
    active = thread.active_run()
    if active is not None:
        engine_runs.cancel_run(active)
    thread.delete()
    return ok(serializers.deleted(thread_id, "thread"))


# --- messages ------------------------------------------------------------------------------


def _get_message(thread: Thread, message_id: str) -> Message:
    message = Message.objects.filter(pk=message_id, thread=thread).first()
    if message is None:
        raise not_found(f"No message found with id '{message_id}'.")
    return message


def message_create(request: HttpRequest, thread_id: str):
    thread = get_thread(request, thread_id)
    cleaned = read(request, specs.MessageCreate).cleaned()
    if thread_is_read_only(request.user, thread):
        raise invalid("This class conversation is read-only now: no assistant of the class is available to answer in it.")
    with transaction.atomic():
        active = thread.active_run()
        if active is not None:
            raise ApiError(409, f"Can't add messages to {thread.id} while a run {active.id} is active.", code="thread_busy")
        message = add_message(thread, cleaned)
    return ok(serializers.message(message))


def message_list(request: HttpRequest, thread_id: str):
    thread = get_thread(request, thread_id)
    messages = Message.objects.filter(thread=thread)
    if request.GET.get("run_id"):
        messages = messages.filter(run_id=request.GET["run_id"])
    return ok(page(request, messages, serializers.message, key="seq"))


def message_retrieve(request: HttpRequest, thread_id: str, message_id: str):
    thread = get_thread(request, thread_id)
    message = _get_message(thread, message_id)
    return ok(serializers.message(message, content=_content_so_far(message)))


def message_update(request: HttpRequest, thread_id: str, message_id: str):
    thread = get_thread(request, thread_id)
    message = _get_message(thread, message_id)
    spec = read(request, specs.MetadataUpdate)
    if "metadata" in spec.model_fields_set:
        message.metadata = spec.metadata or {}
        message.save(update_fields=["metadata"])
    return ok(serializers.message(message))


def message_delete(request: HttpRequest, thread_id: str, message_id: str):
    thread = get_thread(request, thread_id)
    message = _get_message(thread, message_id)
    if message.status == Message.IN_PROGRESS:
        raise invalid("This message is still being written by a run; cancel the run first.")
    message.delete()
    return ok(serializers.deleted(message_id, "thread.message"))


def _content_so_far(message: Message) -> list | None:
    if message.status != Message.IN_PROGRESS:
        return None
    return Message.text_content(serializers.message_text_so_far(message))
