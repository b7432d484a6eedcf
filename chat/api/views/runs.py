"""/v1/threads/{thread_id}/runs (+ steps), /v1/threads/runs (create a thread and run it).

Creating a run and submitting tool outputs are async views: they subscribe to the thread's
group first, then authenticate, read the request and queue the run in one trip to the
database (``http.trip``), then stream when asked to (see streaming.py).
"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from chat import ids
from chat.access import (
    get_assistant_for_run,
    get_assistant_for_user,
    get_run_for_api,
    get_run_on_thread,
    is_class_thread,
)
from chat.api import serializers, specs, streaming
from chat.api.errors import ApiError, invalid, not_found
from chat.api.http import ok, read, release_connection, trip
from chat.api.pagination import page
from chat.api.views.threads import busy, get_readable_thread, get_thread, save_thread
from chat.classes.quotas import over_quota
from chat.engine import runs as engine_runs
from chat.engine import states
from chat.models import Assistant, Run, RunStep, Thread
from chat.services.messages import start_run
from chat.services.runs import refusal_to_run
from chat.services.runs import submit_tool_outputs as submit_outputs


def _include_content(request: HttpRequest) -> bool:
    include = request.GET.getlist("include[]") + request.GET.getlist("include")
    for value in include:
        if value != serializers.FILE_SEARCH_CONTENT:
            raise invalid(
                f"Invalid value for 'include': {value!r}. Supported: '{serializers.FILE_SEARCH_CONTENT}'.",
                param="include",
            )
    return bool(include)


def _assistant(user, assistant_id: str) -> Assistant:
    try:
        return get_assistant_for_user(user, assistant_id)
    except Http404:
        raise not_found(f"No assistant found with id '{assistant_id}'.") from None


# A class conversation runs its assistant as the tutor set it up.
TUTOR_SET = ("model", "instructions", "additional_instructions", "tools")


def _class_assistant(user, thread: Thread, spec: specs.RunCreate) -> Assistant:
    try:
        assistant = get_assistant_for_run(user, thread, spec.assistant_id)
    except Http404:
        if refused := refusal_to_run(user, thread, spec.assistant_id):
            raise refused from None
        raise not_found(f"No assistant found with id '{spec.assistant_id}'.") from None
    for name in TUTOR_SET:
        if getattr(spec, name, None) is not None:
            raise invalid(
                f"'{name}' cannot be set on a class conversation: it runs the assistant as the class's tutor set it up.",
                param=name,
            )
    return assistant


def _refuse_content_of_class_files(thread: Thread, include: bool) -> None:
    """A class's files reach its students through the answers' citations only."""
    if include and is_class_thread(thread):
        raise invalid("File search result content is not available on a class conversation.", param="include")


def _check_quota(thread: Thread) -> None:
    """The class's daily limit (the browser's composer asks the same rule)."""
    over = over_quota(thread)
    if over is not None:
        error = ApiError(
            429,
            f"{over.message}. Nothing was saved: send the request again then.",
            type="requests",
            code="quota_exceeded",
        )
        wait = max(1, int((over.resets_at - timezone.now()).total_seconds()))
        error.headers = {"Retry-After": str(wait)}
        raise error


def _run_options(spec: specs.RunOptions, assistant: Assistant) -> dict:
    options = spec.options()
    choice = options["tool_choice"]
    if isinstance(choice, dict) and choice["type"] == "function":
        # Which functions exist depends on the assistant: a named choice must be one of them.
        tools = options["tools"] if options["tools"] is not None else assistant.tools
        name = choice["function"]["name"]
        if not any(t.get("type") == "function" and t["function"]["name"] == name for t in tools):
            raise invalid(
                f"Invalid 'tool_choice': no function named {name!r} among the run's tools.", param="tool_choice"
            )
    return options


def _start_run(thread: Thread, assistant: Assistant, options: dict, messages: list[dict]) -> Run:
    _check_quota(thread)
    try:
        run = start_run(thread, assistant, messages=messages, **options)
    except engine_runs.ThreadBusy as exc:
        raise busy(thread, exc.run) from None
    return serializers.with_visibility(run)


# --- create (sync preparation, then JSON or a stream) ---------------------------------------


def _prepare_create(request: HttpRequest, thread_id: str):
    thread = get_thread(request, thread_id)
    include = _include_content(request)
    _refuse_content_of_class_files(thread, include)
    spec = read(request, specs.RunCreate)
    if is_class_thread(thread):
        assistant = _class_assistant(request.user, thread, spec)
    else:
        assistant = _assistant(request.user, spec.assistant_id)
    options = _run_options(spec, assistant)
    messages = [m.cleaned() for m in spec.additional_messages or []]
    return thread, assistant, options, messages, bool(spec.stream), include


def _create(request: HttpRequest, thread_id: str) -> tuple[Run, bool, bool]:
    """The request read and the run started (the view's one trip to the database)."""
    thread, assistant, options, messages, stream, include = _prepare_create(request, thread_id)
    run = _start_run(thread, assistant, options, messages)
    if stream:
        release_connection()
    return run, stream, include


async def create(request: HttpRequest, thread_id: str):
    # Listening before the run can start (and before the request is read: whether it
    # streams is in its body, read in the one trip below; a run that does not stream
    # stops listening at once).
    subscription = await streaming.subscribe(thread_id)
    try:
        run, stream, include = await trip(request, _create, request, thread_id)
    except BaseException:
        await streaming.unsubscribe(subscription)
        raise
    if not stream:
        await streaming.unsubscribe(subscription)
        return ok(serializers.run(run), poll=True)
    tracker = streaming.RunEvents(run.id, include_content=include)
    return streaming.streaming_response(subscription, tracker, tracker.opening(run))


def _prepare_create_and_run(request: HttpRequest):
    include = _include_content(request)
    spec = read(request, specs.ThreadAndRunCreate)
    assistant = _assistant(request.user, spec.assistant_id)
    options = _run_options(spec, assistant)
    thread = spec.thread or specs.ThreadCreate()
    if spec.tool_resources is not None:  # the hosted API's top-level resources are the new thread's
        thread = thread.model_copy(update={"tool_resources": spec.tool_resources})
    return assistant, options, thread, bool(spec.stream), include


def _create_thread_and_run(request: HttpRequest, thread_id: str) -> tuple[Thread, Run, bool, bool]:
    assistant, options, cleaned, stream, include = _prepare_create_and_run(request)
    with transaction.atomic():
        thread = save_thread(request.user, cleaned, thread_id)
        run = _start_run(thread, assistant, options, [])
    if stream:
        release_connection()
    return thread, run, stream, include


async def create_thread_and_run(request: HttpRequest):
    thread_id = ids.new_thread_id()  # known in advance, so the stream can listen before the run starts
    subscription = await streaming.subscribe(thread_id)
    try:
        thread, run, stream, include = await trip(request, _create_thread_and_run, request, thread_id)
    except BaseException:
        await streaming.unsubscribe(subscription)
        raise
    if not stream:
        await streaming.unsubscribe(subscription)
        return ok(serializers.run(run), poll=True)
    tracker = streaming.RunEvents(run.id, include_content=include)
    opening = [("thread.created", serializers.thread(thread)), *tracker.opening(run)]
    return streaming.streaming_response(subscription, tracker, opening)


# --- the rest ------------------------------------------------------------------------------


def get_run(request: HttpRequest, thread_id: str, run_id: str) -> Run:
    """A run to act on (cancel it, submit its outputs, its metadata): its thread's owner's only."""
    get_thread(request, thread_id)  # an unknown thread is named as such
    try:
        return get_run_for_api(request.user, thread_id, run_id)
    except Http404:
        raise not_found(f"No run found with id '{run_id}'.") from None


def get_readable_run(request: HttpRequest, thread_id: str, run_id: str) -> Run:
    """A run to read: whoever may read its thread (a class's tutor too)."""
    thread = get_readable_thread(request, thread_id)  # an unknown thread is named as such
    try:
        return get_run_on_thread(thread, run_id)
    except Http404:
        raise not_found(f"No run found with id '{run_id}'.") from None


def list_(request: HttpRequest, thread_id: str):
    thread = get_readable_thread(request, thread_id)
    hidden = is_class_thread(thread)

    def item(run: Run) -> dict:
        run.set_up_hidden = hidden
        return serializers.run(run)

    return ok(page(request, Run.objects.filter(thread=thread), item))


def retrieve(request: HttpRequest, thread_id: str, run_id: str):
    return ok(serializers.run(get_readable_run(request, thread_id, run_id)), poll=True)


def update(request: HttpRequest, thread_id: str, run_id: str):
    run = get_run(request, thread_id, run_id)
    spec = read(request, specs.MetadataUpdate)
    if "metadata" in spec.model_fields_set:
        run.metadata = spec.metadata or {}
        Run.objects.filter(pk=run.pk).update(metadata=run.metadata)
    run.refresh_from_db()
    return ok(serializers.run(run), poll=True)


def cancel(request: HttpRequest, thread_id: str, run_id: str):
    run = get_run(request, thread_id, run_id)
    read(request, specs.Empty)
    if not engine_runs.cancel_run(run):
        raise invalid(f"Cannot cancel run with status '{run.status}'.")
    run.refresh_from_db()
    return ok(serializers.run(run), poll=True)


def _prepare_submit(request: HttpRequest, thread_id: str, run_id: str):
    run = get_run(request, thread_id, run_id)
    spec = read(request, specs.ToolOutputsSubmit)
    if run.status != states.REQUIRES_ACTION:
        raise invalid(f'Runs in status "{run.status}" do not accept tool outputs.')
    return run, [o.model_dump(exclude_unset=True) for o in spec.tool_outputs], bool(spec.stream)


def _submit(run: Run, outputs: list[dict]) -> Run:
    try:
        submit_outputs(run, outputs)
    except engine_runs.InvalidToolOutputs as exc:
        raise invalid(str(exc), param="tool_outputs") from None
    return serializers.with_visibility(run)  # as submitted: queued (it may already have started)


def _submit_outputs(request: HttpRequest, thread_id: str, run_id: str) -> tuple[Run, streaming.RunEvents | None]:
    """The outputs read and submitted (the view's one trip to the database); a stream's
    tracker takes the run's rows so far as told, before the run resumes."""
    run, outputs, stream = _prepare_submit(request, thread_id, run_id)
    tracker = None
    if stream:
        tracker = streaming.RunEvents(run.id)
        tracker.skip_existing(run)
    run = _submit(run, outputs)
    if stream:
        release_connection()
    return run, tracker


async def submit_tool_outputs(request: HttpRequest, thread_id: str, run_id: str):
    subscription = await streaming.subscribe(thread_id)  # the run's: get_run checks it is
    try:
        run, tracker = await trip(request, _submit_outputs, request, thread_id, run_id)
    except BaseException:
        await streaming.unsubscribe(subscription)
        raise
    if tracker is None:
        await streaming.unsubscribe(subscription)
        return ok(serializers.run(run), poll=True)
    return streaming.streaming_response(subscription, tracker, tracker.resuming(run))


def step_list(request: HttpRequest, thread_id: str, run_id: str):
    run = get_readable_run(request, thread_id, run_id)
    include = _include_content(request)
    _refuse_content_of_class_files(run.thread, include)
    return ok(
        page(request, RunStep.objects.filter(run=run), lambda s: serializers.step(s, run=run, include_content=include))
    )


def step_retrieve(request: HttpRequest, thread_id: str, run_id: str, step_id: str):
    run = get_readable_run(request, thread_id, run_id)
    include = _include_content(request)
    _refuse_content_of_class_files(run.thread, include)
    step = RunStep.objects.filter(pk=step_id, run=run).first()
    if step is None:
        raise not_found(f"No run step found with id '{step_id}'.")
    return ok(serializers.step(step, run=run, include_content=include))
