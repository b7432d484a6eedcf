"""Channels' in-memory layer, without its per-message costs.

``channels.layers.InMemoryChannelLayer`` walks every channel and every group on each
``receive`` and ``group_send`` to drop expired messages, and sends to a group through one
task per member. With a few hundred open streams that is a few hundred dict walks for
every streamed token. Here expiry runs at most once a second (messages live 60 s, so they
leave at most a second late) and a group send puts the message on each member's queue
directly — the same queues, capacities, copies and ChannelFull handling.
"""

from __future__ import annotations

import asyncio
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

EXPIRY_SWEEP_SECONDS = 1.0


class SweepingInMemoryChannelLayer(InMemoryChannelLayer):
    _next_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + EXPIRY_SWEEP_SECONDS
        super()._clean_expired()

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                await self.send(channel, message)
            except ChannelFull:
                pass  # as channels does: a full member misses it (streams re-read the rows)
        # Let the members run before the sender goes on (channels' tasks did that too): a
        # model that streams without waiting must not publish its whole answer in one go
        # while every socket and stream waits.
        await asyncio.sleep(0)

    def receive_nowait(self, channel: str) -> dict | None:
        """The next message already queued on ``channel``, or None: lets a reader that is
        behind take everything waiting at once (and merge text deltas) instead of one
        message per turn of the event loop. Same expiry as ``receive``."""
        queue = self.channels.get(channel)
        now = time.time()
        while queue is not None and not queue.empty():
            expires, message = queue.get_nowait()
            if queue.empty():
                self.channels.pop(channel, None)
            if expires >= now:
                return message
        return None
