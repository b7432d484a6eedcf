"""The Django floor's views and URLs (see the package's docstring)."""

from __future__ import annotations

import asyncio
import json
from functools import cache

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bench import floor


@cache
def pieces() -> tuple[str, ...]:
    return tuple(floor.load_pieces())


async def note(kind: str, stream: str) -> None:
    """The SQLite variant's one INSERT per view; nothing without a database."""
    if getattr(settings, "WITH_DATABASE", False):
        from bench.djfloor.models import Row

        await sync_to_async(Row.objects.create)(kind=kind, stream=stream)


def _json(request) -> dict:
    return json.loads(request.body or b"{}")


@csrf_exempt
async def message(request, stream: str):
    if request.method != "POST":
        return HttpResponse(status=405)
    body = _json(request)
    await note("message", stream)
    return JsonResponse({"id": f"msg_{stream}", "object": "thread.message", "thread_id": stream, "role": "user",
                         "content": [{"type": "text", "text": {"value": body.get("content", ""), "annotations": []}}]})


async def subscribe(stream: str):
    layer = get_channel_layer()
    channel, group = await layer.new_channel(), floor.group_for(stream)
    await layer.group_add(group, channel)
    return layer, channel, group


async def events(layer, channel: str, group: str):
    try:
        while True:
            event = await asyncio.wait_for(layer.receive(channel), floor.STREAM_TIMEOUT)
            if event["type"] != "floor.delta":
                break
            yield f"event: delta\ndata: {floor.frame(event)}\n\n".encode()
        yield b"event: done\ndata: [DONE]\n\n"
    finally:
        await layer.group_discard(group, channel)


@csrf_exempt
async def run(request, stream: str):
    if request.method != "POST":
        return HttpResponse(status=405)
    _json(request)
    await note("run", stream)
    layer, channel, group = await subscribe(stream)
    await floor.start(layer, stream, list(pieces()))
    return StreamingHttpResponse(events(layer, channel, group), content_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})


@csrf_exempt
async def browser_run(request, stream: str):
    """The composer's POST: start the run whose events go to the stream's socket."""
    if request.method != "POST":
        return HttpResponse(status=405)
    await note("run", stream)
    await floor.start(get_channel_layer(), stream, list(pieces()))
    return HttpResponse(f'<article class="message message--user">{len(request.body)}</article>')


urlpatterns = [
    path("v1/threads/<str:stream>/messages", message),
    path("v1/threads/<str:stream>/runs", run),
    path("floor/runs/<str:stream>/", browser_run),
]
