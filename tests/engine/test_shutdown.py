"""A stopping server (chat.shutdown) ends its runs and its pages' sockets at once, in a
clear state. The whole path, with a real SIGTERM, SSE through the SDK and a real socket,
is tests/security/test_restarts.py; these check each piece in-process."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat import consumers
from chat.api import streaming
from chat.engine import dispatch
from chat.models import Message, Run
from chat.services.messages import post_message
from tests.engine.scripted import ScriptedProvider, text_turn, use
from tests.test_consumers import connect

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _serving_again_afterwards(monkeypatch):
    """Each test stops 'the server'; the next test's server is a new one."""
    monkeypatch.setattr(dispatch, "_stopping", False)
    monkeypatch.setattr(streaming, "_closing", False)


async def start_slow_run(monkeypatch, thread, tutor) -> tuple[Run, ScriptedProvider]:
    provider = ScriptedProvider(text_turn(*[f"word{i} " for i in range(200)]), delay=0.02)
    use(monkeypatch, provider)
    _, run = await sync_to_async(post_message)(thread, "Tell me a long story", tutor, start=False)
    dispatch.dispatch(run.id)
    await asyncio.wait_for(provider.started.wait(), 10)
    await asyncio.sleep(0.1)  # a few words in
    return run, provider


async def test_a_run_in_flight_fails_at_once_with_a_clear_error_and_keeps_its_partial_answer(monkeypatch, thread, tutor):
    run, _ = await start_slow_run(monkeypatch, thread, tutor)
    await dispatch.stop_runs(timeout=10)
    run = await sync_to_async(Run.objects.get)(pk=run.pk)
    assert run.status == "failed" and run.worker == ""
    assert run.last_error == {"code": "server_error", "message": "The server was stopped during this run; the partial answer was kept."}
    answer = await sync_to_async(Message.objects.get)(run=run)
    assert answer.status == "incomplete" and answer.text.startswith("word0 ")


async def test_a_stopping_server_starts_no_new_run(thread, tutor):
    await dispatch.stop_runs(timeout=1)
    _, run = await sync_to_async(post_message)(thread, "2 + 2", tutor, start=False)
    dispatch.dispatch(run.id)
    await asyncio.sleep(0)
    assert not dispatch.is_executing_here(run.id)
    assert (await sync_to_async(Run.objects.get)(pk=run.pk)).status == "queued"  # the next start runs it


async def test_each_open_page_gets_the_final_status_then_a_reconnecting_close(monkeypatch, alice, thread, tutor):
    communicator, connected, _ = await connect(thread.id, alice)
    assert connected
    await communicator.receive_from()  # the snapshot
    await start_slow_run(monkeypatch, thread, tutor)
    await dispatch.stop_runs(timeout=10)
    await consumers.close_open_sockets(timeout=10)
    frames = []
    while True:
        output = await communicator.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            break
        frames.append(output.get("text", ""))
    assert output["code"] == consumers.SERVICE_RESTART
    assert "chip--failed" in frames[-1]  # the last thing the page shows is the run as it ended
    assert not consumers._open_sockets


async def test_a_stream_of_a_run_this_process_does_not_execute_ends_with_a_reason(thread, tutor):
    _, run = await sync_to_async(post_message)(thread, "2 + 2", tutor, start=False)  # queued, never started here
    subscription = await streaming.subscribe(thread.id)
    tracker = streaming.RunEvents(run.id)
    stream = streaming.run_stream(subscription, tracker, await sync_to_async(tracker.opening)(run))
    received = [await anext(stream)]  # the opening events, in one write
    assert received[0].startswith(b"event: thread.run.created\n") and b"event: thread.run.queued\n" in received[0]
    ending = asyncio.create_task(streaming.end_streams(timeout=10))
    received += [chunk async for chunk in stream]
    await ending
    assert received[-2].startswith(b"event: error\n") and b"The server is restarting" in received[-2]
    assert received[-1] == streaming.DONE
    assert not streaming._open_streams
