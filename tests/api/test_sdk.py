"""The official openai SDK drives a live server: what existing Assistants code does."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest
from openai import AssistantEventHandler

from chat.code_interpreter import sandbox
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def make_tutor(sdk, **extra):
    return sdk.beta.assistants.create(
        name="Math Tutor",
        instructions="You are a personal math tutor.",
        model="offline",
        **extra,
    )


def test_the_quickstart_runs_unchanged_with_create_and_poll(sdk):
    assistant = make_tutor(sdk, tools=[{"type": "code_interpreter"}])
    thread = sdk.beta.threads.create()
    message = sdk.beta.threads.messages.create(thread_id=thread.id, role="user", content="Solve 3x + 11 = 14")
    assert message.object == "thread.message" and message.content[0].text.value == "Solve 3x + 11 = 14"
    run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, instructions="Be brief.")
    assert run.object == "thread.run" and run.status == "completed", run.last_error
    assert run.usage.total_tokens > 0
    messages = sdk.beta.threads.messages.list(thread_id=thread.id, order="asc")
    assert [m.role for m in messages.data] == ["user", "assistant"]
    assert "x = 1" in messages.data[1].content[0].text.value
    assert messages.data[1].run_id == run.id and messages.data[1].assistant_id == assistant.id
    by_run = sdk.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
    assert [m.id for m in by_run.data] == [messages.data[1].id]
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id)
    assert [s.type for s in steps.data] == ["message_creation"]
    step = sdk.beta.threads.runs.steps.retrieve(
        steps.data[0].id, thread_id=thread.id, run_id=run.id,
        include=["step_details.tool_calls[*].file_search.results[*].content"],
    )
    assert step.step_details.message_creation.message_id == messages.data[1].id


def test_a_run_streams_through_an_assistant_event_handler(sdk):
    assistant = make_tutor(sdk)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Solve 2x + 3 = 7"}])

    class Handler(AssistantEventHandler):
        def __init__(self):
            super().__init__()
            self.text = []
            self.names = []

        def on_event(self, event):
            self.names.append(event.event)

        def on_text_delta(self, delta, snapshot):
            self.text.append(delta.value)

    handler = Handler()
    with sdk.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler) as stream:
        stream.until_done()
    final = stream.get_final_run()
    assert final.status == "completed"
    names = handler.names
    assert names[:2] == ["thread.run.created", "thread.run.queued"]
    assert "thread.run.in_progress" in names and names[-1] == "thread.run.completed"
    assert names.index("thread.message.created") < names.index("thread.message.delta") < names.index("thread.message.completed")
    text = "".join(handler.text)
    assert "x = 2" in text
    messages = stream.get_final_messages()
    assert messages[0].content[0].text.value == text
    stored = sdk.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0]
    assert stored.content[0].text.value == text


def details(step) -> object:
    """A step's details without the indexes a stream's deltas carried."""
    if step.step_details.type == "message_creation":
        return step.step_details.message_creation.message_id
    return [
        (c.id, c.code_interpreter.input, [(o.type, getattr(o, "logs", None)) for o in c.code_interpreter.outputs])
        if c.type == "code_interpreter"
        else (c.id, c.model_dump(exclude={"index"}))
        for c in step.step_details.tool_calls
    ]


class ToolCallHandler(AssistantEventHandler):
    """The cookbook's streaming handler: what each tool-call callback saw."""

    def __init__(self):
        super().__init__()
        self.created, self.deltas, self.done = [], [], []

    def on_tool_call_created(self, tool_call):
        self.created.append(tool_call.model_copy(deep=True))

    def on_tool_call_delta(self, delta, snapshot):
        self.deltas.append(delta)

    def on_tool_call_done(self, tool_call):
        self.done.append(tool_call.model_copy(deep=True))


def test_a_tool_calls_input_and_outputs_reach_the_cookbooks_event_handler_as_deltas(sdk):
    """As the hosted API streamed a call: a first delta opening it (empty input), then its
    input, then its outputs once it ran; the SDK's handler turns the first into
    on_tool_call_created only, so everything else has to come after it."""
    if problem := sandbox.probe():
        skip_or_fail(problem)
    assistant = sdk.beta.assistants.create(
        name="Math Tutor",
        instructions="You are a personal math tutor. Write and run code to answer math questions.",
        tools=[{"type": "code_interpreter"}],
        model="offline",
    )
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Print the first 10 Fibonacci numbers"}])
    handler = ToolCallHandler()
    with sdk.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler) as stream:
        stream.until_done()
    run = stream.get_final_run()
    assert run.status == "completed"
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc").data
    call = next(s for s in steps if s.type == "tool_calls").step_details.tool_calls[0]
    assert call.code_interpreter.input and call.code_interpreter.outputs
    assert [(c.id, c.code_interpreter.input) for c in handler.created] == [(call.id, "")]
    typed = "".join(d.code_interpreter.input or "" for d in handler.deltas)
    logs = [o.logs for d in handler.deltas for o in d.code_interpreter.outputs or [] if o.type == "logs"]
    assert typed == call.code_interpreter.input
    assert logs == [o.logs for o in call.code_interpreter.outputs if o.type == "logs"] and logs
    assert "34" in logs[0]
    # on_tool_call_done sees the call as its deltas added it up (the SDK calls it again at
    # each later step's completion, with the same call).
    seen = [(c.id, c.code_interpreter.input, [(o.type, o.logs) for o in c.code_interpreter.outputs]) for c in handler.done]
    assert seen and set(map(repr, seen)) == {repr((call.id, call.code_interpreter.input, [(o.type, o.logs) for o in call.code_interpreter.outputs]))}
    # The SDK's final steps are each step's created event plus its deltas (it keeps no
    # completed event): the same steps, with the same details, as steps.list.
    final = stream.get_final_run_steps()
    assert [(s.id, s.type) for s in final] == [(s.id, s.type) for s in steps]
    assert [details(s) for s in final] == [details(s) for s in steps]


def test_a_function_calls_arguments_reach_the_cookbooks_event_handler_as_deltas(sdk):
    assistant = make_tutor(sdk, tools=[WEATHER])
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    handler = ToolCallHandler()
    with sdk.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler) as stream:
        stream.until_done()
    run = stream.current_run
    assert run.status == "requires_action"
    waiting = run.required_action.submit_tool_outputs.tool_calls[0]
    assert [(c.id, c.function.name, c.function.arguments) for c in handler.created] == [(waiting.id, "get_weather", "")]
    assert "".join(d.function.arguments or "" for d in handler.deltas) == waiting.function.arguments
    assert "Paris" in waiting.function.arguments
    with sdk.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": waiting.id, "output": "22°C"}]
    ) as resumed:
        resumed.until_done()
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc").data
    assert next(s for s in steps if s.type == "tool_calls").step_details.tool_calls[0].function.arguments == waiting.function.arguments


def test_a_function_call_pauses_the_run_and_outputs_resume_it_streaming(sdk):
    assistant = make_tutor(sdk, tools=[WEATHER])
    thread = sdk.beta.threads.create()
    sdk.beta.threads.messages.create(thread_id=thread.id, role="user", content="What is the weather in Paris?")
    with sdk.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()
    run = stream.current_run
    assert run.status == "requires_action"
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [c.function.name for c in calls] == ["get_weather"]
    with sdk.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": calls[0].id, "output": "22°C and sunny"}]
    ) as stream:
        texts = list(stream.text_deltas)
    assert stream.get_final_run().status == "completed"
    assert "22°C and sunny" in "".join(texts)
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc").data
    tool_step = next(s for s in steps if s.type == "tool_calls")
    assert tool_step.status == "completed"
    assert tool_step.step_details.tool_calls[0].function.output == "22°C and sunny"


def test_a_function_call_can_be_answered_by_polling(sdk):
    assistant = make_tutor(sdk, tools=[WEATHER])
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "What is the weather in Oslo?"}])
    run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    run = sdk.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "-3°C"}]
    )
    assert run.status == "completed"


def test_a_busy_thread_refuses_a_second_run_and_a_message_at_once_with_the_sdks_default_retries(api_server):
    """The hosted API's 400s, not 409s: the SDK retries a 409 (twice by default), and a
    retry that came after the run ended started a second run or posted the message."""
    with api_server.client("alice", max_retries=openai.DEFAULT_MAX_RETRIES) as sdk:
        assistant = make_tutor(sdk, tools=[WEATHER])
        thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "What is the weather in Oslo?"}])
        run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50)
        assert run.status == "requires_action"
        with pytest.raises(openai.BadRequestError) as second:
            sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        assert second.value.message.endswith(f"Thread {thread.id} already has an active run {run.id}.")
        assert second.value.code is None and second.value.type == "invalid_request_error"
        with pytest.raises(openai.BadRequestError) as message:
            sdk.beta.threads.messages.create(thread_id=thread.id, role="user", content="And in Bergen?")
        assert message.value.body["message"] == f"Can't add messages to {thread.id} while a run {run.id} is active."
        # The run ends; nothing the refusals were about happened since.
        sdk.beta.threads.runs.cancel(thread_id=thread.id, run_id=run.id)
        assert [r.id for r in sdk.beta.threads.runs.list(thread_id=thread.id)] == [run.id]
        texts = [m.content[0].text.value for m in sdk.beta.threads.messages.list(thread_id=thread.id) if m.content]
        assert "And in Bergen?" not in texts


def test_a_run_asking_for_a_json_object_answers_with_one_the_callers_json_loads_reads(sdk):
    assistant = make_tutor(sdk, response_format={"type": "json_object"})
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Solve 2x + 3 = 7"}])
    run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50)
    assert run.status == "completed" and run.response_format.type == "json_object"
    reply = sdk.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0].content[0].text.value
    answer = json.loads(reply)
    assert list(answer) == ["answer"] and "x = 2" in answer["answer"]
    # The same question without JSON asked: the same answer, as text.
    plain = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=make_tutor(sdk).id, additional_messages=[{"role": "user", "content": "Solve 2x + 3 = 7"}]
    )
    assert plain.status == "completed"
    text = sdk.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0].content[0].text.value
    assert text == answer["answer"]


def test_a_run_waiting_for_outputs_can_be_cancelled(sdk):
    assistant = make_tutor(sdk, tools=[WEATHER])
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "What is the weather in Rome?"}])
    run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    with pytest.raises(openai.BadRequestError):
        sdk.beta.threads.messages.create(thread_id=thread.id, role="user", content="hello?")
    cancelled = sdk.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status in ("cancelling", "cancelled")
    assert sdk.beta.threads.runs.poll(run.id, thread_id=thread.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        sdk.beta.threads.runs.cancel(run.id, thread_id=thread.id)


def test_create_thread_and_run_streams_from_a_new_thread(sdk):
    assistant = make_tutor(sdk)
    with sdk.beta.threads.create_and_run_stream(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Solve x + 1 = 5"}]}
    ) as stream:
        text = "".join(stream.text_deltas)
    run = stream.get_final_run()
    assert run.status == "completed" and "x = 4" in text
    assert sdk.beta.threads.retrieve(run.thread_id).id == run.thread_id
    polled = sdk.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Solve 2x = 8"}]}
    )
    assert polled.status == "completed"


def test_run_options_are_kept_on_the_run(sdk):
    assistant = make_tutor(sdk)
    thread = sdk.beta.threads.create()
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        model="offline",
        instructions="Answer in one line.",
        additional_instructions="Be kind.",
        additional_messages=[{"role": "user", "content": "Solve 5x = 10"}],
        max_prompt_tokens=2000,
        max_completion_tokens=500,
        truncation_strategy={"type": "last_messages", "last_messages": 4},
        tool_choice="auto",
        parallel_tool_calls=False,
        metadata={"ticket": "42"},
        temperature=0.5,
    )
    assert run.status == "completed"
    assert run.instructions == "Answer in one line.\n\nBe kind."
    assert run.truncation_strategy.type == "last_messages" and run.truncation_strategy.last_messages == 4
    assert run.parallel_tool_calls is False and run.metadata == {"ticket": "42"}
    assert run.max_completion_tokens == 500
    updated = sdk.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"ticket": "43"})
    assert updated.metadata == {"ticket": "43"}
    assert [r.id for r in sdk.beta.threads.runs.list(thread_id=thread.id)] == [run.id]
    assert "x = 2" in sdk.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value


def test_assistants_threads_and_messages_have_full_crud(sdk):
    assistant = make_tutor(sdk, metadata={"a": "1"}, temperature=0.2)
    assert sdk.beta.assistants.retrieve(assistant.id).metadata == {"a": "1"}
    updated = sdk.beta.assistants.update(assistant.id, name="Algebra Tutor", tools=[WEATHER])
    assert updated.name == "Algebra Tutor" and updated.tools[0].function.name == "get_weather"
    thread = sdk.beta.threads.create(metadata={"k": "v"}, messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
    assert sdk.beta.threads.update(thread.id, metadata={"k": "w"}).metadata == {"k": "w"}
    message = sdk.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert sdk.beta.threads.messages.update(message.id, thread_id=thread.id, metadata={"m": "1"}).metadata == {"m": "1"}
    assert sdk.beta.threads.messages.retrieve(message.id, thread_id=thread.id).metadata == {"m": "1"}
    assert sdk.beta.threads.messages.delete(message.id, thread_id=thread.id).deleted
    assert sdk.beta.threads.delete(thread.id).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.beta.threads.retrieve(thread.id)
    deleted = sdk.beta.assistants.delete(assistant.id)
    assert deleted.deleted and deleted.object == "assistant.deleted"


def test_lists_paginate_across_pages(sdk):
    created = [sdk.beta.assistants.create(model="offline", name=f"Page {i}") for i in range(5)]
    ids = {a.id for a in created}
    first = sdk.beta.assistants.list(limit=2)
    assert len(first.data) == 2 and first.has_more
    seen = [a.id for a in sdk.beta.assistants.list(limit=2, order="asc")]  # auto-paginates
    assert ids <= set(seen) and len(seen) == len(set(seen))
    desc = [a.id for a in sdk.beta.assistants.list(limit=3)]
    assert desc == list(reversed(seen))
    page = sdk.beta.assistants.list(limit=2, order="asc", after=seen[0])
    assert [a.id for a in page.data] == seen[1:3]
    before = sdk.beta.assistants.list(limit=2, order="asc", before=seen[3])
    assert [a.id for a in before.data] == seen[1:3]


def test_files_upload_list_retrieve_download_delete(sdk):
    uploaded = sdk.files.create(file=("notes.txt", b"x = 2\n", "text/plain"), purpose="assistants")
    assert uploaded.object == "file" and uploaded.bytes == 6 and uploaded.filename == "notes.txt"
    assert uploaded.id in [f.id for f in sdk.files.list()]
    assert sdk.files.retrieve(uploaded.id).filename == "notes.txt"
    assert sdk.files.content(uploaded.id).read() == b"x = 2\n"
    thread = sdk.beta.threads.create()
    message = sdk.beta.threads.messages.create(
        thread_id=thread.id, role="user", content="see file",
        attachments=[{"file_id": uploaded.id, "tools": [{"type": "code_interpreter"}]}],
    )
    assert message.attachments[0].file_id == uploaded.id
    assert sdk.beta.threads.retrieve(thread.id).tool_resources.code_interpreter.file_ids == [uploaded.id]
    assert sdk.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(uploaded.id)


def test_a_file_name_with_quotes_and_a_line_break_keeps_its_quotes_and_its_own_percent_signs(sdk):
    # httpx writes '"' as %22 and a line break as %0A in the multipart file name.
    uploaded = sdk.files.create(file=('the "best" notes\n %41.txt', b"x = 2\n"), purpose="assistants")
    assert uploaded.filename == 'the "best" notes %41.txt'
    assert sdk.files.retrieve(uploaded.id).filename == uploaded.filename


def test_models_lists_the_offline_model(sdk):
    assert "offline" in [m.id for m in sdk.models.list()]
    assert sdk.models.retrieve("offline").id == "offline"


def test_another_users_key_gets_404_on_everything_of_alices(sdk, bob_sdk):
    assistant = make_tutor(sdk)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Solve x = 1"}])
    run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    message = sdk.beta.threads.messages.list(thread_id=thread.id).data[0]
    step = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id).data[0]
    file = sdk.files.create(file=("a.txt", b"a"), purpose="assistants")
    attempts = [
        lambda: bob_sdk.beta.assistants.retrieve(assistant.id),
        lambda: bob_sdk.beta.assistants.update(assistant.id, name="mine"),
        lambda: bob_sdk.beta.assistants.delete(assistant.id),
        lambda: bob_sdk.beta.threads.retrieve(thread.id),
        lambda: bob_sdk.beta.threads.delete(thread.id),
        lambda: bob_sdk.beta.threads.messages.list(thread_id=thread.id),
        lambda: bob_sdk.beta.threads.messages.retrieve(message.id, thread_id=thread.id),
        lambda: bob_sdk.beta.threads.messages.create(thread_id=thread.id, role="user", content="hi"),
        lambda: bob_sdk.beta.threads.runs.retrieve(run.id, thread_id=thread.id),
        lambda: bob_sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id),
        lambda: bob_sdk.beta.threads.runs.steps.retrieve(step.id, thread_id=thread.id, run_id=run.id),
        lambda: bob_sdk.files.retrieve(file.id),
        lambda: bob_sdk.files.content(file.id),
    ]
    for attempt in attempts:
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert assistant.id not in [a.id for a in bob_sdk.beta.assistants.list()]
    assert file.id not in [f.id for f in bob_sdk.files.list()]
    bob_thread = bob_sdk.beta.threads.create()
    with pytest.raises(openai.NotFoundError):  # bob's thread, alice's assistant
        bob_sdk.beta.threads.runs.create(thread_id=bob_thread.id, assistant_id=assistant.id)


def test_a_bad_key_is_401_and_errors_have_the_apis_shape(api_server, sdk):
    with api_server.client("alice", api_key="sk-tutor-wrong") as stranger:
        with pytest.raises(openai.AuthenticationError):
            stranger.beta.assistants.list()
    with pytest.raises(openai.BadRequestError) as info:
        sdk.beta.assistants.create(model="no-such-model")
    assert info.value.body["code"] == "model_not_found" and info.value.body["param"] == "model"
    request = urllib.request.Request(
        api_server.base_url + "/v1/assistants",
        data=b"{not json",
        headers={"Authorization": f"Bearer {api_server.keys['alice']}", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(request, timeout=10)
    assert raw.value.code == 400
    assert set(json.loads(raw.value.read())["error"]) == {"message", "type", "param", "code"}


def test_vector_stores_with_files_and_batches(sdk, bob_sdk):
    notes = sdk.files.create(file=("algebra.txt", b"To solve a linear equation, isolate x on one side.\n"), purpose="assistants")
    more = sdk.files.create(file=("geometry.txt", b"The angles of a triangle add up to 180 degrees.\n"), purpose="assistants")
    extra = sdk.files.create(file=("calculus.txt", b"The derivative of x^2 is 2x.\n"), purpose="assistants")
    store = sdk.vector_stores.create(name="Course notes", file_ids=[notes.id], metadata={"course": "maths"})
    assert store.object == "vector_store" and store.file_counts.total == 1
    entry = sdk.vector_stores.files.poll(notes.id, vector_store_id=store.id, poll_interval_ms=100)
    assert entry.status == "completed" and entry.id == notes.id
    added = sdk.vector_stores.files.create_and_poll(file_id=more.id, vector_store_id=store.id, poll_interval_ms=100)
    assert added.status == "completed"
    batch = sdk.vector_stores.file_batches.create_and_poll(vector_store_id=store.id, file_ids=[extra.id], poll_interval_ms=100)
    assert batch.object == "vector_store.files_batch" and batch.status == "completed" and batch.file_counts.completed == 1
    assert [f.id for f in sdk.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)] == [extra.id]
    listed = [f.id for f in sdk.vector_stores.files.list(vector_store_id=store.id, limit=1, order="asc")]
    assert listed == [notes.id, more.id, extra.id]
    retrieved = sdk.vector_stores.retrieve(store.id)
    assert retrieved.status == "completed" and retrieved.file_counts.completed == 3 and retrieved.usage_bytes > 0
    assert sdk.vector_stores.update(store.id, name="Notes").name == "Notes"
    assert store.id in [s.id for s in sdk.vector_stores.list()]
    with pytest.raises(openai.NotFoundError):
        bob_sdk.vector_stores.retrieve(store.id)
    with pytest.raises(openai.NotFoundError):
        bob_sdk.vector_stores.files.list(vector_store_id=store.id)
    with pytest.raises(openai.BadRequestError):  # bob cannot put alice's file in his store
        bob_sdk.vector_stores.create(name="mine", file_ids=[notes.id])
    assistant = sdk.beta.assistants.create(
        model="offline", tools=[{"type": "file_search"}], tool_resources={"file_search": {"vector_store_ids": [store.id]}}
    )
    assert assistant.tool_resources.file_search.vector_store_ids == [store.id]
    assert sdk.vector_stores.files.delete(more.id, vector_store_id=store.id).deleted
    assert sdk.vector_stores.delete(store.id).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.retrieve(store.id)


def test_a_vector_store_is_searched_as_the_hosted_api_searched_it(sdk, bob_sdk):
    notes = sdk.files.create(file=("algebra.txt", b"To solve a linear equation, isolate x on one side.\n"), purpose="assistants")
    more = sdk.files.create(file=("geometry.txt", b"The angles of a triangle add up to 180 degrees.\n"), purpose="assistants")
    store = sdk.vector_stores.create(name="Course notes", file_ids=[notes.id, more.id])
    for file in (notes, more):
        assert sdk.vector_stores.files.poll(file.id, vector_store_id=store.id, poll_interval_ms=100).status == "completed"
    page = sdk.vector_stores.search(store.id, query="What do the angles of a triangle add up to?", max_num_results=1)
    results = list(page)
    assert page.object == "vector_store.search_results.page" and page.search_query == ["What do the angles of a triangle add up to?"]
    assert [(r.file_id, r.filename) for r in results] == [(more.id, "geometry.txt")]
    assert 0 < results[0].score <= 1 and results[0].attributes == {}
    assert [(c.type, c.text) for c in results[0].content] == [("text", "The angles of a triangle add up to 180 degrees.")]
    both = list(sdk.vector_stores.search(store.id, query=["isolate x", "linear equation"]))
    assert both[0].file_id == notes.id and all(b.score >= c.score for b, c in zip(both, both[1:], strict=False))
    with pytest.raises(openai.NotFoundError):  # another key's store
        bob_sdk.vector_stores.search(store.id, query="triangle")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.vector_stores.search(store.id, query="triangle", max_num_results=51)
    assert refused.value.code == "integer_above_max_value"
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.vector_stores.search(store.id, query="triangle", filters={"type": "eq", "key": "course", "value": "maths"})
    assert refused.value.param == "filters" and "not supported" in refused.value.message
    with pytest.raises(openai.BadRequestError) as refused:  # a query is a question, not a document
        sdk.vector_stores.search(store.id, query="triangle " * 500)
    assert refused.value.param == "query"


def test_messages_paginate_in_thread_order(sdk):
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": f"note {i}"} for i in range(5)])
    texts = [m.content[0].text.value for m in sdk.beta.threads.messages.list(thread_id=thread.id, limit=2, order="asc")]
    assert texts == [f"note {i}" for i in range(5)]
    newest = sdk.beta.threads.messages.list(thread_id=thread.id, limit=2)
    assert [m.content[0].text.value for m in newest.data] == ["note 4", "note 3"] and newest.has_more
    assert newest.first_id == newest.data[0].id and newest.last_id == newest.data[1].id
    rest = sdk.beta.threads.messages.list(thread_id=thread.id, limit=10, after=newest.last_id)
    assert [m.content[0].text.value for m in rest.data] == ["note 2", "note 1", "note 0"] and not rest.has_more


def test_a_file_search_run_streams_and_its_results_are_included_on_request(sdk):
    notes = sdk.files.create(
        file=("photosynthesis.txt", b"Photosynthesis turns light, water and carbon dioxide into glucose and oxygen.\n"),
        purpose="assistants",
    )
    store = sdk.vector_stores.create(name="Biology", file_ids=[notes.id])
    sdk.vector_stores.files.poll(notes.id, vector_store_id=store.id, poll_interval_ms=100)
    assistant = sdk.beta.assistants.create(
        model="offline", tools=[{"type": "file_search"}], tool_resources={"file_search": {"vector_store_ids": [store.id]}}
    )
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "What does photosynthesis produce?"}])
    with sdk.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()
    run = stream.get_final_run()
    assert run.status == "completed", run.last_error
    answer = stream.get_final_messages()[-1]
    assert "glucose" in answer.content[0].text.value
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc").data
    search = next(s for s in steps if s.type == "tool_calls").step_details.tool_calls[0]
    assert search.type == "file_search"
    included = sdk.beta.threads.runs.steps.list(
        thread_id=thread.id, run_id=run.id, order="asc", include=["step_details.tool_calls[*].file_search.results[*].content"]
    ).data
    results = next(s for s in included if s.type == "tool_calls").step_details.tool_calls[0].file_search.results
    assert results and results[0].file_id == notes.id and "glucose" in results[0].content[0].text
    if search.file_search.results:
        assert not search.file_search.results[0].content  # only with include[]


def test_a_function_schema_pointing_at_another_host_is_refused_and_never_fetched(sdk, http_listener):
    remote = {**WEATHER["function"], "parameters": {"type": "object", "properties": {"city": {"$ref": http_listener.url}}}}
    with pytest.raises(openai.BadRequestError) as info:
        make_tutor(sdk, tools=[{"type": "function", "function": remote}])
    assert info.value.body["param"] == "tools[0].function.parameters"
    assert "points outside this schema" in info.value.body["message"]
    local = {**WEATHER["function"], "parameters": {
        "type": "object", "$defs": {"city": {"type": "string"}}, "properties": {"city": {"$ref": "#/$defs/city"}},
    }}
    assert make_tutor(sdk, tools=[{"type": "function", "function": local}]).tools[0].function.parameters == local["parameters"]
    assert http_listener.requests == []
