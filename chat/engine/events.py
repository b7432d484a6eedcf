"""Live events: renderings of rows already saved, pushed to a thread's group.

Every event names the rows it is about; the consumer reads them from the database and
renders the same partial templates as the page. Text deltas are the one exception:
they carry the new text and its offset in the message, and the accumulated text is also
kept in a process-local buffer (and saved, for all runs at once, every RUN_SAVE_INTERVAL), so a socket that
joins mid-run can be brought up to date without gaps or repeats.
"""

from __future__ import annotations

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
    """Sends one run's events to its thread's group and to optional local listeners."""

    def __init__(self, thread_id: str, listeners: list[Listener] | None = None) -> None:
        self.group = group_for(thread_id)
        self.layer = get_channel_layer()
        self.listeners = list(listeners or [])

    async def send(self, type_: str, **payload: Any) -> None:
        event = {"type": type_, **payload}
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
        await self.send("message.delta", message_id=message_id, offset=offset, text=text)

    async def message_completed(self, message_id: str) -> None:
        await self.send("message.completed", message_id=message_id)


async def publish(thread_id: str, type_: str, **payload: Any) -> None:
    """A one-off event from outside a run (a cancel, a recovered run)."""
    await Publisher(thread_id).send(type_, **payload)


def publish_sync(thread_id: str, type_: str, **payload: Any) -> None:
    """``publish`` from synchronous code. Under the ASGI server, async_to_sync runs it on
    the server's own loop, where the in-memory channel layer lives."""
    async_to_sync(publish)(thread_id, type_, **payload)
