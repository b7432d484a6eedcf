"""/v1/threads/{thread_id}/runs (+ steps), /v1/threads/runs (create a thread and run it).

Creating a run and submitting tool outputs are async views: with ``stream: true`` they
subscribe to the thread's group first, then queue the run, then stream (see streaming.py).
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from chat import ids
from chat.access import get_assistant_for_user, get_run_for_user
from chat.api import params, serializers, streaming
from chat.api.errors import invalid, not_found
from chat.api.http import check_fields, json_body, ok
from chat.api.pagination import page
from chat.api.views.threads import THREAD_FIELDS, add_message, busy, clean_thread, get_thread, save_thread
from chat.engine import runs as engine_runs
from chat.engine import states
from chat.models import Assistant, Run, RunStep, Thread

RUN_FIELDS = {
    "assistant_id", "model", "instructions", "additional_instructions", "additional_messages", "tools", "metadata",
    "temperature", "top_p", "stream", "max_prompt_tokens", "max_completion_tokens", "truncation_strategy",
    "tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort",
}
CREATE_AND_RUN_FIELDS = (RUN_FIELDS - {"additional_instructions", "additional_messages", "reasoning_effort"}) | {"thread", "tool_resources"}


def _include_content(request: HttpRequest) -> bool:
    include = request.GET.getlist("include[]") + request.GET.getlist("include")
    for value in include:
        if value != serializers.FILE_SEARCH_CONTENT:
            raise invalid(f"Invalid value for 'include': {value!r}. Supported: '{serializers.FILE_SEARCH_CONTENT}'.", param="include")
    return bool(include)


def _assistant(user, assistant_id) -> Assistant:
    if not isinstance(assistant_id, str):
        raise invalid("Missing required parameter: 'assistant_id'.", param="assistant_id", code="missing_required_parameter")
    try:
        return get_assistant_for_user(user, assistant_id)
    except Http404:
        raise not_found(f"No assistant found with id '{assistant_id}'.") from None


def _run_options(user, data: dict, assistant: Assistant) -> dict:
    options = {
        "model": params.model(data["model"]) if data.get("model") is not None else None,
        "instructions": params.string(data.get("instructions"), "instructions", max_length=256_000),
        "additional_instructions": params.string(data.get("additional_instructions"), "additional_instructions", max_length=256_000),
        "tools": params.tools(data.get("tools")),
        "metadata": params.metadata(data.get("metadata")),
        "temperature": params.number(data.get("temperature"), "temperature", 0, 2),
        "top_p": params.number(data.get("top_p"), "top_p", 0, 1),
        "max_prompt_tokens": params.positive_int(data.get("max_prompt_tokens"), "max_prompt_tokens"),
        "max_completion_tokens": params.positive_int(data.get("max_completion_tokens"), "max_completion_tokens"),
        "truncation_strategy": params.truncation_strategy(data.get("truncation_strategy")),
        "parallel_tool_calls": params.boolean(data.get("parallel_tool_calls"), "parallel_tool_calls"),
    }
    fmt = params.response_format(data.get("response_format"))
    options["response_format"] = None if fmt == "auto" else fmt
    options["tool_choice"] = params.tool_choice(data.get("tool_choice"), options["tools"] if options["tools"] is not None else assistant.tools)
    params.boolean(data.get("stream"), "stream")
    return options


def _start_run(thread: Thread, assistant: Assistant, options: dict, messages: list[dict]) -> Run:
    """Save the additional messages and queue the run in one transaction (it starts on commit)."""
    with transaction.atomic():
        active = thread.active_run()
        if active is not None:
            raise busy(thread, active)
        for message in messages:
            add_message(thread, message)
        try:
            run = engine_runs.create_run(thread, assistant, **options)
        except engine_runs.ThreadBusy as exc:
            raise busy(thread, exc.run) from None
        thread.assistant = assistant
        thread.updated_at = timezone.now()
        thread.save(update_fields=["assistant", "updated_at"])
    return run


# --- create (sync preparation, then JSON or a stream) ---------------------------------------


def _prepare_create(request: HttpRequest, thread_id: str):
    thread = get_thread(request, thread_id)
    include = _include_content(request)
    data = json_body(request, allowed=RUN_FIELDS, required=("assistant_id",))
    assistant = _assistant(request.user, data["assistant_id"])
    options = _run_options(request.user, data, assistant)
    extra = data.get("additional_messages") or []
    if not isinstance(extra, list):
        raise invalid("Invalid type for 'additional_messages': expected an array.", param="additional_messages")
    messages = [params.message_input(request.user, m, f"additional_messages[{i}]") for i, m in enumerate(extra)]
    return thread, assistant, options, messages, bool(data.get("stream")), include


async def create(request: HttpRequest, thread_id: str):
    thread, assistant, options, messages, stream, include = await sync_to_async(_prepare_create)(request, thread_id)
    if not stream:
        run = await sync_to_async(_start_run)(thread, assistant, options, messages)
        return ok(serializers.run(run), poll=True)
    subscription = await streaming.subscribe(thread.id)
    try:
        run = await sync_to_async(_start_run)(thread, assistant, options, messages)
    except BaseException:
        await streaming.unsubscribe(subscription)
        raise
    tracker = streaming.RunEvents(run.id, include_content=include)
    return await streaming.streaming_response(subscription, tracker, tracker.opening(run))


def _prepare_create_and_run(request: HttpRequest):
    include = _include_content(request)
    data = json_body(request, allowed=CREATE_AND_RUN_FIELDS, required=("assistant_id",))
    assistant = _assistant(request.user, data["assistant_id"])
    options = _run_options(request.user, data, assistant)
    thread_data = data.get("thread") or {}
    if not isinstance(thread_data, dict):
        raise invalid("Invalid type for 'thread': expected an object.", param="thread")
    check_fields(thread_data, THREAD_FIELDS, prefix="thread.")
    cleaned = clean_thread(request.user, thread_data, "thread.")
    if data.get("tool_resources") is not None:
        cleaned["tool_resources"] = params.tool_resources(request.user, data["tool_resources"]) or {}
    return assistant, options, cleaned, bool(data.get("stream")), include


def _create_thread_and_run(user, assistant, options, cleaned, thread_id=None) -> tuple[Thread, Run]:
    with transaction.atomic():
        thread = save_thread(user, cleaned, thread_id)
        run = _start_run(thread, assistant, options, [])
    return thread, run


async def create_thread_and_run(request: HttpRequest):
    assistant, options, cleaned, stream, include = await sync_to_async(_prepare_create_and_run)(request)
    if not stream:
        _, run = await sync_to_async(_create_thread_and_run)(request.user, assistant, options, cleaned)
        return ok(serializers.run(run), poll=True)
    thread_id = ids.new_thread_id()  # known in advance, so the stream can listen before the run starts
    subscription = await streaming.subscribe(thread_id)
    try:
        thread, run = await sync_to_async(_create_thread_and_run)(request.user, assistant, options, cleaned, thread_id)
    except BaseException:
        await streaming.unsubscribe(subscription)
        raise
    tracker = streaming.RunEvents(run.id, include_content=include)
    opening = [("thread.created", serializers.thread(thread)), *tracker.opening(run)]
    return await streaming.streaming_response(subscription, tracker, opening)


# --- the rest ------------------------------------------------------------------------------


def get_run(request: HttpRequest, thread_id: str, run_id: str) -> Run:
    get_thread(request, thread_id)  # an unknown thread is named as such
    try:
        return get_run_for_user(request.user, thread_id, run_id)
    except Http404:
        raise not_found(f"No run found with id '{run_id}'.") from None


def list_(request: HttpRequest, thread_id: str):
    thread = get_thread(request, thread_id)
    return ok(page(request, Run.objects.filter(thread=thread), serializers.run))


def retrieve(request: HttpRequest, thread_id: str, run_id: str):
    return ok(serializers.run(get_run(request, thread_id, run_id)), poll=True)


def update(request: HttpRequest, thread_id: str, run_id: str):
    run = get_run(request, thread_id, run_id)
    data = json_body(request, allowed={"metadata"})
    if "metadata" in data:
        run.metadata = params.metadata(data["metadata"])
        Run.objects.filter(pk=run.pk).update(metadata=run.metadata)
    run.refresh_from_db()
    return ok(serializers.run(run), poll=True)


def cancel(request: HttpRequest, thread_id: str, run_id: str):
    run = get_run(request, thread_id, run_id)
    json_body(request, allowed=set())
    if not engine_runs.cancel_run(run):
        raise invalid(f"Cannot cancel run with status '{run.status}'.")
    run.refresh_from_db()
    return ok(serializers.run(run), poll=True)


def _prepare_submit(request: HttpRequest, thread_id: str, run_id: str):
    run = get_run(request, thread_id, run_id)
    data = json_body(request, allowed={"tool_outputs", "stream"}, required=("tool_outputs",))
    outputs = data["tool_outputs"]
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise invalid("Invalid type for 'tool_outputs': expected an array of objects.", param="tool_outputs")
    for i, output in enumerate(outputs):
        check_fields(output, {"tool_call_id", "output"}, prefix=f"tool_outputs[{i}].")
        if output.get("output") is not None and not isinstance(output["output"], str):
            raise invalid(f"Invalid type for 'tool_outputs[{i}].output': expected a string.", param=f"tool_outputs[{i}].output")
    if run.status != states.REQUIRES_ACTION:
        raise invalid(f"Runs in status \"{run.status}\" do not accept tool outputs.")
    params.boolean(data.get("stream"), "stream")
    return run, outputs, bool(data.get("stream"))


def _submit(run: Run, outputs: list[dict]) -> Run:
    try:
        engine_runs.submit_tool_outputs(run, outputs)
    except engine_runs.InvalidToolOutputs as exc:
        raise invalid(str(exc), param="tool_outputs") from None
    return run  # as submitted: queued (it may already have started)


async def submit_tool_outputs(request: HttpRequest, thread_id: str, run_id: str):
    run, outputs, stream = await sync_to_async(_prepare_submit)(request, thread_id, run_id)
    if not stream:
        return ok(serializers.run(await sync_to_async(_submit)(run, outputs)), poll=True)
    subscription = await streaming.subscribe(run.thread_id)
    tracker = streaming.RunEvents(run.id)
    try:
        await sync_to_async(tracker.skip_existing)()
        await sync_to_async(_submit)(run, outputs)
    except BaseException:
        await streaming.unsubscribe(subscription)
        raise
    tracker.status = run.status
    return await streaming.streaming_response(subscription, tracker, [(f"thread.run.{run.status}", serializers.run(run))])


def step_list(request: HttpRequest, thread_id: str, run_id: str):
    run = get_run(request, thread_id, run_id)
    include = _include_content(request)
    return ok(page(request, RunStep.objects.filter(run=run), lambda s: serializers.step(s, run=run, include_content=include)))


def step_retrieve(request: HttpRequest, thread_id: str, run_id: str, step_id: str):
    run = get_run(request, thread_id, run_id)
    include = _include_content(request)
    step = RunStep.objects.filter(pk=step_id, run=run).first()
    if step is None:
        raise not_found(f"No run step found with id '{step_id}'.")
    return ok(serializers.step(step, run=run, include_content=include))
