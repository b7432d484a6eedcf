"""Live events: what a run changed, pushed to its thread's group after the rows are saved.

Every event of a run names the rows it is about and carries, as plain data, the fields of
those rows that a reader needs to announce the change without reading them: the run's
status fields, the step, the message as created or as completed (``RUN_FIELDS`` and the
others below; datetimes as POSIX timestamps, so an event crosses Redis as msgpack). A
payload larger than ``PAYLOAD_LIMIT`` (a step with long search results, a very long
answer) is left out: readers read such rows. The browser's consumer still reads rows to
render its templates; the SSE stream serves a run from the payloads alone.

Each event a run's publisher sends carries the run's id and a sequence number (1, 2, …
for one execution of the run). Delivery is at most once (a reader whose queue is full
misses events), so a reader that sees a number other than the next one, or an event
without payload (a one-off from ``publish``: a cancel, a recovery), reads the rows: the
database stays the truth for recovery.

Text deltas carry the new text and its offset in the message, and the accumulated text is
also kept in a process-local buffer (and saved, for all runs at once, every
RUN_SAVE_INTERVAL), so a socket that joins mid-run can be brought up to date without gaps
or repeats.

A delta may carry several model tokens: the publisher merges the text produced while its
previous send is in flight, and readers that fall behind merge the deltas already queued
for them (``coalesce``) into one SSE event or socket frame. Merging keeps the offsets
exact (the offset of the first piece, the pieces joined), so readers cannot tell a merged
delta from a long token; a merged delta keeps the first one's ``seq`` and gets the last
one's as ``last_seq``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import models

from chat.models import Message, Run, RunStep

Listener = Callable[[dict[str, Any]], Awaitable[None] | None]

class _LiveText:
    __slots__ = ("pieces", "length")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.length = 0


# message id -> accumulated text of a message being streamed by this process.
_live: dict[str, _LiveText] = {}


def live_text(message_id: str) -> str | None:
    entry = _live.get(message_id)
    return "".join(entry.pieces) if entry is not None else None


def live_start(message_id: str) -> None:
    _live[message_id] = _LiveText()


def live_append(message_id: str, text: str) -> int:
    """Append ``text`` and return the offset at which it starts."""
    entry = _live.setdefault(message_id, _LiveText())
    offset = entry.length
    entry.pieces.append(text)
    entry.length += len(text)
    return offset


def live_end(message_id: str) -> None:
    _live.pop(message_id, None)


def group_for(thread_id: str) -> str:
    return f"thread.{thread_id}"


# What an event carries of its rows: of a run, what changes while it executes (a reader
# knows the rest from the run it opened with); of a step or a message, every field the
# API shows.
RUN_FIELDS = (
    "status", "required_action", "last_error", "incomplete_details", "usage",
    "started_at", "expires_at", "cancelled_at", "failed_at", "completed_at",
)
STEP_FIELDS = (
    "id", "run_id", "type", "status", "step_details", "last_error", "usage", "metadata",
    "created_at", "completed_at", "cancelled_at", "failed_at", "expired_at",
)
MESSAGE_FIELDS = (
    "id", "thread_id", "role", "status", "content", "incomplete_details", "assistant_id", "run_id",
    "attachments", "metadata", "created_at", "completed_at", "incomplete_at",
)
# Characters of JSON above which a step or message travels without its fields: every
# reader would copy it (Redis: one PUBLISH, then one copy per member), and such rows are
# rare (long file_search results, a very long answer) — their readers read them instead.
PAYLOAD_LIMIT = 32_000


def fields_of(row: models.Model, names: tuple[str, ...], *, limit: int | None = None) -> dict[str, Any] | None:
    """``row``'s fields as plain data (None when their JSON exceeds ``limit``)."""
    data = {name: _plain(getattr(row, name)) for name in names}
    if limit is not None and len(json.dumps(data)) > limit:
        return None
    return data


def _plain(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else value


def restore(row: models.Model, data: dict[str, Any]) -> models.Model:
    """Set the fields ``fields_of`` took onto ``row`` (an unsaved one, or one read before)."""
    for name, value in data.items():
        if value is not None and isinstance(row._meta.get_field(name), models.DateTimeField):
            value = datetime.fromtimestamp(value, UTC)
        setattr(row, name, value)
    return row


def last_seq(event: dict[str, Any]) -> int | None:
    """The sequence number of the last event ``event`` stands for (it may be merged)."""
    return event.get("last_seq", event.get("seq"))


# run id -> the publisher of a run this process executes, so that a tool publishing
# during the run (code_interpreter's live output) keeps the run's sequence.
_run_publishers: dict[str, Publisher] = {}


def publisher_of(run: Run) -> Publisher:
    """The publisher of ``run`` if this process executes it, else a new one for its thread
    (whose events are unnumbered: readers read the rows)."""
    return _run_publishers.get(run.id) or Publisher(run.thread_id)


class Publisher:
    """Sends one run's events to its thread's group and to optional local listeners.

    With a ``run_id`` (the publisher of a run's execution) every event carries the run's id
    and the next sequence number; such a publisher is found by ``publisher_of`` until
    ``retire``.

    Text deltas go out through one sender task per publisher, never more than one send in
    flight: text produced while a send is in flight is merged into the next one. Idle, a
    token is sent within the engine's call; against a slow layer (Redis: a round trip per
    send) a run costs one send per round trip instead of one per token. Every other event
    first waits for the deltas before it, so readers see them in the order published (and
    numbered)."""

    def __init__(self, thread_id: str, listeners: list[Listener] | None = None, *, run_id: str | None = None) -> None:
        self.group = group_for(thread_id)
        self.layer = get_channel_layer()
        self.listeners = list(listeners or [])
        self.run_id = run_id
        self.seq = 0
        self._deltas: dict[str, tuple[int, list[str]]] = {}  # message id -> (offset, pieces) not sent yet
        self._sender: asyncio.Task | None = None
        if run_id is not None:
            _run_publishers[run_id] = self

    def retire(self) -> None:
        if self.run_id is not None and _run_publishers.get(self.run_id) is self:
            del _run_publishers[self.run_id]

    async def send(self, type_: str, **payload: Any) -> None:
        await self._flush_deltas()
        await self._emit({"type": type_, **payload})

    async def _emit(self, event: dict[str, Any]) -> None:
        if self.run_id is not None:
            # Numbered here, where events leave one at a time: the numbers are the order sent.
            self.seq += 1
            event["run_id"], event["seq"] = self.run_id, self.seq
        if self.layer is not None:
            await self.layer.group_send(self.group, event)
        for listener in self.listeners:
            result = listener(event)
            if inspect.isawaitable(result):
                await result

    async def run_status(self, run: Run) -> None:
        await self.send("run.status", run_id=run.id, run=fields_of(run, RUN_FIELDS))

    async def run_step(self, step: RunStep) -> None:
        await self.send("run.step", step_id=step.id, step=fields_of(step, STEP_FIELDS, limit=PAYLOAD_LIMIT))

    async def message_created(self, message: Message, tool_parts: list[dict]) -> None:
        """``tool_parts``: the parts the message's tools will put before its text (images)."""
        await self.send(
            "message.created", message_id=message.id, tool_parts=tool_parts,
            message=fields_of(message, MESSAGE_FIELDS, limit=PAYLOAD_LIMIT),
        )

    async def message_delta(self, message_id: str, offset: int, text: str) -> None:
        """The engine's entry point for each model token (the bench stamps tokens here)."""
        sender = self._sender
        if sender is not None and sender.done():
            self._sender = None
            sender.result()  # a failed send fails the run, as when the engine sent itself
        waiting = self._deltas.get(message_id)
        if waiting is None:
            self._deltas[message_id] = (offset, [text])
        else:
            waiting[1].append(text)
        if self._sender is None:
            # Started eagerly: an idle layer gets the token within this call, not at the
            # loop's next turn; the sender yields only where a send waits.
            self._sender = asyncio.Task(self._send_deltas(), loop=asyncio.get_running_loop(), eager_start=True)

    async def _send_deltas(self) -> None:
        while self._deltas:
            message_id = next(iter(self._deltas))
            offset, pieces = self._deltas.pop(message_id)
            await self._emit({"type": "message.delta", "message_id": message_id, "offset": offset, "text": "".join(pieces)})

    async def _flush_deltas(self) -> None:
        sender = self._sender
        if sender is None:
            return
        try:
            # Shielded: a run cancelled while waiting here still gets its text out in order.
            await asyncio.shield(sender)
        finally:
            if sender.done() and self._sender is sender:
                self._sender = None

    async def message_completed(self, message: Message) -> None:
        await self.send("message.completed", message_id=message.id, message=fields_of(message, MESSAGE_FIELDS, limit=PAYLOAD_LIMIT))


def queued(layer: Any, channel: str) -> list[dict[str, Any]]:
    """The messages already waiting on ``channel``, taken without waiting (empty for a
    layer that cannot tell without a round trip)."""
    receive_nowait = getattr(layer, "receive_nowait", None)
    out: list[dict[str, Any]] = []
    while receive_nowait is not None and (message := receive_nowait(channel)) is not None:
        out.append(message)
    return out


def coalesce(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``batch`` with each run of consecutive, contiguous text deltas of one message
    merged into one delta (the first one's offset, the texts joined, the last one's
    sequence number as ``last_seq``); everything else kept as it is, in order. Deltas
    whose numbers are not consecutive stay apart, so a reader still sees the gap."""
    groups: list[tuple[dict[str, Any], list[str], Any]] = []  # (first event, texts to join, last seq)
    end = -1  # where the last group's text ends, if it is a delta
    for event in batch:
        delta = event.get("type") == "message.delta"
        seq = event.get("seq")
        if (
            delta and groups and groups[-1][1] and event["message_id"] == groups[-1][0]["message_id"]
            and event["offset"] == end and _follows(groups[-1][2], seq)
        ):
            groups[-1][1].append(event["text"])
            groups[-1] = (groups[-1][0], groups[-1][1], seq)
        else:
            groups.append((event, [event["text"]] if delta else [], seq))
        end = event["offset"] + len(event["text"]) if delta else -1
    out = []
    for first, texts, seq in groups:
        if len(texts) > 1:
            first = {**first, "text": "".join(texts)}
            if seq is not None:
                first["last_seq"] = seq
        out.append(first)
    return out


def _follows(before: int | None, seq: int | None) -> bool:
    return seq is None if before is None else seq == before + 1


async def publish(thread_id: str, type_: str, **payload: Any) -> None:
    """A one-off event from outside a run (a cancel, a recovered run)."""
    await Publisher(thread_id).send(type_, **payload)


def publish_sync(thread_id: str, type_: str, **payload: Any) -> None:
    """``publish`` from synchronous code. Under the ASGI server, async_to_sync runs it on
    the server's own loop, where the in-memory channel layer lives."""
    async_to_sync(publish)(thread_id, type_, **payload)
