"""Text deltas merge under backpressure and never otherwise: the publisher merges the text
produced while its previous send is in flight, a reader that fell behind merges what is
already queued for it. Whatever merges, every reader gets all the text, in order, once."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from chat.api import streaming
from chat.engine import dispatch, events
from chat.engine.runs import cancel_run
from chat.models import Message
from chat.providers.base import Finish, TextDelta, Usage
from chat.services.messages import post_message
from project.channel_layer import SweepingInMemoryChannelLayer
from tests.engine.scripted import ScriptedProvider, text_turn, use

TOKENS = [f"w{i} " for i in range(40)]
# Readers merge only what a layer can hand over without a round trip (the in-memory one).
takes_queued = pytest.mark.skipif(
    not hasattr(get_channel_layer(), "receive_nowait"), reason="this channel layer cannot hand over what is queued"
)


def delta(message_id: str, offset: int, text: str) -> dict:
    return {"type": "message.delta", "message_id": message_id, "offset": offset, "text": text}


def test_coalesce_merges_only_consecutive_contiguous_deltas_of_one_message():
    batch = [
        delta("a", 0, "x"), delta("a", 1, "yz"), delta("a", 3, "w"),
        {"type": "run.step", "step_id": "s"},
        delta("a", 4, "q"),
        delta("b", 0, "r"),
        delta("b", 5, "s"),  # a gap: the reader must see it to fill it from the buffer
        delta("b", 6, "t"),
    ]
    assert events.coalesce(batch) == [
        delta("a", 0, "xyzw"), {"type": "run.step", "step_id": "s"}, delta("a", 4, "q"), delta("b", 0, "r"), delta("b", 5, "st"),
    ]
    assert events.coalesce([]) == []


async def test_queued_takes_what_waits_without_waiting_and_keeps_expiry():
    layer = SweepingInMemoryChannelLayer(expiry=60)
    await layer.send("x.inmemory!a", {"type": "one"})
    await layer.send("x.inmemory!a", {"type": "two"})
    assert events.queued(layer, "x.inmemory!a") == [{"type": "one"}, {"type": "two"}]
    assert events.queued(layer, "x.inmemory!a") == []
    assert events.queued(object(), "x.inmemory!a") == []  # a layer that cannot tell: nothing
    old = SweepingInMemoryChannelLayer(expiry=0.01)
    await old.send("x.inmemory!b", {"type": "stale"})
    await asyncio.sleep(0.05)
    assert events.queued(old, "x.inmemory!b") == []


class SlowLayer:
    """A layer whose sends take a round trip, like Redis's."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sent: list[dict] = []

    async def group_send(self, group: str, event: dict) -> None:
        await asyncio.sleep(self.seconds)
        self.sent.append(event)


async def publish_tokens(publisher: events.Publisher, message_id: str, tokens: list[str], pause: float, join_at: int | None = None):
    """As the engine does: append to the live buffer, publish the token. At ``join_at``,
    a reader joins: it takes the buffer and then every delta sent from then on."""
    events.live_start(message_id)
    joined = None
    for i, token in enumerate(tokens):
        if i == join_at:
            joined = (events.live_text(message_id), len(publisher.layer.sent))
        offset = events.live_append(message_id, token)
        await publisher.message_delta(message_id, offset, token)
        await asyncio.sleep(pause)
    await publisher.message_completed(Message(id=message_id, content=Message.text_content("".join(tokens))))
    events.live_end(message_id)
    return joined


async def test_text_produced_while_a_send_is_in_flight_rides_the_next_send_in_order():
    publisher = events.Publisher("thread_coalesce")
    publisher.layer = layer = SlowLayer(0.01)
    await publish_tokens(publisher, "msg_slow", TOKENS, pause=0.001)
    deltas = [e for e in layer.sent if e["type"] == "message.delta"]
    assert 1 < len(deltas) < len(TOKENS) / 2  # merged while each send was in flight
    offset = 0
    for d in deltas:  # contiguous: the first piece's offset, the pieces joined
        assert d["offset"] == offset
        offset += len(d["text"])
    assert "".join(d["text"] for d in deltas) == "".join(TOKENS)
    assert (layer.sent[-1]["type"], layer.sent[-1]["message_id"]) == ("message.completed", "msg_slow")  # after every delta


async def test_an_idle_layer_gets_every_token_as_its_own_delta():
    publisher = events.Publisher("thread_idle")
    publisher.layer = layer = SlowLayer(0)
    await publish_tokens(publisher, "msg_idle", TOKENS, pause=0.002)
    assert [e["text"] for e in layer.sent if e["type"] == "message.delta"] == TOKENS


async def test_a_reader_joining_mid_stream_gets_no_gap_and_no_repeat():
    publisher = events.Publisher("thread_join")
    publisher.layer = layer = SlowLayer(0.01)
    snapshot, first = await publish_tokens(publisher, "msg_join", TOKENS, pause=0.001, join_at=17)
    assert snapshot == "".join(TOKENS[:17])
    text = snapshot
    for d in layer.sent[first:]:
        if d["type"] != "message.delta":
            continue
        assert d["offset"] <= len(text)  # never a gap
        text += d["text"][len(text) - d["offset"] :]  # what the snapshot already had is skipped
    assert text == "".join(TOKENS)


class GatedProvider:
    """Says its first word, waits for ``go``, then streams the rest a token at a time."""

    name = "gated"

    def __init__(self, first: str, rest: list[str]) -> None:
        self.first, self.rest = first, rest
        self.go, self.done = asyncio.Event(), asyncio.Event()

    async def stream(self, request):
        yield TextDelta(self.first)
        await self.go.wait()
        for token in self.rest:
            await asyncio.sleep(0.002)  # each token its own publish
            yield TextDelta(token)
        self.done.set()
        yield Usage(10, len(self.rest) + 1)
        yield Finish("stop")


def sse_events(chunks: list[bytes]) -> list[tuple[str, dict | str]]:
    out = []
    for block in b"".join(chunks).decode().split("\n\n"):
        if block.strip():
            fields = dict(line.split(": ", 1) for line in block.splitlines())
            data = fields["data"]
            out.append((fields["event"], data if data == "[DONE]" else json.loads(data)))
    return out


@takes_queued
@pytest.mark.django_db(transaction=True)
async def test_an_sse_stream_that_fell_behind_sends_the_queued_deltas_as_one_event(monkeypatch, thread, tutor):
    provider = GatedProvider("First ", TOKENS)
    use(monkeypatch, provider)
    # Not held for its pace (tests/api/test_stream_from_events.py): here only the merging counts.
    monkeypatch.setattr(streaming, "BUSY_WRITE_SECONDS", 0)
    _, run = await sync_to_async(post_message)(thread, "go", tutor, start=False)
    subscription = await streaming.subscribe(thread.id)
    tracker = streaming.RunEvents(run.id)
    stream = streaming.run_stream(subscription, tracker, await sync_to_async(tracker.opening)(run))
    chunks = [await anext(stream)]
    dispatch.dispatch(run.id)
    while b"thread.message.delta" not in chunks[-1]:
        chunks.append(await asyncio.wait_for(anext(stream), 10))
    # The next token is written out, and then the stream is not read while the rest of
    # the answer is published, token by token.
    provider.go.set()
    chunks.append(await asyncio.wait_for(anext(stream), 10))
    await asyncio.wait_for(provider.done.wait(), 10)
    await dispatch.wait_idle()
    chunks += [chunk async for chunk in stream]
    received = sse_events(chunks)
    deltas = [data["delta"]["content"][0]["text"]["value"] for name, data in received if name == "thread.message.delta"]
    assert deltas[0] == "First " and len(deltas) <= 4
    assert deltas[-1].count(" ") >= len(TOKENS) - 3  # what waited went out as one event
    answer = await sync_to_async(Message.objects.get)(run_id=run.id)
    assert "".join(deltas) == answer.text
    names = [name for name, _ in received]
    assert names[-3:] == ["thread.run.step.completed", "thread.run.completed", "done"]
    assert names.index("thread.message.completed") > max(i for i, n in enumerate(names) if n == "thread.message.delta")


@pytest.mark.django_db(transaction=True)
async def test_cancelling_mid_stream_still_ends_the_message_after_every_delta(monkeypatch, thread, tutor):
    provider = ScriptedProvider(text_turn(*["word "] * 200), delay=0.005)
    use(monkeypatch, provider)
    _, run = await sync_to_async(post_message)(thread, "go", tutor, start=False)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(events.group_for(thread.id), channel)
    dispatch.dispatch(run.id)
    await asyncio.wait_for(provider.started.wait(), 5)
    await asyncio.sleep(0.1)
    await sync_to_async(run.refresh_from_db)()
    assert await sync_to_async(cancel_run)(run)
    await dispatch.wait_idle()
    got = []
    with contextlib.suppress(TimeoutError):
        while True:
            got.append(await asyncio.wait_for(layer.receive(channel), 0.5))
    answer = await sync_to_async(Message.objects.get)(run_id=run.id)
    assert answer.status == "incomplete" and 0 < answer.text.count("word") < 200
    kinds = [m["type"] for m in got]
    completed = kinds.index("message.completed")
    assert "message.delta" not in kinds[completed:]
    assert "".join(m["text"] for m in got if m["type"] == "message.delta") == answer.text
