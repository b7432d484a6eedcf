"""The Redis channel layer as configured in project/settings.py (Redis pub/sub,
project/channel_layer.py), on a real Redis. A second layer instance stands for another
process: it has its own connections and subscriptions."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from project.channel_layer import RedisPubSubChannelLayer
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.redis]


def _layer():
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: scripts/test-services runs it with Redis")
    return get_channel_layer()


def _other_process(url: str | None = None):
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    hosts = [{**config["hosts"][0], "address": url}] if url else config["hosts"]
    return RedisPubSubChannelLayer(**{**config, "hosts": hosts})


async def test_a_socket_waiting_longer_than_the_blocking_pop_keeps_waiting():
    """A consumer idle for longer than redis-py's read timeouts (5 s by default; the
    layer's 30 s) keeps waiting: channels_redis's lists once closed a page's socket idle
    for 5 s with 1011. Pub/sub reads with no timeout at all."""
    layer = _layer()
    try:
        channel = await layer.new_channel()
    except OSError as exc:
        skip_or_fail(f"Redis at {settings.REDIS_URL} is not reachable: {exc}")
    receiving = asyncio.ensure_future(layer.receive(channel))
    done, _ = await asyncio.wait([receiving], timeout=12)  # past two blocking pops
    assert not done, receiving.exception()
    await layer.send(channel, {"type": "still.here"})
    assert (await asyncio.wait_for(receiving, 10))["type"] == "still.here"


async def test_a_group_message_from_another_process_reaches_every_member_once_subscribed():
    layer, sender = _layer(), _other_process()
    try:
        first, second = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("thread.t1", first)
        await layer.group_add("thread.t1", second)
        # group_add returned: Redis has the subscription, so nothing sent now is missed.
        await sender.group_send("thread.t1", {"type": "message.delta", "offset": 0, "text": "Hé"})
        for channel in (first, second):
            assert await asyncio.wait_for(layer.receive(channel), 10) == {"type": "message.delta", "offset": 0, "text": "Hé"}
        await layer.group_discard("thread.t1", first)
        await sender.group_send("thread.t1", {"type": "run.status", "n": 2})
        assert (await asyncio.wait_for(layer.receive(second), 10))["n"] == 2
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(first), 0.5)
        # A process-specific channel is reachable from the other process too.
        await sender.send(first, {"type": "stream.wake"})
        assert await asyncio.wait_for(layer.receive(first), 10) == {"type": "stream.wake"}
    finally:
        await sender.flush()
        await layer.flush()


async def test_a_full_member_misses_messages_and_the_others_do_not():
    layer, sender = _layer(), _other_process()
    try:
        slow, quick = await layer.new_channel(), await layer.new_channel()
        for channel in (slow, quick):
            await layer.group_add("thread.t2", channel)
        capacity, extra = layer.get_capacity(slow), 5
        received = []

        async def read_quick() -> None:
            while len(received) < capacity + extra:
                received.append((await layer.receive(quick))["n"])

        reading = asyncio.ensure_future(read_quick())
        for n in range(capacity + extra):
            await sender.group_send("thread.t2", {"type": "message.delta", "n": n})
        await asyncio.wait_for(reading, 30)
        assert received == list(range(capacity + extra))
        # The member nobody read kept the first ones, in order, and missed the rest.
        assert [(await layer.receive(slow))["n"] for _ in range(capacity)] == list(range(capacity))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(slow), 0.5)
    finally:
        await sender.flush()
        await layer.flush()


async def test_a_reader_that_fell_behind_takes_what_was_delivered_without_waiting():
    """receive_nowait (what lets a socket or stream merge queued text deltas): what has
    reached this process, in order, then None at once rather than a wait."""
    layer, sender = _layer(), _other_process()
    try:
        channel = await layer.new_channel()
        await layer.group_add("thread.t4", channel)
        assert layer.receive_nowait(channel) is None
        for n in range(3):
            await sender.group_send("thread.t4", {"type": "message.delta", "n": n})
        first = await asyncio.wait_for(layer.receive(channel), 10)
        await asyncio.sleep(0.2)  # the rest arrive pushed on the same connection
        rest = [layer.receive_nowait(channel) for _ in range(3)]
        assert [first["n"], *(m["n"] for m in rest[:2])] == [0, 1, 2] and rest[2] is None
        assert layer.receive_nowait("specific.nobody!x") is None
    finally:
        await sender.flush()
        await layer.flush()


async def test_sites_on_other_redis_databases_do_not_hear_each_other():
    """Redis pub/sub ignores database numbers; the layer's prefix carries it."""
    layer = _layer()
    url = settings.REDIS_URL
    base, _, db = url.rpartition("/")
    other = _other_process(f"{base}/{(int(db or 0) + 1) % 16}")
    try:
        channel = await layer.new_channel()
        await layer.group_add("thread.t3", channel)
        await other.group_send("thread.t3", {"type": "elsewhere"})
        await _other_process().group_send("thread.t3", {"type": "here"})
        assert (await asyncio.wait_for(layer.receive(channel), 10))["type"] == "here"
    finally:
        await other.flush()
        await layer.flush()
