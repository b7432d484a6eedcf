"""Every object /v1 returns fits the SDK's own type (openai.types …), with no key the type
lacks and ``null`` only where the OpenAPI spec makes the field nullable: an optional field
that is not nullable (a file's ``expires_at``, a vector store's ``expires_after``) is left out.
Objects are made and fetched through the API."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from openai.types import FileObject, VectorStore
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep
from openai.types.vector_stores import VectorStoreFile, VectorStoreFileBatch

from chat.api.models import ApiKey
from chat.models import Run as RunRow
from chat.models import RunStep as StepRow

pytestmark = [pytest.mark.django_db]

# Fields the OpenAPI spec marks nullable (every other field is never null when present).
NULLABLE = {
    Assistant: {"name", "description", "instructions", "tool_resources", "metadata", "temperature", "top_p", "response_format"},
    Thread: {"tool_resources", "metadata"},
    Message: {"incomplete_details", "completed_at", "incomplete_at", "assistant_id", "run_id", "attachments", "metadata"},
    Run: {"required_action", "last_error", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at", "incomplete_details",
          "usage", "max_prompt_tokens", "max_completion_tokens", "truncation_strategy", "tool_choice", "response_format", "metadata",
          "temperature", "top_p"},
    RunStep: {"last_error", "expired_at", "cancelled_at", "failed_at", "completed_at", "usage", "metadata"},
    FileObject: set(),
    VectorStore: {"expires_at", "last_active_at", "metadata"},
    VectorStoreFile: {"last_error", "attributes"},
    VectorStoreFileBatch: set(),
}
NOTE = {"type": "function", "function": {"name": "save_note", "parameters": {"type": "object", "properties": {}}}}


def fits(sdk_type, data: dict) -> None:
    sdk_type.model_validate(data, strict=True)
    assert set(data) <= set(sdk_type.model_fields), set(data) - set(sdk_type.model_fields)
    nulls = {name for name, value in data.items() if value is None}
    assert nulls <= NULLABLE[sdk_type], (sdk_type.__name__, nulls - NULLABLE[sdk_type])


@pytest.fixture
def api(client, alice):
    key = ApiKey.issue(alice, "tests")[1]

    def call(method: str, path: str, body: dict | None = None, **extra) -> dict:
        response = getattr(client, method)(path, data=json.dumps(body) if body is not None else "", content_type="application/json",
                                           HTTP_AUTHORIZATION=f"Bearer {key}", **extra)
        assert response.status_code == 200, response.content
        return response.json()

    return call


def test_every_object_fits_the_sdks_type_with_nulls_only_where_the_spec_allows(api, client, alice):
    upload = client.post("/v1/files", {"purpose": "assistants", "file": ContentFile(b"Photosynthesis makes sugar.", name="notes.txt")},
                         HTTP_AUTHORIZATION=f"Bearer {ApiKey.issue(alice, 'upload')[1]}")
    file = upload.json()
    fits(FileObject, file)
    fits(FileObject, api("get", f"/v1/files/{file['id']}"))
    assert "expires_at" not in file

    store = api("post", "/v1/vector_stores", {"name": "notes", "file_ids": [file["id"]], "expires_after": {"anchor": "last_active_at", "days": 7}})
    fits(VectorStore, store)
    assert "expires_after" not in store
    fits(VectorStoreFile, api("get", f"/v1/vector_stores/{store['id']}/files/{file['id']}"))
    fits(VectorStoreFileBatch, api("post", f"/v1/vector_stores/{store['id']}/file_batches", {"file_ids": [file["id"]]}))

    for assistant in (api("post", "/v1/assistants", {"model": "offline"}),
                      api("post", "/v1/assistants", {"model": "offline", "name": "Tutor", "tools": [NOTE, {"type": "file_search"}],
                                                     "tool_resources": {"file_search": {"vector_store_ids": [store["id"]]}},
                                                     "temperature": 0.5, "response_format": {"type": "json_object"}})):
        fits(Assistant, assistant)
    thread = api("post", "/v1/threads", {"messages": [{"role": "user", "content": "hi", "attachments": [{"file_id": file["id"], "tools": [{"type": "code_interpreter"}]}]}]})
    fits(Thread, thread)
    for message in api("get", f"/v1/threads/{thread['id']}/messages")["data"]:
        fits(Message, message)

    # A run in each status the engine leaves it in (made directly: the engine has its own tests).
    call = {"id": "call_1", "type": "function", "function": {"name": "save_note", "arguments": "{}", "output": None}}
    for status in ("queued", "in_progress", "requires_action", "completed", "failed", "cancelled", "expired", "incomplete"):
        own = api("post", "/v1/threads", {})["id"]  # a thread has one active run at a time
        row = RunRow.objects.create(thread_id=own, assistant_id=assistant["id"], model="offline", status=status, tools=[NOTE])
        StepRow.objects.create(run=row, type="tool_calls", step_details={"type": "tool_calls", "tool_calls": [call]})
        run = api("get", f"/v1/threads/{own}/runs/{row.id}")
        fits(Run, run)
        assert (run["expires_at"] is not None) == (status in ("queued", "in_progress", "requires_action")), (status, run["expires_at"])
        for step in api("get", f"/v1/threads/{own}/runs/{row.id}/steps")["data"]:
            fits(RunStep, step)


def test_unset_sampling_settings_read_as_the_hosted_defaults(api):
    assistant = api("post", "/v1/assistants", {"model": "offline"})
    assert (assistant["temperature"], assistant["top_p"]) == (1.0, 1.0)
    assert api("post", "/v1/assistants", {"model": "offline", "temperature": 0.2})["temperature"] == 0.2
