"""The in-memory channel layer keeps channels' semantics while sweeping expiry once a second."""

from __future__ import annotations

import asyncio

from project import channel_layer
from project.channel_layer import SweepingInMemoryChannelLayer


async def test_a_group_send_reaches_every_member_even_when_one_is_full():
    layer = SweepingInMemoryChannelLayer(capacity=1)
    full, a, b = "x.inmemory!full", "x.inmemory!a", "x.inmemory!b"
    for channel in (full, a, b):
        await layer.group_add("thread.t", channel)
    await layer.send(full, {"type": "first"})
    await layer.group_send("thread.t", {"type": "message.delta", "text": "hi"})
    assert await layer.receive(a) == {"type": "message.delta", "text": "hi"}
    assert await layer.receive(b) == {"type": "message.delta", "text": "hi"}
    assert await layer.receive(full) == {"type": "first"}


async def test_expired_messages_still_expire_and_take_their_channel_out_of_groups(monkeypatch):
    layer = SweepingInMemoryChannelLayer(expiry=0.05)
    await layer.group_add("thread.t", "x.inmemory!gone")
    await layer.group_add("thread.t", "x.inmemory!here")
    await layer.group_send("thread.t", {"type": "old"})
    await layer.receive("x.inmemory!here")
    await asyncio.sleep(0.1)
    monkeypatch.setattr(channel_layer, "EXPIRY_SWEEP_SECONDS", 0.0)
    layer._next_sweep = 0.0
    await layer.group_send("thread.t", {"type": "new"})
    assert "x.inmemory!gone" not in layer.groups["thread.t"]
    assert await layer.receive("x.inmemory!here") == {"type": "new"}
