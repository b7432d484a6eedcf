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


async def test_a_group_send_copies_each_members_message_deeply_only_when_it_nests(monkeypatch):
    """Every member gets its own copy, as from channels' send(); a message of plain values
    (a text delta) is copied without deepcopy, which was most of a group send's cost."""
    import copy

    import channels.layers

    deep_copies = []

    def counted(value, *args):
        deep_copies.append(value)
        return copy.deepcopy.__wrapped__(value, *args)

    counted.__wrapped__ = copy.deepcopy
    monkeypatch.setattr(copy, "deepcopy", counted)
    monkeypatch.setattr(channels.layers, "deepcopy", counted)
    layer = SweepingInMemoryChannelLayer()
    a, b = "x.inmemory!a", "x.inmemory!b"
    for channel in (a, b):
        await layer.group_add("thread.t", channel)
    delta = {"type": "message.delta", "message_id": "msg_1", "offset": 0, "text": "hi", "seq": 3}
    await layer.group_send("thread.t", delta)
    got_a, got_b = await layer.receive(a), await layer.receive(b)
    assert got_a == got_b == delta and got_a is not delta and got_b is not got_a
    assert deep_copies == []
    step = {"type": "run.step", "step": {"id": "step_1", "step_details": {"tool_calls": []}}}
    await layer.group_send("thread.t", step)
    step["step"]["step_details"]["tool_calls"].append("changed by the sender afterwards")
    got_a, got_b = await layer.receive(a), await layer.receive(b)
    assert got_a["step"]["step_details"] == got_b["step"]["step_details"] == {"tool_calls": []}
    assert got_a["step"] is not got_b["step"]
