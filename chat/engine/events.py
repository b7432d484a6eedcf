"""Live events: renderings of rows already saved, pushed to a thread's group.

Every event names the rows it is about; the consumer reads them from the database and
renders the same partial templates as the page. Text deltas are the one exception:
they carry the new text and its offset in the message, and the accumulated text is also
kept in a process-local buffer (and saved, for all runs at once, every RUN_SAVE_INTERVAL), so a socket that
joins mid-run can be brought up to date without gaps or repeats.

A delta may carry several model tokens: the publisher merges the text produced while its
previous send is in flight, and readers that fall behind merge the deltas already queued
for them (``coalesce``) into one SSE event or socket frame. Merging keeps the offsets
exact (the offset of the first piece, the pieces joined), so readers cannot tell a merged
delta from a long token.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

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


class Publisher:
    """Sends one run's events to its thread's group and to optional local listeners.

    Text deltas go out through one sender task per publisher, never more than one send in
    flight: text produced while a send is in flight is merged into the next one. Idle, a
    token is sent within the engine's call; against a slow layer (Redis: a round trip per
    send) a run costs one send per round trip instead of one per token. Every other event
    first waits for the deltas before it, so readers see them in the order published."""

    def __init__(self, thread_id: str, listeners: list[Listener] | None = None) -> None:
        self.group = group_for(thread_id)
        self.layer = get_channel_layer()
        self.listeners = list(listeners or [])
        self._deltas: dict[str, tuple[int, list[str]]] = {}  # message id -> (offset, pieces) not sent yet
        self._sender: asyncio.Task | None = None

    async def send(self, type_: str, **payload: Any) -> None:
        await self._flush_deltas()
        await self._emit({"type": type_, **payload})

    async def _emit(self, event: dict[str, Any]) -> None:
        if self.layer is not None:
            await self.layer.group_send(self.group, event)
        for listener in self.listeners:
            result = listener(event)
            if inspect.isawaitable(result):
                await result

    async def run_status(self, run_id: str) -> None:
        await self.send("run.status", run_id=run_id)

    async def run_step(self, step_id: str) -> None:
        await self.send("run.step", step_id=step_id)

    async def message_created(self, message_id: str) -> None:
        await self.send("message.created", message_id=message_id)

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

    async def message_completed(self, message_id: str) -> None:
        await self.send("message.completed", message_id=message_id)


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
    merged into one delta (the first one's offset, the texts joined); everything else
    kept as it is, in order."""
    groups: list[tuple[dict[str, Any], list[str]]] = []  # (first event, texts to join)
    end = -1  # where the last group's text ends, if it is a delta
    for event in batch:
        delta = event.get("type") == "message.delta"
        if delta and groups and groups[-1][1] and event["message_id"] == groups[-1][0]["message_id"] and event["offset"] == end:
            groups[-1][1].append(event["text"])
        else:
            groups.append((event, [event["text"]] if delta else []))
        end = event["offset"] + len(event["text"]) if delta else -1
    return [{**first, "text": "".join(texts)} if len(texts) > 1 else first for first, texts in groups]


async def publish(thread_id: str, type_: str, **payload: Any) -> None:
    """A one-off event from outside a run (a cancel, a recovered run)."""
    await Publisher(thread_id).send(type_, **payload)


def publish_sync(thread_id: str, type_: str, **payload: Any) -> None:
    """``publish`` from synchronous code. Under the ASGI server, async_to_sync runs it on
    the server's own loop, where the in-memory channel layer lives."""
    async_to_sync(publish)(thread_id, type_, **payload)
