"""Issue 10, item 3: behaviours the hosted Assistants API had, through the official SDK
against the live server (tests/api/conftest.py)."""

from __future__ import annotations

import openai
import pytest

from chat.code_interpreter import sandbox
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]

NOTES = b"Photosynthesis turns light, water and carbon dioxide into glucose and oxygen.\n"


def upload(sdk, name: str = "notes.txt", data: bytes = NOTES):
    return sdk.files.create(file=(name, data), purpose="assistants")


def refused(call, param: str) -> str:
    with pytest.raises(openai.BadRequestError) as info:
        call()
    assert info.value.body["param"] == param, info.value.body
    return info.value.body["message"]


# --- inline vector stores -----------------------------------------------------------------------


def test_an_assistant_creates_its_vector_store_inline_and_searches_it(sdk):
    notes = upload(sdk)
    assistant = sdk.beta.assistants.create(
        model="offline", tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [notes.id], "metadata": {"course": "biology"}}]}},
    )
    [store_id] = assistant.tool_resources.file_search.vector_store_ids
    store = sdk.vector_stores.retrieve(store_id)
    assert store.metadata == {"course": "biology"} and store.file_counts.total == 1
    assert sdk.vector_stores.files.poll(notes.id, vector_store_id=store_id, poll_interval_ms=100).status == "completed"
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "What does photosynthesis make?"}])
    run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    assert run.status == "completed", run.last_error
    steps = sdk.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    calls = [c for s in steps.data if s.type == "tool_calls" for c in s.step_details.tool_calls]
    assert any(c.type == "file_search" and c.file_search.results and c.file_search.results[0].file_id == notes.id for c in calls)


def test_a_thread_creates_its_vector_store_inline(sdk):
    notes = upload(sdk)
    thread = sdk.beta.threads.create(tool_resources={"file_search": {"vector_stores": [{"file_ids": [notes.id]}]}})
    [store_id] = thread.tool_resources.file_search.vector_store_ids
    assert sdk.vector_stores.files.poll(notes.id, vector_store_id=store_id, poll_interval_ms=100).status == "completed"
    assert sdk.beta.threads.retrieve(thread.id).tool_resources.file_search.vector_store_ids == [store_id]


def test_an_inline_vector_store_of_someone_elses_file_creates_nothing(sdk, bob_sdk):
    theirs = upload(bob_sdk)
    before = [s.id for s in sdk.vector_stores.list(limit=100)]
    refused(lambda: sdk.beta.threads.create(tool_resources={"file_search": {"vector_stores": [{"file_ids": [theirs.id]}]}}),
            "tool_resources.file_search.vector_stores[0].file_ids")
    assert [s.id for s in sdk.vector_stores.list(limit=100)] == before


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["café", "get weather", "x" * 65, "", "get_weather\n"])
def test_a_function_name_outside_the_apis_pattern_is_refused(sdk, name):
    function = {"name": name, "parameters": {"type": "object", "properties": {}}}
    refused(lambda: sdk.beta.assistants.create(model="offline", tools=[{"type": "function", "function": function}]), "tools[0].function.name")


def test_empty_text_content_is_refused(sdk):
    thread = sdk.beta.threads.create()
    refused(lambda: sdk.beta.threads.messages.create(thread.id, role="user", content=""), "content")
    refused(lambda: sdk.beta.threads.messages.create(thread.id, role="user", content=[{"type": "text", "text": ""}]), "content[0].text")
    assert sdk.beta.threads.messages.list(thread.id).data == []


@pytest.mark.parametrize("count", [0, 51])
def test_max_num_results_outside_1_to_50_is_refused(sdk, count):
    tools = [{"type": "file_search", "file_search": {"max_num_results": count}}]
    refused(lambda: sdk.beta.assistants.create(model="offline", tools=tools), "tools[0].file_search.max_num_results")


# --- shapes -------------------------------------------------------------------------------------


def test_optional_fields_that_are_not_nullable_are_left_out(sdk):
    notes = upload(sdk)
    raw_file = sdk.files.with_raw_response.retrieve(notes.id).http_response.json()
    store = sdk.vector_stores.with_raw_response.create(name="notes").http_response.json()
    assert "expires_at" not in raw_file and "expires_after" not in store


def test_a_waiting_run_carries_expires_at_and_sampling_reads_as_the_hosted_defaults(sdk):
    weather = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    assistant = sdk.beta.assistants.create(model="offline", tools=[{"type": "function", "function": weather}])
    assert (assistant.temperature, assistant.top_p) == (1.0, 1.0)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    run = sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "queued" and run.expires_at is not None and (run.temperature, run.top_p) == (1.0, 1.0)
    run = sdk.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=100)
    assert run.status == "requires_action" and run.expires_at > run.created_at
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    done = sdk.beta.threads.runs.submit_tool_outputs_and_poll(run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}], poll_interval_ms=100)
    assert done.status == "completed" and done.expires_at is None


# --- lifecycle ----------------------------------------------------------------------------------


def test_deleting_a_vector_store_takes_it_out_of_assistants_and_threads(sdk):
    keep = sdk.vector_stores.create(name="keep")
    gone = sdk.vector_stores.create(name="gone")
    assistant = sdk.beta.assistants.create(model="offline", tool_resources={"file_search": {"vector_store_ids": [gone.id]}})
    thread = sdk.beta.threads.create(tool_resources={"file_search": {"vector_store_ids": [gone.id]}})
    other = sdk.beta.threads.create(tool_resources={"file_search": {"vector_store_ids": [keep.id]}})
    assert sdk.vector_stores.delete(gone.id).deleted
    assert sdk.beta.assistants.retrieve(assistant.id).tool_resources.file_search.vector_store_ids == []
    assert sdk.beta.threads.retrieve(thread.id).tool_resources.file_search.vector_store_ids == []
    assert sdk.beta.threads.retrieve(other.id).tool_resources.file_search.vector_store_ids == [keep.id]


def test_cancelling_a_finished_file_batch_is_refused(sdk):
    notes = upload(sdk)
    store = sdk.vector_stores.create(name="notes")
    batch = sdk.vector_stores.file_batches.create_and_poll(vector_store_id=store.id, file_ids=[notes.id], poll_interval_ms=100)
    assert batch.status == "completed"
    with pytest.raises(openai.BadRequestError) as info:
        sdk.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert "completed" in info.value.body["message"]
    assert sdk.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id).status == "completed"


def test_metadata_is_replaced_and_tool_resources_are_replaced_per_tool(sdk):
    notes = upload(sdk)
    store = sdk.vector_stores.create(name="notes")
    assistant = sdk.beta.assistants.create(
        model="offline", metadata={"a": "1", "b": "2"},
        tool_resources={"code_interpreter": {"file_ids": [notes.id]}, "file_search": {"vector_store_ids": [store.id]}},
    )
    updated = sdk.beta.assistants.update(assistant.id, metadata={"c": "3"}, tool_resources={"code_interpreter": {"file_ids": []}})
    assert updated.metadata == {"c": "3"}
    assert updated.tool_resources.code_interpreter.file_ids == [] and updated.tool_resources.file_search.vector_store_ids == [store.id]
    untouched = sdk.beta.assistants.update(assistant.id, name="Tutor")
    assert untouched.metadata == {"c": "3"} and untouched.tool_resources.file_search.vector_store_ids == [store.id]
    thread = sdk.beta.threads.create(metadata={"a": "1"}, tool_resources={"file_search": {"vector_store_ids": [store.id]}})
    thread = sdk.beta.threads.update(thread.id, tool_resources={"code_interpreter": {"file_ids": [notes.id]}})
    assert thread.tool_resources.file_search.vector_store_ids == [store.id] and thread.tool_resources.code_interpreter.file_ids == [notes.id]
    assert thread.metadata == {"a": "1"}


# --- streaming: annotations, image parts, part indexes ------------------------------------------


def stream_events(sdk, thread_id: str, assistant_id: str):
    """The run's events as the SDK parsed them, and its final messages."""
    with sdk.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant_id) as stream:
        events = list(stream)
    run = stream.get_final_run()
    assert run.status == "completed", run.last_error
    return [e for e in events if e.event == "thread.message.delta"], stream.get_final_messages()


def test_streamed_text_carries_its_citations_with_their_indexes(sdk):
    notes = upload(sdk, "photosynthesis.txt")
    assistant = sdk.beta.assistants.create(
        model="offline", tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [notes.id]}]}},
    )
    sdk.vector_stores.files.poll(notes.id, vector_store_id=assistant.tool_resources.file_search.vector_store_ids[0], poll_interval_ms=100)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "What does photosynthesis produce?"}])
    deltas, messages = stream_events(sdk, thread.id, assistant.id)
    final = sdk.beta.threads.messages.retrieve(messages[-1].id, thread_id=thread.id)
    [text_index] = [i for i, part in enumerate(final.content) if part.type == "text"]
    saved = [a.model_dump(exclude_none=True) for a in final.content[text_index].text.annotations]
    assert saved and saved[0]["type"] == "file_citation" and saved[0]["file_citation"]["file_id"] == notes.id
    streamed = [a for d in deltas for part in d.data.delta.content or [] if part.type == "text" and part.text.annotations for a in part.text.annotations]
    assert [a.index for a in streamed] == list(range(len(saved)))
    assert [{k: v for k, v in a.model_dump(exclude_none=True).items() if k != "index"} for a in streamed] == saved
    # The SDK's own snapshot, built from the deltas, equals the saved message.
    assert [a.model_dump(exclude_none=True) for a in messages[-1].content[text_index].text.annotations] == saved
    assert {part.index for d in deltas if d.data.id == final.id for part in d.data.delta.content or []} == {text_index}


def test_a_plot_streams_as_an_image_part_before_the_text_with_the_final_indexes(sdk):
    if problem := sandbox.probe():  # the plot runs in the Code Interpreter's sandbox
        skip_or_fail(problem)
    assistant = sdk.beta.assistants.create(model="offline", tools=[{"type": "code_interpreter"}])
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "plot y = x^2 from -5 to 5"}])
    deltas, messages = stream_events(sdk, thread.id, assistant.id)
    final = sdk.beta.threads.messages.retrieve(messages[-1].id, thread_id=thread.id)
    assert [p.type for p in final.content] == ["image_file", "text"]
    parts = [part for d in deltas if d.data.id == final.id for part in d.data.delta.content or []]
    images = [p for p in parts if p.type == "image_file"]
    assert [(p.index, p.image_file.file_id) for p in images] == [(0, final.content[0].image_file.file_id)]
    assert parts.index(images[0]) == 0  # before any text
    assert {p.index for p in parts if p.type == "text"} == {1}
    assert "".join(p.text.value or "" for p in parts if p.type == "text") == final.content[1].text.value
    assert [p.type for p in messages[-1].content] == ["image_file", "text"]


# --- chunking strategy --------------------------------------------------------------------------

LONG_NOTES = "".join(f"Note {i}: photosynthesis turns light into chemical energy in leaf number {i}.\n" for i in range(200)).encode()
CONTENT = ["step_details.tool_calls[*].file_search.results[*].content"]


def searched_passages(sdk, assistant_id: str) -> list[str]:
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "What does photosynthesis turn light into?"}])
    run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_id, poll_interval_ms=100)
    assert run.status == "completed", run.last_error
    steps = sdk.beta.threads.runs.steps.list(run.id, thread_id=thread.id, include=CONTENT).data
    results = [r for s in steps if s.type == "tool_calls" for c in s.step_details.tool_calls if c.type == "file_search" for r in c.file_search.results]
    assert results
    return [r.content[0].text for r in results]


def test_a_static_chunking_strategy_is_reported_and_used(sdk):
    notes = upload(sdk, "leaves.txt", LONG_NOTES)
    small = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}
    assistant = sdk.beta.assistants.create(
        model="offline", tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [notes.id], "chunking_strategy": small}]}},
    )
    store_id = assistant.tool_resources.file_search.vector_store_ids[0]
    entry = sdk.vector_stores.files.poll(notes.id, vector_store_id=store_id, poll_interval_ms=100)
    assert entry.status == "completed"
    assert (entry.chunking_strategy.type, entry.chunking_strategy.static.max_chunk_size_tokens, entry.chunking_strategy.static.chunk_overlap_tokens) == ("static", 100, 0)

    default = sdk.vector_stores.create(name="default", file_ids=[notes.id], chunking_strategy={"type": "auto"})
    auto_entry = sdk.vector_stores.files.poll(notes.id, vector_store_id=default.id, poll_interval_ms=100)
    assert auto_entry.chunking_strategy.static.max_chunk_size_tokens > 100  # the server's, reported as it is
    other = sdk.beta.assistants.create(model="offline", tools=[{"type": "file_search"}], tool_resources={"file_search": {"vector_store_ids": [default.id]}})

    # The same bytes, split two ways: 100-token passages are several times shorter.
    small_passages, default_passages = searched_passages(sdk, assistant.id), searched_passages(sdk, other.id)
    assert max(map(len, small_passages)) * 3 < max(map(len, default_passages))


def test_a_batch_applies_each_files_own_strategy(sdk):
    first, second = upload(sdk, "a.txt", LONG_NOTES), upload(sdk, "b.txt", NOTES)
    store = sdk.vector_stores.create(name="mixed")
    sdk.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, poll_interval_ms=100,
        files=[{"file_id": first.id, "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50}}},
               {"file_id": second.id}],
    )
    entries = {e.id: e.chunking_strategy.static for e in sdk.vector_stores.files.list(vector_store_id=store.id)}
    assert (entries[first.id].max_chunk_size_tokens, entries[first.id].chunk_overlap_tokens) == (200, 50)
    assert entries[second.id].max_chunk_size_tokens != 200


def test_an_overlap_above_half_the_chunk_is_refused(sdk):
    bad = {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101}}
    refused(lambda: sdk.vector_stores.create(name="x", chunking_strategy=bad), "chunking_strategy.static.chunk_overlap_tokens")
