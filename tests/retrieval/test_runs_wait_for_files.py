"""A run waits for the files attached to its thread: the sweep, a restart and a /v1
client cannot start it while one is still being read; when the last is read (or has
failed), the run starts and can search them all. Replays the probe where a run with
three attachments started after 32.8 s with two of them unindexed."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from chat.api.models import ApiKey
from chat.engine import dispatch, recovery
from chat.engine.runs import cancel_run
from chat.models import File, Run, RunStep
from chat.retrieval import ingest
from chat.retrieval.waiting import READING_FILES
from chat.services.messages import post_message
from tests.test_consumers import connect, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]

NOTES = {
    "volcanoes.md": b"Volcano notes: magma that reaches the surface is called lava.",
    "glaciers.md": b"Glacier notes: a glacier moves downhill under its own weight, as a slow river of ice.",
    "deserts.md": b"Desert notes: a desert receives less than 250 millimetres of rain a year.",
}
QUESTION = "What do my notes say about volcano, glacier and desert?"


@pytest.fixture
def held_ingest(monkeypatch):
    """Ingest that has not run yet: the files stay in progress until the test reads them."""
    held: list[tuple[list[int], str | None]] = []
    monkeypatch.setattr(ingest, "runner", lambda ids, thread_id: held.append((ids, thread_id)))

    def read_all() -> None:
        while held:
            ingest.ingest_now(*held.pop(0))

    return read_all


@pytest.fixture
def on_this_loop(monkeypatch):
    """Runs dispatched from other threads (the ingest's) execute on the test's loop."""

    async def bind():
        monkeypatch.setattr(dispatch, "_server_loop", asyncio.get_running_loop())

    return bind


def _uploads(notes=NOTES):
    return [SimpleUploadedFile(name, data) for name, data in notes.items()]


@sync_to_async
def ask_with_files(thread, tutor, notes=NOTES):
    _message, run = post_message(thread, QUESTION, tutor, uploads=_uploads(notes))
    return run


@sync_to_async
def status_of(run) -> str:
    return Run.objects.get(pk=run.pk).status


async def until_ended(run, guard: float = 20.0) -> Run:
    """The run's row once it has ended (a hang guard, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + guard
    while True:
        row = await sync_to_async(Run.objects.get)(pk=run.pk)
        if row.status not in ("queued", "in_progress"):
            return row
        assert loop.time() < deadline, f"run still {row.status} after {guard} s"
        await asyncio.sleep(0.05)


@sync_to_async
def searched_files(run) -> set[str]:
    steps = RunStep.objects.filter(run=run, type="tool_calls")
    names = set()
    for step in steps:
        for call in step.step_details["tool_calls"]:
            names |= {r["file_name"] for r in call.get("file_search", {}).get("results", [])}
    return names


async def test_the_sweep_does_not_start_a_run_whose_files_are_still_being_read(thread, tutor, held_ingest, on_this_loop):
    await on_this_loop()
    run = await ask_with_files(thread, tutor)
    await dispatch.wait_idle()
    # Long past the 30 s after which the sweep takes a queued run nobody started.
    await sync_to_async(Run.objects.filter(pk=run.pk).update)(created_at=timezone.now() - timedelta(hours=1))
    await recovery.sweep()
    await dispatch.wait_idle()
    assert await status_of(run) == "queued"
    assert run.id not in await sync_to_async(recovery.unclaimed_queued)(older_than=0)


async def test_a_restart_keeps_the_run_waiting_and_the_resumed_ingest_starts_it(thread, tutor, held_ingest, on_this_loop):
    await on_this_loop()
    run = await ask_with_files(thread, tutor)  # the server "dies" here: the held ingest never runs
    await recovery.sweep(startup=True)
    await dispatch.wait_idle()
    assert await status_of(run) == "queued"

    ingest.resume_unfinished()  # what start_engine does at start-up, in its own thread
    ended = await until_ended(run)
    assert ended.status == "completed"
    assert await searched_files(run) == set(NOTES)


async def test_when_every_file_is_read_the_run_starts_and_searches_them_all(thread, tutor, held_ingest, on_this_loop):
    await on_this_loop()
    run = await ask_with_files(thread, tutor)
    await dispatch.wait_idle()
    assert await status_of(run) == "queued"  # dispatched after commit, but it waits

    await sync_to_async(held_ingest)()  # the ingest thread's work; it dispatches the run
    ended = await until_ended(run)
    assert ended.status == "completed"
    assert await searched_files(run) == set(NOTES)


async def test_a_file_that_fails_does_not_hold_the_run_back_and_is_reported(thread, tutor, held_ingest, on_this_loop, alice_client):
    await on_this_loop()
    notes = {"volcanoes.md": NOTES["volcanoes.md"], "broken.pdf": b"%PDF-1.4 this is not really a pdf"}
    run = await ask_with_files(thread, tutor, notes)
    await sync_to_async(held_ingest)()
    ended = await until_ended(run)
    assert ended.status == "completed"
    assert await searched_files(run) == {"volcanoes.md"}
    broken = await sync_to_async(File.objects.get)(filename="broken.pdf")
    assert broken.status == "error"
    page = (await sync_to_async(alice_client.get)(reverse("chat:thread", args=[thread.id]))).content.decode()
    assert f'id="file-chip-{broken.id}" class="file-chip file-chip--error"' in page


async def test_a_run_waiting_for_its_files_can_be_cancelled_and_stays_cancelled(thread, tutor, held_ingest, on_this_loop):
    await on_this_loop()
    run = await ask_with_files(thread, tutor)
    await dispatch.wait_idle()
    assert await sync_to_async(cancel_run)(await sync_to_async(Run.objects.get)(pk=run.pk))
    assert await status_of(run) == "cancelled"
    await sync_to_async(held_ingest)()
    await dispatch.wait_idle()
    assert await status_of(run) == "cancelled"


def test_the_thread_page_says_it_is_reading_the_files(alice_client, thread, tutor, held_ingest):
    response = alice_client.post(
        reverse("chat:message_create", args=[thread.id]),
        {"text": QUESTION, "assistant": tutor.id, "files": _uploads()},
        HTTP_HX_REQUEST="true",
    )
    assert READING_FILES in response.content.decode()  # the composer's reply renders the panel
    page = alice_client.get(reverse("chat:thread", args=[thread.id])).content.decode()
    assert f'<span class="chip chip--queued">{READING_FILES}</span>' in page
    held_ingest()
    _settle_background_runs()
    assert Run.objects.get(thread=thread).status_label == "Completed"  # started once its files were read


async def test_the_waiting_status_is_pushed_to_an_open_page(alice, thread, tutor, held_ingest, on_this_loop):
    await on_this_loop()
    communicator, connected, _ = await connect(thread.id, alice)
    assert connected
    try:
        await communicator.receive_from()  # the snapshot
        await ask_with_files(thread, tutor)  # dispatched after commit: it finds its files unread
        frames = await receive_until(communicator, READING_FILES)
        assert 'id="run-status"' in frames[-1]
        await sync_to_async(held_ingest)()
        await receive_until(communicator, "chip--completed")
    finally:
        await communicator.disconnect()


def test_through_v1_a_run_stays_queued_until_the_thread_files_are_read(client, alice, tutor, held_ingest):
    key = ApiKey.issue(alice, "tests")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def post(path, body):
        response = client.post(path, data=json.dumps(body), content_type="application/json", **auth)
        assert response.status_code == 200, response.content
        return response.json()

    file_ids = []
    for name, data in NOTES.items():
        response = client.post("/v1/files", {"file": SimpleUploadedFile(name, data), "purpose": "assistants"}, **auth)
        assert response.status_code == 200, response.content
        file_ids.append(response.json()["id"])
    attachments = [{"file_id": f, "tools": [{"type": "file_search"}]} for f in file_ids]
    thread = post("/v1/threads", {"messages": [{"role": "user", "content": QUESTION, "attachments": attachments}]})
    run = post(f"/v1/threads/{thread['id']}/runs", {"assistant_id": tutor.id, "tools": [{"type": "file_search"}]})
    _settle_background_runs()
    retrieved = client.get(f"/v1/threads/{thread['id']}/runs/{run['id']}", **auth).json()
    assert retrieved["status"] == "queued"

    held_ingest()
    _settle_background_runs()
    row = Run.objects.get(pk=run["id"])
    assert row.status == "completed"
    steps = RunStep.objects.filter(run=row, type="tool_calls")
    names = {r["file_name"] for s in steps for c in s.step_details["tool_calls"] for r in c["file_search"]["results"]}
    assert names == set(NOTES)


def _settle_background_runs() -> None:
    """Wait (with a guard) until the engine's own loop has no run left to execute."""
    loop = dispatch._background_loop()
    asyncio.run_coroutine_threadsafe(dispatch.wait_idle(timeout=20), loop).result(30)
