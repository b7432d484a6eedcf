"""The Redis channel layer as configured in project/settings.py, on a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.redis]


async def test_a_socket_waiting_longer_than_the_blocking_pop_keeps_waiting():
    """channels_redis pops with a 5 s timeout; with redis-py's default 5 s read timeout a
    consumer idle that long raised (a page's socket closed with 1011, a stream failed)."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: scripts/test-services runs it with Redis")
    layer = get_channel_layer()
    try:
        channel = await layer.new_channel()
    except OSError as exc:
        skip_or_fail(f"Redis at {settings.REDIS_URL} is not reachable: {exc}")
    receiving = asyncio.ensure_future(layer.receive(channel))
    done, _ = await asyncio.wait([receiving], timeout=12)  # past two blocking pops
    assert not done, receiving.exception()
    await layer.send(channel, {"type": "still.here"})
    assert (await asyncio.wait_for(receiving, 10))["type"] == "still.here"
