"""Through the SDK, as on the hosted API: a run on a thread whose attached files are still
being read stays `queued` until every one of them is read, then searches them all."""

from __future__ import annotations

import time

import pytest

from tests.retrieval.conftest import GPT2

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_a_run_stays_queued_until_the_threads_files_are_read(sdk):
    paper = sdk.files.create(file=(GPT2.name, GPT2.read_bytes(), "application/pdf"), purpose="assistants")
    notes = sdk.files.create(file=("notes.md", b"Zero-shot task transfer: notes from the reading group."), purpose="assistants")
    reader = sdk.beta.assistants.create(name="Reader", model="offline", tools=[{"type": "file_search"}])
    attachments = [{"file_id": f.id, "tools": [{"type": "file_search"}]} for f in (paper, notes)]
    thread = sdk.beta.threads.create(
        messages=[{"role": "user", "content": "What does it say about zero-shot task transfer?", "attachments": attachments}]
    )
    [store_id] = thread.tool_resources.file_search.vector_store_ids
    run = sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id=reader.id)

    guard = time.monotonic() + 60  # a hang guard, not a timing assertion
    while run.status in ("queued", "in_progress"):
        assert time.monotonic() < guard, f"run still {run.status}"
        run = sdk.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        files = {f.id: f.status for f in sdk.vector_stores.files.list(vector_store_id=store_id)}
        if run.status != "queued":  # it started before this read, so its files were read by then
            assert files == {paper.id: "completed", notes.id: "completed"}
        time.sleep(0.05)
    assert run.status == "completed", run.last_error

    steps = sdk.beta.threads.runs.steps.list(run.id, thread_id=thread.id, include=["step_details.tool_calls[*].file_search.results[*].content"])
    searched = {
        result.file_name
        for step in steps
        if step.step_details.type == "tool_calls"
        for call in step.step_details.tool_calls
        for result in call.file_search.results
    }
    assert searched == {GPT2.name, "notes.md"}
