"""Many runs streaming at once lose nothing: every client gets every event of its own run,
in order, and the text it assembles is the answer that was saved. Not timed: a loaded
machine only makes these slower.

SSE through the official SDK and the thread page's WebSocket (the benchmark's browser
client, `bench/client.py`), both against the live API server (offline model, no delay).
"""

from __future__ import annotations

import asyncio
import html
from types import SimpleNamespace

import httpx2

from bench.client import SPAN, Browser
from chat.content import StreamedText

RUNS = 50
QUESTION = "Solve 2x + 3 = 7"
# The events of a run that answers in one message, in the hosted API's order.
ORDER = [
    "thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
    "thread.run.step.in_progress", "thread.message.created", "thread.message.in_progress",
    "thread.message.delta", "thread.message.completed", "thread.run.step.completed", "thread.run.completed",
]


async def _one_sse_run(client, assistant_id: str) -> dict:
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    kinds, text, message_id = [], [], None
    stream = await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id, stream=True)
    async for event in stream:
        if not kinds or kinds[-1] != event.event:
            kinds.append(event.event)
        if event.event == "thread.message.delta":
            text.append(event.data.delta.content[0].text.value)
            message_id = event.data.id
    saved = await client.beta.threads.messages.retrieve(message_id, thread_id=thread.id)
    return {"kinds": kinds, "text": "".join(text), "saved": saved.content[0].text.value}


def test_fifty_concurrent_sse_streams_each_get_every_event_in_order(api_server):
    from openai import AsyncOpenAI

    async def burst():
        async with httpx2.AsyncClient(timeout=120, limits=httpx2.Limits(max_connections=RUNS + 5)) as http:
            client = AsyncOpenAI(
                api_key=api_server.keys["alice"], base_url=api_server.base_url + "/v1", http_client=http, max_retries=0
            )
            assistant = (await client.beta.assistants.list()).data[0].id
            return await asyncio.gather(*(_one_sse_run(client, assistant) for _ in range(RUNS)))

    results = asyncio.run(asyncio.wait_for(burst(), 300))
    assert [r["kinds"] for r in results] == [ORDER] * RUNS
    assert all(r["text"] == r["saved"] and "x = 2" in r["saved"] for r in results)


def _page_text(frames: list[tuple[int, str]]) -> dict[str, str]:
    """What each streaming message's span holds after every frame, as the page applies
    them: a render replaces the span, a delta (``beforeend``) appends to it."""
    have: dict[str, str] = {}
    for _, frame in frames:
        for match in SPAN.finditer(frame):
            message_id, is_delta, body = match.group(1), bool(match.group(2)), html.unescape(match.group(3))
            have[message_id] = have.get(message_id, "") + body if is_delta else body
    return have


def test_fifty_concurrent_thread_pages_each_get_every_chunk_in_order(api_server, sdk):
    assistant = sdk.beta.assistants.list().data[0].id
    threads = [sdk.beta.threads.create().id for _ in range(RUNS)]

    async def burst():
        async with Browser(SimpleNamespace(base=api_server.base_url), connections=RUNS + 5) as browser:
            await browser.login("alice", "alice-api-pw-1")
            sockets = await asyncio.gather(*(browser.open_thread_socket(t) for t in threads))
            try:

                async def one(sock, thread):
                    await browser.post_message(thread, assistant, QUESTION)
                    return await sock.until_run_ends(120)

                return await asyncio.gather(*(one(s, t) for s, t in zip(sockets, threads, strict=True)))
            finally:
                await asyncio.gather(*(s.close() for s in sockets))

    pages = asyncio.run(asyncio.wait_for(burst(), 300))
    assert [page.status for page in pages] == ["completed"] * RUNS
    for thread, page in zip(threads, pages, strict=True):
        answer = sdk.beta.threads.messages.list(thread_id=thread, order="desc", limit=1).data[0]
        streamed = _page_text(page.frames)
        # Every chunk reached the page, in order: what it built is the saved answer as the
        # page shows it while streaming (each formula as its math element).
        assert streamed.get(answer.id) == html.unescape(StreamedText().feed(answer.content[0].text.value))
