"""The floor: the same text events pushed to the same number of clients through Daphne and
a Channels layer, without our engine, Django views, database or templates — what the
transport alone costs, so the capacity figures can be read as a ratio to it.

    python -m bench.floor serve --host 127.0.0.1 --port 8201   # Daphne + the app below
    python -m bench.floor produce                               # a cluster's producer
    python -m bench.floor serve-django --port 8202              # the Django floor (bench/djfloor)

Settings are the project's (DJANGO_SETTINGS_MODULE=project.settings), so the channel layer
is the one the app would use: the in-memory layer without REDIS_URL, Redis with it.
``BENCH_FLOOR_PIECES`` names a JSON file with the text chunks of one answer (as the engine
published them in the same bench run); every stream pushes exactly those, one channel-layer
event per chunk, each carrying its ``time.monotonic_ns()`` publish stamp and end offset.

* WebSocket ``/ws/floor/<stream>/``: a Channels ``AsyncWebsocketConsumer`` joins the
  stream's group on connect; the client's ``start`` message starts the producer; each
  event goes out as one text frame (JSON), then ``{"end": true}``.
* SSE ``POST /floor/sse/<stream>/``: a plain ASGI handler subscribes a new channel to the
  group, starts the producer and writes one ``event: delta`` per event, then ``[DONE]``.
* The producer: a task in the serving process (embedded), or, with ``BENCH_FLOOR_QUEUE``
  set, the stream's name pushed on that Redis list, which a ``produce`` process pops (a
  cluster's worker; a plain list, as channels_redis's normal channels can hand one message
  to two receiving processes): web → Redis → producer → layer → web → client, as a run's
  events go.
* ``serve-django``: the Django floor — the same events, layer and Daphne, but HTTP through
  Django's own ASGI handler and two async views shaped like the API (bench/djfloor), with
  its own minimal settings; its WebSocket streams start by a POST through Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.hooked_serve import set_layer_capacity

MS = 1e6
DJANGO_FLOOR_BACKLOG = 1024  # serve's LISTEN_BACKLOG (its module needs the project's settings)
STREAM_TIMEOUT = 300.0  # seconds a server-side stream waits for its next event before giving up
_tasks: set[asyncio.Task] = set()


def group_for(stream: str) -> str:
    return f"floor.{stream}"


def load_pieces() -> list[str]:
    return json.loads(Path(os.environ["BENCH_FLOOR_PIECES"]).read_text())


async def produce(layer, stream: str, pieces: list[str]) -> None:
    group, end = group_for(stream), 0
    for piece in pieces:
        end += len(piece)
        await layer.group_send(group, {"type": "floor.delta", "t": time.monotonic_ns(), "o": end, "text": piece})
    await layer.group_send(group, {"type": "floor.end"})


_redis = []


def work_queue():
    """(Redis client, list name) for remote producers, or None: produce in this process."""
    if not os.environ.get("BENCH_FLOOR_QUEUE"):
        return None
    if not _redis:
        import redis.asyncio
        from django.conf import settings

        _redis.append(redis.asyncio.from_url(settings.REDIS_URL))
    return _redis[0], os.environ["BENCH_FLOOR_QUEUE"]


async def start(layer, stream: str, pieces: list[str]) -> None:
    if queue := work_queue():
        await queue[0].rpush(queue[1], stream)
    else:
        task = asyncio.get_running_loop().create_task(produce(layer, stream, pieces))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)


def frame(event: dict) -> str:
    return json.dumps({"t": event["t"], "o": event["o"], "text": event["text"]})


def floor_consumer(pieces: list[str], start_on_receive: bool = True):
    """The floor's WebSocket consumer: joins its stream's group; ``start`` from the client
    starts the producer (or, for the Django floor, a POST through Django does)."""
    from channels.generic.websocket import AsyncWebsocketConsumer

    class FloorConsumer(AsyncWebsocketConsumer):
        async def connect(self) -> None:
            self.stream = self.scope["url_route"]["kwargs"]["stream"]
            await self.channel_layer.group_add(group_for(self.stream), self.channel_name)
            await self.accept()

        async def receive(self, text_data=None, bytes_data=None) -> None:
            if start_on_receive:
                await start(self.channel_layer, self.stream, pieces)

        async def floor_delta(self, event: dict) -> None:
            await self.send(text_data=frame(event))

        async def floor_end(self, event: dict) -> None:
            await self.send(text_data='{"end": true}')

        async def disconnect(self, code) -> None:
            await self.channel_layer.group_discard(group_for(self.stream), self.channel_name)

    return FloorConsumer


def application():
    """The floor's ASGI app (Django must be set up first: channels reads its settings)."""
    from channels.layers import get_channel_layer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    pieces = load_pieces()

    async def sse(scope, receive, send) -> None:
        parts = scope["path"].strip("/").split("/")
        if scope["type"] != "http" or len(parts) != 3 or parts[:2] != ["floor", "sse"]:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        while (await receive()).get("more_body"):
            pass
        layer = get_channel_layer()
        channel, group = await layer.new_channel(), group_for(parts[2])
        await layer.group_add(group, channel)
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
            await start(layer, parts[2], pieces)
            while True:
                event = await asyncio.wait_for(layer.receive(channel), STREAM_TIMEOUT)
                if event["type"] != "floor.delta":
                    break
                body = f"event: delta\ndata: {frame(event)}\n\n".encode()
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b"event: done\ndata: [DONE]\n\n"})
        finally:
            await layer.group_discard(group, channel)

    return ProtocolTypeRouter({
        "http": sse,
        "websocket": URLRouter([path("ws/floor/<str:stream>/", floor_consumer(pieces).as_asgi())]),
    })


def django_application():
    """The Django floor's ASGI app (bench/djfloor): HTTP through Django's own ASGI handler,
    WebSockets on the floor's consumer, started by a POST through Django."""
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.core.asgi import get_asgi_application
    from django.urls import path

    return ProtocolTypeRouter({
        "http": get_asgi_application(),
        "websocket": URLRouter([path("ws/floor/<str:stream>/", floor_consumer(load_pieces(), False).as_asgi())]),
    })


def serve(host: str, port: int, app=None, backlog: int | None = None) -> None:
    """Daphne as ``manage.py serve`` runs it (same listen backlog), serving the floor app."""
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    if backlog is None:
        from chat.management.commands.serve import LISTEN_BACKLOG as backlog

    endpoints = [f"{e}:backlog={backlog}" for e in build_endpoint_description_strings(host=host, port=port)]
    print(f"Floor serving on http://{host}:{port}/", flush=True)
    Server(application=app or application(), endpoints=endpoints).run()


async def producer() -> None:
    from channels.layers import get_channel_layer

    layer, pieces = get_channel_layer(), load_pieces()
    redis, queue = work_queue()
    print("floor producer ready", flush=True)
    while True:
        popped = await redis.blpop([queue], timeout=2)  # within redis-py's socket timeout
        if popped is None:
            continue
        task = asyncio.get_running_loop().create_task(produce(layer, popped[1].decode(), pieces))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)


# --- the client side ---------------------------------------------------------------------

@dataclass
class FloorRun:
    sent_ns: int
    got: list[tuple[int, int, int, str]] = field(default_factory=list)  # (arrival ns, publish ns, end, text)
    ended: bool = False
    error: str | None = None


SDK_HEADERS = {"Authorization": "Bearer floor", "OpenAI-Beta": "assistants=v2", "Content-Type": "application/json"}


async def sse_run(http, base: str, stream: str, timeout: float, django: bool = False) -> FloorRun:
    """One stream; ``django``: the Django floor's two requests, as the SDK makes them for
    ``messages.create`` then ``runs.create(stream=True)`` (first token from the second)."""
    run = FloorRun(sent_ns=time.monotonic_ns())
    try:
        async with asyncio.timeout(timeout):
            if django:
                resp = await http.post(f"{base}/v1/threads/{stream}/messages", headers=SDK_HEADERS,
                                       content=json.dumps({"role": "user", "content": "Solve 2x + 3 = 7"}))
                if resp.status_code != 200 or resp.json()["object"] != "thread.message":
                    raise RuntimeError(f"messages: HTTP {resp.status_code}")
                run.sent_ns = time.monotonic_ns()
            url, body = ((f"{base}/v1/threads/{stream}/runs", json.dumps({"assistant_id": "asst_floor", "stream": True}))
                         if django else (f"{base}/floor/sse/{stream}/", None))
            async with http.stream("POST", url, content=body, headers=SDK_HEADERS if django else None) as resp:
                if resp.status_code != 200:
                    raise RuntimeError(f"HTTP {resp.status_code}")
                async for line in resp.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    now = time.monotonic_ns()
                    if line == "data: [DONE]":
                        run.ended = True
                        break
                    event = json.loads(line[6:])
                    run.got.append((now, event["t"], event["o"], event["text"]))
    except Exception as exc:  # counted, not raised
        run.error = f"{type(exc).__name__}: {exc}"[:200]
    return run


async def open_socket(base: str, stream: str, timeout: float):
    from websockets.asyncio.client import connect

    from bench.client import StampedConnection

    return await asyncio.wait_for(connect(
        f"ws://{base.removeprefix('http://')}/ws/floor/{stream}/", create_connection=StampedConnection,
        ping_interval=None, proxy=None, open_timeout=timeout,
    ), timeout)


async def ws_run(ws, timeout: float, start_url: str | None = None, http=None) -> FloorRun:
    """One stream on an open socket, started by ``start`` on it, or (the Django floor) by
    a form POST to ``start_url`` as the composer's htmx POST starts a run."""
    run = FloorRun(sent_ns=time.monotonic_ns())
    try:
        async with asyncio.timeout(timeout):
            if start_url:
                resp = await http.post(start_url, data={"text": "Solve 2x + 3 = 7"}, headers={"HX-Request": "true"})
                if resp.status_code != 200 or 'class="message message--user' not in resp.text:
                    raise RuntimeError(f"posting failed: HTTP {resp.status_code}")
            else:
                await ws.send("start")
            while True:
                text = await ws.recv()
                now = ws.rx_ns.popleft()
                event = json.loads(text)
                if event.get("end"):
                    run.ended = True
                    break
                run.got.append((now, event["t"], event["o"], event["text"]))
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {exc}"[:200]
    return run


def results(runs: list[FloorRun], expected: str, wall_s: float) -> dict:
    """The capacity table's figures for floor runs: every event is one token; a run that did
    not end is an error; one whose text is not the answer lost events; offsets must rise."""
    from bench.levels import level_result

    first, chunks, tokens, errors, lost, disorder = [], [], 0, 0, 0, 0
    for run in runs:
        if run.error or not run.ended:
            errors += 1
            continue
        if run.got:
            first.append((run.got[0][0] - run.sent_ns) / MS)
        offsets = [end for _, _, end, _ in run.got]
        disorder += offsets != sorted(set(offsets))
        lost += "".join(text for *_, text in sorted(run.got, key=lambda g: g[2])) != expected
        tokens += len(run.got)
        chunks.extend((arrival - produced) / MS for arrival, produced, _, _ in run.got)
    return level_result(len(runs), wall_s, tokens, first, chunks, errors, lost, disorder,
                        [r.error for r in runs if r.error][:3])


async def sse_level(http, bases: list[str], n: int, expected: str, timeout: float, tag: str,
                    django: bool = False) -> dict:
    started = time.monotonic()
    runs = await asyncio.gather(*(sse_run(http, bases[i % len(bases)], f"{tag}-{i}", timeout, django)
                                  for i in range(n)))
    return results(list(runs), expected, time.monotonic() - started)


async def ws_level(bases: list[str], n: int, expected: str, timeout: float, tag: str, http=None) -> dict:
    """Open every socket, then start every stream at once (as the browser level does);
    with ``http``, each through the Django floor's POST."""
    started = time.monotonic()
    socks = await asyncio.gather(*(open_socket(bases[i % len(bases)], f"{tag}-{i}", timeout) for i in range(n)),
                                 return_exceptions=True)

    async def one(i: int, sock) -> FloorRun:
        if isinstance(sock, BaseException):
            return FloorRun(sent_ns=time.monotonic_ns(), error=f"socket: {type(sock).__name__}: {sock}"[:200])
        url = f"{bases[i % len(bases)]}/floor/runs/{tag}-{i}/" if http else None
        return await ws_run(sock, timeout, url, http)

    try:
        runs = await asyncio.gather(*(one(i, s) for i, s in enumerate(socks)))
    finally:
        await asyncio.gather(*(s.close() for s in socks if not isinstance(s, BaseException)), return_exceptions=True)
    return results(list(runs), expected, time.monotonic() - started)


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve-django"]:
        # The Django floor: its own settings (none of the project's), the engine's event
        # loop (uvloop, as manage.py installs it), Daphne as the floor runs it.
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.djfloor.settings"
        from project import event_loop

        event_loop.install()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    set_layer_capacity()
    host = argv[argv.index("--host") + 1] if "--host" in argv else "127.0.0.1"
    if argv[:1] == ["serve"]:
        serve(host, int(argv[argv.index("--port") + 1]))
    elif argv[:1] == ["serve-django"]:
        from django.conf import settings

        if settings.WITH_DATABASE:
            from django.core.management import call_command

            call_command("migrate", run_syncdb=True, verbosity=0)
        serve(host, int(argv[argv.index("--port") + 1]), django_application(), DJANGO_FLOOR_BACKLOG)
    elif argv[:1] == ["produce"]:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(producer())
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
