"""/v1/threads and /v1/threads/{thread_id}/messages"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest

from chat.access import ThreadReadOnly, get_thread_for_api, get_thread_for_api_reader, thread_is_read_only
from chat.api import serializers, specs, tool_resources
from chat.api.errors import ApiError, invalid, not_found
from chat.api.http import ok, read
from chat.api.pagination import page
from chat.engine.runs import ThreadBusy
from chat.models import Message, Thread
from chat.services.messages import add_message, delete_message
from chat.services.threads import create_thread, delete_thread


def get_thread(request: HttpRequest, thread_id: str) -> Thread:
    """A thread to write to: its owner's only (403 to a tutor who may read it)."""
    try:
        return get_thread_for_api(request.user, thread_id)
    except ThreadReadOnly as refused:
        raise ApiError(403, str(refused), type="permission_error", code="thread_read_only") from None
    except Http404:
        raise not_found(f"No thread found with id '{thread_id}'.") from None


def get_readable_thread(request: HttpRequest, thread_id: str) -> Thread:
    """A thread to read: whoever may open it in the browser (a class's tutor too)."""
    try:
        return get_thread_for_api_reader(request.user, thread_id)
    except Http404:
        raise not_found(f"No thread found with id '{thread_id}'.") from None


def save_thread(user, spec: specs.ThreadCreate, thread_id: str | None = None) -> Thread:
    with transaction.atomic():  # the vector stores tool_resources creates, with the thread
        resources = tool_resources.save(user, spec.tool_resources)
        messages = [message.cleaned() for message in spec.messages or []]
        return create_thread(user, messages=messages, metadata=spec.metadata, tool_resources=resources, thread_id=thread_id)


def busy(thread: Thread, run=None, *, adding: str = "run") -> ApiError:
    """The thread has an active run: a 400 worded as the hosted API's, per action (``adding``
    a "run" or a "message"). Not a 409: the SDK retries those, and a retry that lands
    after the run ended would start the run, or post the message, the caller was refused."""
    run = run or thread.active_run()
    named = f" {run.id}" if run else ""
    if adding == "message":
        return invalid(f"Can't add messages to {thread.id} while a run{named} is active.")
    return invalid(f"Thread {thread.id} already has an active run{named}.")


# --- threads -------------------------------------------------------------------------------


def create(request: HttpRequest):
    thread = save_thread(request.user, read(request, specs.ThreadCreate))
    return ok(serializers.thread(thread))


def retrieve(request: HttpRequest, thread_id: str):
    return ok(serializers.thread(get_readable_thread(request, thread_id)))


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
    delete_thread(thread)
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
    try:
        message = add_message(thread, **cleaned)
    except ThreadBusy as exc:
        raise busy(thread, exc.run, adding="message") from None
    return ok(serializers.message(message))


def message_list(request: HttpRequest, thread_id: str):
    thread = get_readable_thread(request, thread_id)
    messages = Message.objects.filter(thread=thread)
    if request.GET.get("run_id"):
        messages = messages.filter(run_id=request.GET["run_id"])
    return ok(page(request, messages, serializers.message, key="seq"))


def message_retrieve(request: HttpRequest, thread_id: str, message_id: str):
    thread = get_readable_thread(request, thread_id)
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
    delete_message(message)
    return ok(serializers.deleted(message_id, "thread.message"))


def _content_so_far(message: Message) -> list | None:
    if message.status != Message.IN_PROGRESS:
        return None
    return Message.text_content(serializers.message_text_so_far(message))
