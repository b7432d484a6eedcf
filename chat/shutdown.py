"""Stopping a serving process gracefully (SIGTERM or Ctrl+C on ``manage.py serve``).

In order: the runs this process executes end at once, in a clear state (failed with
"The server was stopped during this run", partial answer kept; or cancelled when a
cancel was asked) and publish their final events; every /v1 stream sends its last event
and ``done``; every open page receives its final run panel and a close that makes it
reconnect. Then the server may exit. Nothing waits for the next start.
"""

from __future__ import annotations

import asyncio

from chat import consumers
from chat.api import streaming
from chat.engine import supervisor

# Time for the transports to write what the streams and sockets sent last.
FLUSH_SECONDS = 0.25


async def shut_down(timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def remaining() -> float:
        return max(0.1, deadline - loop.time())

    await supervisor.stop_engine(remaining())
    await streaming.end_streams(remaining())
    await consumers.close_open_sockets(remaining())
    await asyncio.sleep(FLUSH_SECONDS)
