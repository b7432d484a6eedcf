"""An SSE stream is served from the events' payloads: a stream that receives every event of
its run never reads the rows after its opening. A skipped sequence number (an event
dropped from a full queue) or a quiet spell after the run's status moved (its last event
dropped) makes it read them, and the stream is still complete and in the API's order.

Events are lost where a reader takes them (``lose``). The run is executed to its end first and the stream read afterwards (the events wait on
its channel), so no resync timer fires and the counts are exact; one test drops an event
while the run streams.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.api import serializers, streaming
from chat.engine import dispatch, events, executor
from chat.models import Message, Run, RunStep, Thread
from chat.services.messages import post_message
from tests.api.test_streaming_at_scale import ORDER
from tests.engine.scripted import ScriptedProvider, call_turn, text_turn, use
from tests.test_consumers import lose

pytestmark = [pytest.mark.django_db(transaction=True)]

LOOKUP = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
CALL_ORDER = [
    "thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
    "thread.run.step.in_progress", "thread.run.step.delta", "thread.run.step.delta", "thread.run.requires_action",
]


@pytest.fixture
def reads(monkeypatch) -> list[tuple[str, int]]:
    """Every read of the rows a stream makes after its opening: (what, queries)."""
    made: list[tuple[str, int]] = []
    read_rows = streaming._read_rows

    def counted(fn):
        def read():
            with CaptureQueriesContext(connection) as queries:
                result = fn()
            made.append((fn.__name__, len(queries)))
            return result

        return read_rows(read)

    monkeypatch.setattr(streaming, "_read_rows", counted)
    statuses = events._statuses

    async def looked(run_ids):
        made.append(("status", len(run_ids)))
        return await statuses(run_ids)

    monkeypatch.setattr(events, "_statuses", looked)  # one query for every run looked at
    return made


async def open_stream(thread, tutor, *, tools=None):
    _, run = await sync_to_async(post_message)(thread, "3x + 11 = 14", tutor, start=False)
    if tools is not None:
        await Run.objects.filter(pk=run.pk).aupdate(tools=tools)
        run.tools = tools
    run = await sync_to_async(serializers.with_visibility)(run)
    subscription = await streaming.subscribe(thread.id)
    tracker = streaming.RunEvents(run.id)
    return run, streaming.run_stream(subscription, tracker, tracker.opening(run))


async def received(stream) -> list[tuple[str, dict]]:
    out = []
    async for chunk in stream:
        for block in chunk.decode().split("\n\n"):
            if block.strip():
                fields = dict(line.split(": ", 1) for line in block.splitlines())
                out.append((fields["event"], fields["data"] if fields["data"] == "[DONE]" else json.loads(fields["data"])))
    return out


def kinds(events) -> list[str]:
    """Event names in order, runs of text deltas as one (how many depends on merging)."""
    out = []
    for name, _ in events:
        if not (out and out[-1] == name == "thread.message.delta"):
            out.append(name)
    return out


def text(events) -> str:
    return "".join(
        part["text"]["value"] for name, data in events if name == "thread.message.delta" for part in data["delta"]["content"] if part["type"] == "text"
    )


async def answer_of(run) -> Message:
    return await Message.objects.aget(run_id=run.id)


async def test_a_stream_that_receives_every_event_reads_no_rows(monkeypatch, reads, thread, tutor):
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11, ", "then divide.")))
    run, stream = await open_stream(thread, tutor)
    await executor.execute(run.id)
    events = await received(stream)
    assert reads == []
    assert kinds(events) == [*ORDER, "done"]
    answer = await answer_of(run)
    assert text(events) == answer.text == "Subtract 11, then divide."
    completed = next(data for name, data in events if name == "thread.message.completed")
    assert completed["content"] == answer.content and completed["status"] == "completed"
    final = events[-2][1]
    assert final["status"] == "completed" and final["usage"] == {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}


async def test_a_function_call_is_served_from_the_events_too(monkeypatch, reads, thread, tutor):
    use(monkeypatch, ScriptedProvider(call_turn(("call_1", "lookup", '{"q": "x"}'))))
    run, stream = await open_stream(thread, tutor, tools=LOOKUP)
    await executor.execute(run.id)
    events = await received(stream)
    assert reads == []
    assert kinds(events) == [*CALL_ORDER, "done"]
    opened, arguments = (data["delta"]["step_details"]["tool_calls"][0] for data in (events[5][1], events[6][1]))
    assert opened["id"] == "call_1" and opened["function"]["arguments"] == "" and arguments["function"]["arguments"] == '{"q": "x"}'
    assert events[-2][1]["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"] == "call_1"


@pytest.mark.parametrize("lost", ["run.status", "run.step", "message.created", "message.delta", "message.completed"])
async def test_a_dropped_event_makes_the_stream_read_the_rows_and_lose_nothing(monkeypatch, reads, thread, tutor, lost):
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11, ", "then divide.")))
    dropped = lose(monkeypatch, lost)
    run, stream = await open_stream(thread, tutor)
    await executor.execute(run.id)
    events = await received(stream)
    assert dropped and [what for what, _ in reads] == ["reconcile"]  # at the next event: its number skips one
    assert kinds(events) == [*ORDER, "done"]
    assert text(events) == (await answer_of(run)).text


async def test_a_dropped_last_event_is_found_by_the_run_status_moving(monkeypatch, reads, thread, tutor):
    monkeypatch.setattr("chat.engine.events.QUIET_SECONDS", 0.01)
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11, ", "then divide.")))
    dropped = lose(monkeypatch, "run.status", status="completed")
    run, stream = await open_stream(thread, tutor)
    await executor.execute(run.id)
    events = await received(stream)
    assert dropped and kinds(events) == [*ORDER, "done"] and events[-2][1]["status"] == "completed"
    # Nothing followed the lost event to show the gap: after a quiet spell, the run's
    # status (one query) has moved, and nothing waiting explains it; at the next look it
    # has moved still (its event was not on its way), so the rows are read.
    assert reads[:2] == [("status", 1), ("status", 1)] and reads[2][0] == "reconcile" and reads[2][1] > 1 and len(reads) == 3


async def test_a_stream_waiting_for_a_queued_run_looks_only_at_its_status(monkeypatch, reads, thread, tutor):
    monkeypatch.setattr("chat.engine.events.QUIET_SECONDS", 0.01)
    monkeypatch.setattr("chat.engine.events.QUIET_MAX_SECONDS", 0.01)
    monkeypatch.setattr(streaming, "_closing", False)  # end_streams sets it for the process
    _, stream = await open_stream(thread, tutor)  # never started here
    opening = await anext(stream)
    waiting = asyncio.create_task(received(stream))
    while len(reads) < 3:
        await asyncio.sleep(0.01)
    await streaming.end_streams(timeout=10)
    events = await waiting
    assert b"thread.run.queued" in opening and [name for name, _ in events] == ["error", "done"]
    assert set(reads) == {("status", 1)}


async def test_readers_that_look_at_the_same_moment_share_one_query(reads, alice, tutor):
    """200 streams waiting for their runs to start looked one query and one trip each."""
    knowns = []
    for _ in range(5):
        thread = await Thread.objects.acreate(owner=alice, assistant=tutor)
        _, run = await sync_to_async(post_message)(thread, "3x + 11 = 14", tutor, start=False)
        known = events.KnownRun(run.id)
        known.run = run
        knowns.append(known)
    await Run.objects.filter(pk=knowns[0].run_id).aupdate(status="cancelled")
    moved = await asyncio.gather(*(known.status_moved() for known in knowns))
    assert moved == [True, False, False, False, False]
    assert reads == [("status", 5)]


async def test_an_event_dropped_while_the_run_streams_is_recovered_in_order(monkeypatch, reads, thread, tutor):
    use(monkeypatch, ScriptedProvider(text_turn(*[f"w{i} " for i in range(30)]), delay=0.002))
    dropped = lose(monkeypatch, "message.completed")
    run, stream = await open_stream(thread, tutor)
    dispatch.dispatch(run.id)
    events = await asyncio.wait_for(received(stream), 30)
    await dispatch.wait_idle()
    assert dropped and [what for what, _ in reads if what == "reconcile"] == ["reconcile"]  # at the gap only
    assert kinds(events) == [*ORDER, "done"]
    assert text(events) == (await answer_of(run)).text == "".join(f"w{i} " for i in range(30))


async def test_news_of_the_thread_is_no_reason_to_read_the_rows(monkeypatch, reads, thread, tutor):
    """A file's new status and removed messages are the pages' news (events.THREAD_EVENTS):
    unnumbered, they were taken for lost events and made the stream read the rows."""
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11.")))
    run, stream = await open_stream(thread, tutor)
    await events.publish(thread.id, events.FILE_STATUS, file_id="file_x")
    await events.publish(thread.id, events.MESSAGES_REMOVED, message_ids=["msg_x"])
    await executor.execute(run.id)
    got = await received(stream)
    assert reads == []
    assert kinds(got) == [*ORDER, "done"]


def test_an_event_without_payload_or_number_is_not_applied(thread, tutor):
    _, run = post_message(thread, "go", tutor, start=False)
    tracker = streaming.RunEvents(run.id)
    tracker.opening(serializers.with_visibility(run))
    status = {"status": "in_progress", "started_at": 1.0}
    assert tracker.apply({"type": "run.status", "run_id": run.id}) is None  # a one-off (a cancel, a recovery)
    assert tracker.apply({"type": "run.status", "run_id": run.id, "seq": 2, "run": status}) is None  # 1 is missing
    assert tracker.apply({"type": "run.step", "run_id": run.id, "seq": 1, "step_id": "step_x", "step": None}) is None  # too large to carry
    assert tracker.apply({"type": "run.status", "run_id": "run_other", "seq": 7}) == []  # another run's
    applied = tracker.apply({"type": "run.status", "run_id": run.id, "seq": 1, "run": status})
    assert [name for name, _ in applied] == ["thread.run.in_progress"] and tracker.seq == 1


def test_a_step_too_large_to_carry_travels_without_its_fields(thread, tutor):
    _, run = post_message(thread, "go", tutor, start=False)
    results = [{"file_id": "file_x", "file_name": "book.pdf", "score": 0.5, "content": [{"type": "text", "text": "x" * 40_000}]}]
    step = RunStep.objects.create(
        run=run, type=RunStep.TOOL_CALLS,
        step_details={"type": "tool_calls", "tool_calls": [{"id": "call_1", "type": "file_search", "file_search": {"results": results}}]},
    )
    assert events.fields_of(step, events.STEP_FIELDS, limit=events.PAYLOAD_LIMIT) is None
    small = RunStep.objects.create(run=run, type=RunStep.MESSAGE_CREATION, step_details={"type": "message_creation"})
    data = events.fields_of(small, events.STEP_FIELDS, limit=events.PAYLOAD_LIMIT)
    restored = events.restore(RunStep(), data)
    assert (restored.id, restored.status, restored.created_at) == (small.id, small.status, small.created_at)


async def test_a_resumed_run_is_served_from_the_events_too(monkeypatch, reads, thread, tutor):
    """The resumed execution numbers its events on from the pause (Run.event_seq), and the
    stream opened by submit_tool_outputs starts its count there: no rows read."""
    from chat.engine.runs import submit_tool_outputs

    use(monkeypatch, ScriptedProvider(call_turn(("call_1", "lookup", '{"q": "x"}')), text_turn("Found ", "it.")))
    run, stream = await open_stream(thread, tutor, tools=LOOKUP)
    await executor.execute(run.id)
    await received(stream)
    run = await Run.objects.aget(pk=run.id)
    assert run.status == "requires_action" and run.event_seq > 0
    # As the API's submit_tool_outputs(stream=True) opens its stream.
    subscription = await streaming.subscribe(thread.id)
    tracker = streaming.RunEvents(run.id)
    await sync_to_async(tracker.skip_existing)(run)
    await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": "call_1", "output": "x"}], start=False)
    resumed = streaming.run_stream(subscription, tracker, tracker.resuming(await sync_to_async(serializers.with_visibility)(run)))
    await executor.execute(run.id)
    events = await received(resumed)
    assert reads == []
    assert [name for name, _ in events[-2:]] == ["thread.run.completed", "done"]
    assert text(events) == "Found it."
    # The tool step the submit completed is announced, with its output.
    tool_step = await RunStep.objects.aget(run_id=run.id, type=RunStep.TOOL_CALLS)
    completed = [data for name, data in events if name == "thread.run.step.completed" and data["id"] == tool_step.id]
    assert len(completed) == 1 and completed[0]["step_details"]["tool_calls"][0]["function"]["output"] == "x"


async def test_a_look_that_races_the_runs_events_takes_them_instead_of_reading_the_rows(monkeypatch, reads, thread, tutor):
    """The engine saves a change before it publishes it, so a look after a quiet spell can
    find the run moved while the event that moved it waits in the stream's queue: at 200
    runs, 658 re-reads per 400 streams. The waiting events explain the move."""
    monkeypatch.setattr("chat.engine.events.QUIET_SECONDS", 0.01)
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11, ", "then divide.")))
    run, stream = await open_stream(thread, tutor)
    statuses = events._statuses

    async def racing(run_ids):
        """The run executes (its events wait for the stream) while the look is under way."""
        if not any(what == "status" for what, _ in reads[:-1]):
            await executor.execute(run.id)
        return await statuses(run_ids)

    monkeypatch.setattr(events, "_statuses", racing)
    got = await asyncio.wait_for(received(stream), 30)
    assert reads[0] == ("status", 1) and "reconcile" not in [what for what, _ in reads]
    assert kinds(got) == [*ORDER, "done"]
    assert text(got) == (await answer_of(run)).text == "Subtract 11, then divide."


async def test_a_look_whose_waiting_events_do_not_reach_the_status_seen_reads_the_rows_if_the_next_look_finds_it_so(monkeypatch, reads, thread, tutor):
    monkeypatch.setattr("chat.engine.events.QUIET_SECONDS", 0.01)
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11, ", "then divide.")))
    dropped = lose(monkeypatch, "run.status", status="completed")
    run, stream = await open_stream(thread, tutor)
    statuses = events._statuses

    async def racing(run_ids):
        if not any(what == "status" for what, _ in reads[:-1]):
            await executor.execute(run.id)  # its last event is lost
        return await statuses(run_ids)

    monkeypatch.setattr(events, "_statuses", racing)
    got = await asyncio.wait_for(received(stream), 30)
    assert dropped and [what for what, _ in reads] == ["status", "status", "reconcile"]  # moved still at the next look
    assert kinds(got) == [*ORDER, "done"] and got[-2][1]["status"] == "completed"
    assert text(got) == (await answer_of(run)).text



class FedLayer:
    """A channel layer whose one channel the test fills, event by event, when it likes."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()

    async def receive(self, channel: str) -> dict:
        return await self.queue.get()

    def receive_nowait(self, channel: str) -> dict | None:
        return None if self.queue.empty() else self.queue.get_nowait()

    async def group_discard(self, group: str, channel: str) -> None:
        pass


async def test_a_stream_whose_events_outrun_it_writes_at_most_every_busy_write_seconds_and_at_once_when_it_keeps_up(monkeypatch, reads, thread, tutor):
    """At 200 runs, a stream wrote what each receive brought. One that comes back for more
    and finds more waiting than it wrote last time writes at most every
    BUSY_WRITE_SECONDS; one that finds as many or fewer, or waits, writes at once."""
    monkeypatch.setattr(streaming, "BUSY_WRITE_SECONDS", 0.5, raising=False)
    monkeypatch.setattr("chat.engine.events.QUIET_SECONDS", 60)
    pieces = [f"w{i} " for i in range(12)]
    use(monkeypatch, ScriptedProvider(text_turn(*pieces), delay=0.002))  # a delta per piece
    run, _ = await open_stream(thread, tutor)
    # The run's events, as they reached a stream: then fed to this one.
    subscription = await streaming.subscribe(thread.id)
    await executor.execute(run.id)
    sent = events.queued(subscription[0], subscription[1])
    await streaming.unsubscribe(subscription)
    run = await sync_to_async(serializers.with_visibility)(await Run.objects.aget(pk=run.id))
    run.status, run.started_at, run.event_seq = "queued", None, 0  # as the stream opened it
    tracker = streaming.RunEvents(run.id)
    layer = FedLayer()
    stream = streaming.run_stream((layer, "c", "g"), tracker, tracker.opening(run))
    loop = asyncio.get_running_loop()
    writes: list[tuple[float, bytes]] = []

    async def write(feed: int) -> float:
        """Feed ``feed`` events, then take the stream's next write; when it was asked for."""
        for _ in range(feed):
            layer.queue.put_nowait(sent.pop(0))
        asked = loop.time()
        writes.append((loop.time(), await asyncio.wait_for(anext(stream), 10)))
        writes[-1] = (loop.time(), writes[-1][1])
        return asked

    await write(0)  # the opening
    waited = asyncio.create_task(write(0))  # the stream waits for its next event: at once
    await asyncio.sleep(0.05)
    fed = loop.time()
    layer.queue.put_nowait(sent.pop(0))
    await waited
    assert writes[-1][0] - fed < 0.25
    asked = await write(2)  # more waiting than it wrote last: held
    assert writes[-1][0] - writes[-2][0] >= 0.5 * 0.95 and writes[-1][0] - asked > 0.2
    asked = await write(2)  # as many as it wrote last: at once
    assert writes[-1][0] - asked < 0.25
    asked = await write(5)  # more: held again
    assert writes[-1][0] - writes[-2][0] >= 0.5 * 0.95
    while sent:
        await write(len(sent))
    writes += [(loop.time(), chunk) async for chunk in stream]
    got = await received_from(writes)
    assert kinds(got) == [*ORDER, "done"] and text(got) == "".join(pieces)
    assert reads == []


async def received_from(writes: list[tuple[float, bytes]]) -> list[tuple[str, dict]]:
    async def chunks():
        for _, chunk in writes:
            yield chunk

    return await received(chunks())


async def test_the_pacing_holds_only_a_stream_with_more_waiting_than_it_wrote_last():
    pace = streaming.WritePace()
    assert pace.hold(waiting=3) == 0  # nothing written yet
    pace.wrote(2)
    assert 0 < pace.hold(waiting=3) <= streaming.BUSY_WRITE_SECONDS  # falling behind: it waits its turn
    assert pace.hold(waiting=2) == 0  # keeping up
    assert pace.hold(waiting=0) == 0  # it waited for its next event: caught up
