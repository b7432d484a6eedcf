"""Server-Sent Events for a run, in the hosted API's event names and shapes.

The stream subscribes to the thread's channel-layer group (the same group the browser's
socket listens on) *before* the run is queued, then turns each engine event into API
events. ``RunEvents`` keeps the run, its steps and its messages as it last knew them and
remembers what it has already sent, so every object is announced once and its deltas
always come after its ``created`` event.

The events carry what changed (events.py), so a stream that receives every event of its
run in sequence never reads the rows after its opening: 200 streams re-reading the run,
its steps and its messages at every event were a fifth of a busy server's time. What the
stream knows of the rows is an ``events.KnownRun``, its count of events an
``events.Sequence`` (the rules the browser's run panel follows too). The rows are read
(``reconcile``) only when the stream cannot trust what it knows: an event number skipped
(an event dropped from a full queue), an event without payload (a cancel or a recovery,
from any process), or a quiet spell (``events.QuietSpell``) after which the run's status
row moved (a dropped last event), the events already waiting for the stream do not bring
it there, and it has moved still at the next look (``QuietSpell.lost``: mostly a look
races an event on its way). The database stays the truth; a re-read yields the same
events the missed ones would have.

A stream writes what it received at once, unless its run's events outrun it (it comes back
for more and finds more waiting than it wrote last): then it writes at most every
``BUSY_WRITE_SECONDS`` until it keeps up again (``WritePace``).

A message's delta parts carry the indexes its final content will have: the image parts a
tool attaches (``tools.finish_content``, e.g. code_interpreter's plots) come first and are
streamed when the message is created, the text after them; the text's annotations
(citations, file paths), known once it is complete, come in a last delta before
``thread.message.completed``, each with its ``index`` as the hosted API streamed them.

A tool call streams as the hosted API streamed it, in ``thread.run.step.delta`` events
between its step's ``created`` and ``completed``: a first delta opening it (its index, id,
type and a function's name, with an empty input or arguments and no outputs), then its
input or arguments, then, once it ran, its outputs (a code_interpreter's ``logs`` and
``image`` as indexed entries, a function's output when the run gave it one). The SDK's
``AssistantEventHandler`` takes the first delta at an index for ``on_tool_call_created``
alone and adds the later ones up for ``on_tool_call_delta`` and ``on_tool_call_done``.
The step's rows carry the whole call; ``_call_deltas`` sends what it adds to what was told.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import json
import logging
from collections.abc import AsyncIterator, Callable

import orjson
from asgiref.sync import sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.http import StreamingHttpResponse

from chat import tools
from chat.api import serializers
from chat.engine import events, states
from chat.models import Message, Run, RunStep

logger = logging.getLogger("chat.api")

def sse(event: str, data: dict) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (event.encode(), event_json(data))


def event_json(data: dict) -> bytes:
    """Compact UTF-8 JSON, as the hosted API streams it. orjson's: ten times json.dumps's speed
    on a run's objects (json.dumps was most of a stream's own CPU per event), and the same
    bytes but for how a float may be written (0.00001 for 1e-05). The standard library's for
    what orjson refuses: an integer beyond 64 bits (a user's JSON Schema may hold one), a key
    that is not a string."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


DONE = b"event: done\ndata: [DONE]\n\n"
WAKE = "stream.wake"  # sent to a stream by end_streams


class RunEvents:
    """What one stream knows and has told its client about one run, and what it still owes."""

    def __init__(self, run_id: str, *, include_content: bool = False) -> None:
        self.run_id = run_id
        self.include_content = include_content
        # The run, its steps and its messages as last known: read from the rows, then
        # updated from the events' payloads.
        self.known = events.KnownRun(run_id)
        self.tool_parts: dict[str, list[dict]] = {}  # message id -> its tools' parts, from message.created
        self.sequence = events.Sequence(run_id, 0)  # the run's events taken in order (set from the run opened)
        self.final = False
        self.status: str | None = None
        self.set_up_hidden: bool | None = None  # a class run's: looked up once per stream
        self.steps: dict[str, str] = {}  # step id -> status last announced
        # step id -> its tool calls as announced (what their deltas add up to); None for a
        # step announced before a resumed stream (a client has no snapshot to add to there)
        self.calls: dict[str, list[dict] | None] = {}
        # message id -> [characters sent, finished?, index of the text part, image file ids sent]
        self.messages: dict[str, list] = {}

    @property
    def run(self) -> Run | None:
        return self.known.run

    @property
    def seq(self) -> int | None:
        return self.sequence.last

    def skip_existing(self, run: Run) -> None:
        """Treat the run's rows so far as already announced (resuming after tool outputs);
        steps still in progress will have their completion announced."""
        self.known.read(run)
        for step in self.known.steps.values():
            self.steps[step.id] = RunStep.IN_PROGRESS if step.status == RunStep.IN_PROGRESS else step.status
            self.calls[step.id] = None  # its calls were streamed before: only its completion is owed
        for message in self.known.messages.values():
            images = {p["image_file"]["file_id"] for p in message.content if p.get("type") == "image_file"}
            self.messages[message.id] = [len(message.text), message.status != Message.IN_PROGRESS, _text_index(message.content), images]

    def opening(self, run: Run) -> list[tuple[str, dict]]:
        """A new run's first events (``run`` as it was queued)."""
        data = self._follow(run)
        return [("thread.run.created", data), (f"thread.run.{run.status}", data)]

    def resuming(self, run: Run) -> list[tuple[str, dict]]:
        """A run's first event after tool outputs were submitted (after ``skip_existing``)."""
        return [(f"thread.run.{run.status}", self._follow(run))]

    def _follow(self, run: Run) -> dict:
        self.known.run = run
        self.sequence.last = run.event_seq  # a resumed run's earlier executions sent these
        self.set_up_hidden = getattr(run, "set_up_hidden", None)
        self.status = run.status
        return serializers.run(run)

    # --- from the events ---------------------------------------------------------------------

    def apply(self, event: dict) -> list[tuple[str, dict]] | None:
        """The API events that ``event`` brings, from its payload alone; None when the rows
        must be read first (a number skipped, an event without payload)."""
        run_id = event.get("run_id")
        if (
            self.final or event["type"] == WAKE or event["type"] in events.THREAD_EVENTS
            or (run_id is not None and run_id != self.run_id)
        ):
            # Told already; a wake (the loop looks at _closing); news of the thread, not of
            # a run (it has no number: taken for a lost event, it made the stream read the
            # rows); or another run of the thread (an earlier one's last events).
            return []
        if not self.sequence.follows(event) or self.set_up_hidden is None:
            return None  # (a run opened without its visibility looked up gets it from the rows)
        if event["type"] == "message.delta":
            out = self.text_delta(event["message_id"], event["offset"], event["text"])
        elif self.known.take(event):
            if event["type"] == "message.created":
                self.tool_parts[event["message_id"]] = event["tool_parts"]
            out, self.final = self._catch_up()
        else:
            out = None
        if out is not None:
            self.sequence.take(event)
        return out

    def caught_up(self, rest: list[dict]) -> list[tuple[str, dict]]:
        """After reading the rows for the first event of ``rest`` (a batch received before
        the read): the rows hold all of it but, for a run executing in another process,
        the text of its deltas, which is taken where it continues what was sent."""
        out = []
        for event in rest:
            if event.get("run_id") != self.run_id:
                continue
            self.sequence.take(event)
            if event["type"] == "message.delta" and not self.final:
                out += self.text_delta(event["message_id"], event["offset"], event["text"]) or []
        return out

    # --- from the rows -------------------------------------------------------------------------

    def reconcile(self) -> tuple[list[tuple[str, dict]], bool]:
        run = events.read_run(self.run_id)
        if self.set_up_hidden is None:
            self.set_up_hidden = serializers.with_visibility(run).set_up_hidden
        run.set_up_hidden = self.set_up_hidden
        # Steps are read before messages (KnownRun.read): read the other way round, an
        # answer ending between the two reads had its step's completion announced before
        # the message's last delta.
        self.known.read(run)
        out, self.final = self._catch_up()
        return out, self.final

    async def take(self, batch: list[dict]) -> tuple[list[tuple[str, dict]], bool]:
        """The API events that ``batch`` (received in order) brings, and whether the rows
        had to be read for it."""
        out: list[tuple[str, dict]] = []
        for position, event in enumerate(batch):
            more = self.apply(event)
            if more is None:
                # The rows, read now, are at least as new as this event and the rest of the
                # batch (each was saved before it was published).
                more, _ = await _read_rows(self.reconcile)
                return out + more + self.caught_up(batch[position:]), True
            out += more
            if self.final:
                break
        return out, False

    async def check(self, waiting: Callable[[], list[dict]]) -> tuple[list[tuple[str, dict]], bool]:
        """After a quiet spell: the API events that explain a move of the run's status row,
        and whether the row has moved beyond them. The engine commits a change before it
        publishes it, so a look mostly finds a move whose event is already ``waiting`` for
        this stream, or on its way (at 200 runs, 658 re-reads per 400 streams were such
        races): the waiting events are taken instead of reading the rows, and a move they
        do not explain is the caller's to judge (``QuietSpell.lost``)."""
        status = await self.known.looked_status()
        if not self.known.moved(status):
            return [], False
        out, read = await self.take(events.coalesce(waiting()))
        return out, not read and not self.final and self.known.moved(status)

    # --- what the stream owes ------------------------------------------------------------------

    def _catch_up(self) -> tuple[list[tuple[str, dict]], bool]:
        run = self.run
        final = run.status in states.TERMINAL or run.status == states.REQUIRES_ACTION
        out: list[tuple[str, dict]] = []
        if self.status == states.QUEUED and run.status not in (states.QUEUED, states.IN_PROGRESS) and run.started_at is not None:
            # It started while this stream missed the event that said so: announce it as
            # it was then, as the hosted API always did before the run's steps.
            out.append(("thread.run.in_progress", serializers.run(_as_started(run))))
            self.status = states.IN_PROGRESS
        if not final and run.status != self.status:
            out.append((f"thread.run.{run.status}", serializers.run(run)))
            self.status = run.status
        for step in self.known.steps.values():
            out += self._step_events(step, run)
        if final:
            out.append((f"thread.run.{run.status}", serializers.run(run)))
            self.status = run.status
        return out, final

    def _step_events(self, step: RunStep, run: Run) -> list[tuple[str, dict]]:
        out = []
        if step.id not in self.steps:
            empty = {"type": "tool_calls", "tool_calls": []} if step.type == RunStep.TOOL_CALLS else None
            created = serializers.step(step, run=run, details=empty)
            created.update(status="in_progress", completed_at=None, cancelled_at=None, failed_at=None, expired_at=None, last_error=None, usage=None)
            out += [("thread.run.step.created", created), ("thread.run.step.in_progress", created)]
            self.steps[step.id] = RunStep.IN_PROGRESS
            self.calls[step.id] = []
        if step.type == RunStep.MESSAGE_CREATION:
            message = self.known.messages.get(step.created_message_id)
            if message is not None:
                out += self._message_events(message, run)
        elif (sent := self.calls[step.id]) is not None:
            calls = serializers.step_details(step.step_details, include_content=self.include_content)["tool_calls"]
            for index, call in enumerate(calls):
                if index == len(sent):
                    sent.append(_opened_call(call))  # what its deltas add up to: updated by _call_deltas
                    out.append(("thread.run.step.delta", _step_delta(step.id, index, _opened_call(call))))
                deltas = _call_deltas(sent[index], call)
                out += [("thread.run.step.delta", _step_delta(step.id, index, delta)) for delta in deltas]
        if step.status != RunStep.IN_PROGRESS and self.steps[step.id] != step.status:
            out.append((f"thread.run.step.{step.status}", serializers.step(step, run=run, include_content=self.include_content)))
            self.steps[step.id] = step.status
        return out

    def _message_events(self, message: Message, run: Run) -> list[tuple[str, dict]]:
        out = []
        state = self.messages.get(message.id)
        if state is None:
            if message.run_id != self.run_id:
                return out
            created = serializers.message(message, content=[])
            created.update(status="in_progress", completed_at=None, incomplete_at=None, incomplete_details=None)
            out += [("thread.message.created", created), ("thread.message.in_progress", created)]
            # A message still being written gets its tools' parts when it completes; which
            # parts those will be is known now (the tool calls before it are over), and its
            # first event said so.
            if message.status != Message.IN_PROGRESS:
                parts = message.content
            elif message.id in self.tool_parts:
                parts = self.tool_parts[message.id]
            else:
                parts = tools.finish_content(run, [])
            state = self.messages[message.id] = [0, False, _text_index(parts), set()]
            out += self._image_events(message.id, parts, state)
        if state[1]:
            return out
        text = serializers.message_text_so_far(message)
        if len(text) > state[0]:
            out.append(("thread.message.delta", _text_delta(message.id, text[state[0] :], state[2])))
            state[0] = len(text)
        if message.status != Message.IN_PROGRESS:
            out += self._image_events(message.id, message.content, state)
            out += _annotation_events(message)
            kind = "completed" if message.status == Message.COMPLETED else "incomplete"
            out.append((f"thread.message.{kind}", serializers.message(message)))
            state[1] = True
        return out

    def _image_events(self, message_id: str, parts: list[dict], state: list) -> list[tuple[str, dict]]:
        images = [
            {"index": i, "type": "image_file", "image_file": part["image_file"]}
            for i, part in enumerate(parts)
            if part.get("type") == "image_file" and part["image_file"].get("file_id") not in state[3]
        ]
        state[3].update(p["image_file"]["file_id"] for p in images)
        return [("thread.message.delta", _delta(message_id, images))] if images else []

    # --- the fast path for text ------------------------------------------------------------

    def text_delta(self, message_id: str, offset: int, text: str) -> list[tuple[str, dict]] | None:
        """Events for a published text delta, or None when the rows must be read first."""
        state = self.messages.get(message_id)
        if state is None:
            return None
        if state[1]:
            return []
        end = offset + len(text)
        if end <= state[0]:
            return []
        if offset > state[0]:  # a dropped delta: the process-local buffer has the gap
            live = events.live_text(message_id)
            if live is None or len(live) < end:
                return None
            piece = live[state[0] : end]
        else:
            piece = text[state[0] - offset :]
        state[0] = end
        return [("thread.message.delta", _text_delta(message_id, piece, state[2]))]


def _as_started(run: Run) -> Run:
    started = copy.copy(run)
    started.status = states.IN_PROGRESS
    for name in ("required_action", "last_error", "incomplete_details", "usage", "cancelled_at", "failed_at", "completed_at"):
        setattr(started, name, None)
    return started


def _text_index(parts: list[dict]) -> int:
    """Where the text part is (or will be) in a message's content: after the tools' parts."""
    return next((i for i, p in enumerate(parts) if p.get("type") == "text"), len(parts))


def _delta(message_id: str, content: list[dict]) -> dict:
    return {"id": message_id, "object": "thread.message.delta", "delta": {"content": content}}


def _text_delta(message_id: str, text: str, index: int) -> dict:
    return _delta(message_id, [{"index": index, "type": "text", "text": {"value": text}}])


def _annotation_events(message: Message) -> list[tuple[str, dict]]:
    content = [
        {"index": i, "type": "text", "text": {"value": "", "annotations": [{"index": k, **a} for k, a in enumerate(part["text"]["annotations"])]}}
        for i, part in enumerate(message.content)
        if part.get("type") == "text" and part["text"].get("annotations")
    ]
    return [("thread.message.delta", _delta(message.id, content))] if content else []


def _opened_call(call: dict) -> dict:
    """A tool call's first delta, as the hosted API streamed it: its id, type and (for a
    function) name, its text empty and no outputs. The SDK's AssistantEventHandler takes
    the first delta at an index for ``on_tool_call_created`` only; the input and the
    outputs come after it (``_call_deltas``), for ``on_tool_call_delta``."""
    kind = call.get("type")
    body = call.get(kind)
    if not isinstance(body, dict):
        return dict(call)
    opened = {
        k: v if k == "name" else "" if k in _CALL_TEXT else [] if isinstance(v, list) else None for k, v in body.items()
    }
    return {**{k: v for k, v in call.items() if k != kind}, kind: opened}


_CALL_TEXT = ("input", "arguments")  # what a model writes, streamed before the call runs


def _call_deltas(sent: dict, call: dict) -> list[dict]:
    """What ``call`` adds to what its deltas so far (``sent``, updated here) told: first
    its text (a code_interpreter's input, a function's arguments), then what its execution
    brought (outputs as indexed entries, a function's output). Only what the SDK can add
    up: a text that grew, a list's new entries, a value that was empty."""
    kind = call.get("type")
    body, told = call.get(kind), sent.get(kind)
    if not isinstance(body, dict) or not isinstance(told, dict):
        return []
    text, outputs = {}, {}
    for key, value in body.items():
        before = told.get(key)
        if key in _CALL_TEXT and isinstance(value, str) and isinstance(before, str):
            if len(value) > len(before) and value.startswith(before):
                text[key] = value[len(before) :]
        elif isinstance(value, list) and isinstance(before, list):
            if len(value) > len(before):
                new = enumerate(value[len(before) :], start=len(before))
                outputs[key] = [{"index": i, **v} if isinstance(v, dict) else v for i, v in new]
        elif before is None and value is not None:
            outputs[key] = value
    deltas = [d for d in (text, outputs) if d]
    for delta in deltas:
        for key, value in delta.items():
            told[key] = told[key] + value if isinstance(value, (str, list)) and told.get(key) is not None else value
    return [{"type": kind, kind: d} for d in deltas]


def _step_delta(step_id: str, index: int, call: dict) -> dict:
    return {
        "id": step_id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [{"index": index, **call}]}},
    }


async def _read_rows(fn):
    """Run a sync read where the engine runs its own database work: a fresh context sends
    it to asgiref's shared sync thread instead of this request's thread, so a stream's
    reads and its run's writes take turns on one connection's thread (an in-memory
    SQLite test database refuses a read racing a write from another thread)."""
    return await asyncio.get_running_loop().create_task(sync_to_async(fn)(), context=contextvars.Context())


async def subscribe(thread_id: str) -> tuple[object, str, str] | None:
    """Listen to a thread's events. None when ``thread_id`` cannot name a group: no thread
    has such an id (ours are ASCII), and the request's trip will say it is not found."""
    layer = get_channel_layer()
    group = events.group_for(thread_id)
    try:
        layer.require_valid_group_name(group)
    except TypeError:
        return None
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return layer, channel, group


# A stream whose events outran it writes at most this often: each write is a trip through
# the server's transport, and at 200 runs at once a stream that wrote what each receive
# brought wrote ~75 times per run (where re-reading the rows had batched it, by chance, ~29).
BUSY_WRITE_SECONDS = 0.1


class WritePace:
    """When a stream may write next. A stream that comes back for more and finds more
    events waiting than it wrote last time is busy: its run's events outrun it, so what it
    has is written no sooner than ``BUSY_WRITE_SECONDS`` after its last write, gathering
    what comes meanwhile. One that finds as many or fewer is keeping up or catching up, and
    one that waits for its next event has caught up: those write at once, so a stream
    that keeps up is never held (at 50 runs at once, holding every stream that found an
    event waiting raised the per-chunk p99 by half)."""

    def __init__(self) -> None:
        self.last_write = float("-inf")
        self.last_count = 0  # events in the last write

    def hold(self, *, waiting: int) -> float:
        """Seconds to wait before writing ``waiting`` events that were waiting (0: the
        stream waited for what it has)."""
        if waiting <= self.last_count:
            return 0.0
        return max(0.0, self.last_write + BUSY_WRITE_SECONDS - asyncio.get_running_loop().time())

    def wrote(self, count: int) -> None:
        self.last_write = asyncio.get_running_loop().time()
        self.last_count = count


# Streams this process is serving, so that a stopping server can wait for their last event.
_open_streams: set[str] = set()
_closing = False

SERVER_STOPPING = {
    "code": "server_shutting_down",
    "message": "The server is restarting. This run was not interrupted: retrieve it to see how it ends.",
    "param": None,
    "type": "server_error",
}


async def run_stream(subscription, tracker: RunEvents, opening: list[tuple[str, dict]]) -> AsyncIterator[bytes]:
    layer, channel, group = subscription
    token = f"{tracker.run_id}:{channel}"
    _open_streams.add(token)
    pace = WritePace()
    try:
        if opening:
            pace.wrote(0)
            yield b"".join(sse(*event) for event in opening)
        # The opening was built from the rows a moment ago, and every change since has been
        # published to this subscription (made before the run was queued).
        quiet = events.QuietSpell()
        while not tracker.final:
            if _closing:
                # The runs this process executed have ended (and said so); this one is not
                # ours (queued, or running elsewhere): end the stream with a reason.
                yield sse("error", {"error": SERVER_STOPPING})
                break
            received = events.queued(layer, channel)
            waiting = len(received)  # when it came back for more
            if not received:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), timeout=quiet.seconds)
                except TimeoutError:
                    out, moved = await tracker.check(lambda: events.queued(layer, channel))
                    if out and not moved:
                        quiet.heard()  # the waiting events explained the move
                    elif quiet.lost(moved):  # moved still, a quiet spell after a look found it so
                        more, _ = await _read_rows(tracker.reconcile)
                        out += more
                    if out:
                        pace.wrote(0)
                        yield b"".join(sse(*event) for event in out)
                    continue
                received = [message, *events.queued(layer, channel)]
            quiet.heard()
            # Everything already queued goes out in one write, runs of text deltas merged
            # into one event: a stream that fell behind catches up at once.
            if hold := pace.hold(waiting=waiting):
                await asyncio.sleep(hold)
                received += events.queued(layer, channel)
            out, _ = await tracker.take(events.coalesce(received))
            if out:
                pace.wrote(len(received))
                yield b"".join(sse(*event) for event in out)
        yield DONE
    except Exception:
        logger.exception("stream of run %s failed", tracker.run_id)
        error = {"code": "server_error", "message": "The server had an error while streaming this run.", "param": None, "type": "server_error"}
        yield sse("error", {"error": error})  # the SDK raises APIError with this message
        yield DONE
    finally:
        _open_streams.discard(token)
        await layer.group_discard(group, channel)


async def end_streams(timeout: float) -> None:
    """At shutdown, once this process's runs have ended: end every stream after its last
    event (a run's final event, or an error saying the server is restarting), waiting at
    most ``timeout``."""
    global _closing
    _closing = True
    layer = get_channel_layer()
    for token in list(_open_streams):
        # Wake each stream now rather than at its next resync, so it says why it ends.
        with contextlib.suppress(ChannelFull):  # a full channel has events to wake it
            await layer.send(token.partition(":")[2], {"type": WAKE})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _open_streams and loop.time() < deadline:
        await asyncio.sleep(0.05)


def streaming_response(subscription, tracker: RunEvents, opening: list[tuple[str, dict]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(run_stream(subscription, tracker, opening), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def unsubscribe(subscription) -> None:
    if subscription is None:
        return
    layer, channel, group = subscription
    await layer.group_discard(group, channel)
