"""The channel layers: channels' in-memory one without its per-message costs (embedded),
and a Redis pub/sub one (a cluster, REDIS_URL set).

``channels.layers.InMemoryChannelLayer`` walks every channel and every group on each
``receive`` and ``group_send`` to drop expired messages, and sends to a group through one
task per member. With a few hundred open streams that is a few hundred dict walks for
every streamed token. Here expiry runs at most once a second (messages live 60 s, so they
leave at most a second late) and a group send puts the message on each member's queue
directly — the same queues, capacities, copies and ChannelFull handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
import uuid

import msgpack
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer, InMemoryChannelLayer
from channels_redis.utils import create_pool, decode_hosts
from redis.asyncio import Redis

logger = logging.getLogger("chat.engine")

EXPIRY_SWEEP_SECONDS = 1.0
# Values a deep copy returns as they are.
_ATOMS = frozenset({str, int, float, bool, type(None)})


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
        # channels' send() deep-copies the message for every member and builds a queue it
        # throws away on every call (setdefault's argument): 2 % of a profile of 200
        # browser runs, nearly all for text deltas, whose values are all immutable, so a
        # shallow copy is the same copy. Members were checked by group_add.
        flat = all(type(value) in _ATOMS for value in message.values())
        expires = time.time() + self.expiry
        for channel in list(self.groups.get(group, ())):
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
            try:
                queue.put_nowait((expires, dict(message) if flat else copy.deepcopy(message)))
            except asyncio.QueueFull:
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


class RedisPubSubChannelLayer(BaseChannelLayer):
    """The channel layer of a cluster (REDIS_URL set): Redis PUBLISH/SUBSCRIBE, per delta one
    command in the sending process and none in the receiving one.

    channels_redis's list layer costs four Redis round trips to send a group message and
    four more, one message at a time on one receive loop per process, to receive it; a
    cluster streaming 200 runs spent most of its workers' time on them (docs/benchmarks.md).
    Here a group is a Redis pub/sub channel: the web processes whose sockets or streams
    joined it subscribe (once per process, whatever the number of members), a send is one
    PUBLISH, and the messages arrive pushed on one connection and go to the members'
    queues in memory. The sends waiting at one moment go in one pipeline, one round trip.

    Delivery is at most once, as channels promises: a process that is not subscribed at
    that moment (its Redis connection dropped and is coming back) misses the message, as
    does a member whose queue holds ``capacity`` messages already. Every receiver here
    reads the rows when it misses something (events.py). A ``group_add`` returns once Redis
    confirmed the subscription, so a stream that subscribed before queueing its run gets
    all of the run's events. Only process-specific channels (``new_channel``, what Channels'
    consumers use) can be received on; a send to one is published to its process's inbox.
    Pub/sub ignores Redis database numbers: the prefix carries it, so sites sharing a Redis
    server on different databases do not hear each other.
    """

    extensions = ["groups", "flush"]

    def __init__(self, hosts=None, prefix: str = "asgi", capacity: int = 100, expiry: int = 60,
                 channel_capacity=None, **_ignored) -> None:
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity)
        hosts = decode_hosts(hosts)
        if len(hosts) != 1:
            raise ValueError("RedisPubSubChannelLayer takes one Redis host.")
        self.host = hosts[0]
        db = create_pool(self.host).connection_kwargs.get("db", 0)
        self.prefix = f"{prefix}:{db}:"
        self._loops: dict[asyncio.AbstractEventLoop, _LoopLayer] = {}

    def _here(self) -> _LoopLayer:
        # Redis connections and asyncio queues belong to one event loop; a process normally
        # has one (the server's, the worker's), async_to_sync may add short-lived ones.
        loop = asyncio.get_running_loop()
        here = self._loops.get(loop)
        if here is None:
            here = self._loops[loop] = _LoopLayer(self, loop)
            _close_with(loop, self._loops)
        return here

    async def send(self, channel: str, message: dict) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        assert self.require_valid_channel_name(channel)
        await self._here().send(channel, message)

    async def receive(self, channel: str) -> dict:
        assert self.require_valid_channel_name(channel)
        return await self._here().receive(channel)

    async def new_channel(self, prefix: str = "specific") -> str:
        return await self._here().new_channel(prefix)

    def receive_nowait(self, channel: str) -> dict | None:
        """The next message already delivered to ``channel`` in this process, or None: as
        the in-memory layer's, lets a reader that fell behind take what waits at once."""
        here = self._loops.get(asyncio.get_running_loop())
        return None if here is None else here.receive_nowait(channel)

    async def group_add(self, group: str, channel: str) -> None:
        assert self.require_valid_group_name(group)
        assert self.require_valid_channel_name(channel)
        await self._here().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        assert self.require_valid_group_name(group)
        assert self.require_valid_channel_name(channel)
        await self._here().group_discard(group, channel)

    async def group_send(self, group: str, message: dict) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        assert self.require_valid_group_name(group)
        await self._here().publish(self.prefix + "group:" + group, msgpack.packb(message, use_bin_type=True))

    async def flush(self) -> None:
        here = self._loops.pop(asyncio.get_running_loop(), None)
        if here is not None:
            await here.close()


def _close_with(loop: asyncio.AbstractEventLoop, layers: dict) -> None:
    """Close a loop's connections when the loop closes (tests and async_to_sync make loops)."""
    original = loop.close

    def close(*args, **kwargs):
        here = layers.pop(loop, None)
        if here is not None and not loop.is_running() and not loop.is_closed():
            with contextlib.suppress(Exception):
                loop.run_until_complete(here.close())
        loop.close = original
        return original(*args, **kwargs)

    loop.close = close


class _Member:
    __slots__ = ("queue", "groups", "used", "waiting")

    def __init__(self, capacity: int) -> None:
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=capacity)
        self.groups: set[str] = set()
        self.used = time.monotonic()
        self.waiting = 0


class _LoopLayer:
    """One event loop's share of the layer: a connection publishing (pipelined), one
    subscribed connection, and the channels living on this loop."""

    def __init__(self, layer: RedisPubSubChannelLayer, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop
        self.id = uuid.uuid4().hex[:16]
        self.inbox = f"{layer.prefix}inbox:{self.id}"
        self.redis = Redis(connection_pool=create_pool(layer.host))
        self.pubsub = None
        self.reader: asyncio.Task | None = None
        self.subscribing = asyncio.Lock()
        self.confirmations: dict[str, list[asyncio.Future]] = {}
        self.members: dict[str, _Member] = {}
        self.groups: dict[str, set[str]] = {}  # pub/sub channel of a group -> its members here
        self.outbox: list[tuple[str, bytes, asyncio.Future]] = []
        self.flusher: asyncio.Task | None = None
        self.next_sweep = time.monotonic() + layer.expiry

    # --- sending: every send waiting at one moment in one pipeline ------------------------

    async def publish(self, key: str, data: bytes) -> None:
        done = self.loop.create_future()
        self.outbox.append((key, data, done))
        if self.flusher is None or self.flusher.done():
            self.flusher = self.loop.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self.outbox:
            batch, self.outbox = self.outbox, []
            try:
                pipe = self.redis.pipeline(transaction=False)
                for key, data, _ in batch:
                    pipe.publish(key, data)
                await pipe.execute()
            except Exception as exc:  # each sender raises, as a failed send would
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def send(self, channel: str, message: dict) -> None:
        owner, bang, _ = channel.partition("!")
        if not bang:
            raise ValueError(f"{channel!r}: this layer sends only to process-specific channels (new_channel).")
        if owner.endswith("." + self.id):
            member = self.members.get(channel)
            if member is None:
                return  # a channel that is gone: channels drops it too
            try:
                member.queue.put_nowait(message)
            except asyncio.QueueFull:
                raise ChannelFull(channel) from None
            return
        inbox = f"{self.layer.prefix}inbox:{owner.rpartition('.')[2]}"
        await self.publish(inbox, msgpack.packb({**message, "__asgi_channel__": channel}, use_bin_type=True))

    # --- receiving ------------------------------------------------------------------------

    async def new_channel(self, prefix: str) -> str:
        if self.reader is None:
            await self._subscribe(self.inbox)
        self._sweep()
        channel = f"{prefix}.{self.id}!{uuid.uuid4().hex}"
        self.members[channel] = _Member(self.layer.get_capacity(channel))
        return channel

    async def receive(self, channel: str) -> dict:
        member = self.members.get(channel)
        if member is None:
            if f".{self.id}!" not in channel:
                raise ValueError(f"{channel!r} is not a channel of this process's loop (new_channel makes them).")
            # Swept while its receiver was away that long (a stalled client): back, without
            # its groups, so it hears only what is sent to it (streams re-read the rows).
            member = self.members[channel] = _Member(self.layer.get_capacity(channel))
        member.waiting += 1
        try:
            return await member.queue.get()
        finally:
            member.waiting -= 1
            member.used = time.monotonic()

    def receive_nowait(self, channel: str) -> dict | None:
        member = self.members.get(channel)
        if member is None:
            return None
        try:
            message = member.queue.get_nowait()
        except asyncio.QueueEmpty:
            return None
        member.used = time.monotonic()
        return message

    async def group_add(self, group: str, channel: str) -> None:
        member = self.members.get(channel)
        if member is None:
            raise ValueError(f"{channel!r} is not a channel of this process's loop (new_channel makes them).")
        key = self.layer.prefix + "group:" + group
        member.groups.add(key)
        here = self.groups.setdefault(key, set())
        here.add(channel)
        if len(here) == 1 or key in self.confirmations:
            await self._subscribe(key)

    async def group_discard(self, group: str, channel: str) -> None:
        key = self.layer.prefix + "group:" + group
        member = self.members.get(channel)
        if member is not None:
            member.groups.discard(key)
        await self._leave(key, channel)

    async def _leave(self, key: str, channel: str) -> None:
        here = self.groups.get(key)
        if here is None:
            return
        here.discard(channel)
        if not here:
            del self.groups[key]
            async with self.subscribing:
                if key not in self.groups and self.pubsub is not None:
                    await self.pubsub.unsubscribe(key)

    async def _subscribe(self, key: str) -> None:
        """Subscribe and wait for Redis to confirm: from then on, what is published reaches us."""
        confirmed = self.loop.create_future()
        self.confirmations.setdefault(key, []).append(confirmed)
        try:
            async with self.subscribing:
                if self.pubsub is None:
                    self.pubsub = self.redis.pubsub()
                await self.pubsub.subscribe(key)
                if self.reader is None:
                    self.reader = self.loop.create_task(self._read(), name="channel layer")
            await confirmed
        finally:
            waiting = self.confirmations.get(key, [])
            if confirmed in waiting:
                waiting.remove(confirmed)
            if not waiting:
                self.confirmations.pop(key, None)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: redis-py reconnects and subscribes again
                logger.warning("channel layer: lost Redis (%s); messages meanwhile are missed", exc)
                await asyncio.sleep(1)
                continue
            if message is None:
                continue
            kind, key = message["type"], message["channel"]
            key = key.decode() if isinstance(key, bytes) else key
            if kind == "subscribe":
                for confirmed in self.confirmations.get(key, []):
                    if not confirmed.done():
                        confirmed.set_result(None)
            elif kind == "message":
                self._deliver(key, message["data"])

    def _deliver(self, key: str, data: bytes) -> None:
        message = msgpack.unpackb(data, raw=False)
        if key == self.inbox:
            targets = [message.pop("__asgi_channel__", "")]
        else:
            targets = self.groups.get(key, ())
        for channel in list(targets):
            member = self.members.get(channel)
            if member is None:
                continue
            try:
                member.queue.put_nowait(dict(message))
            except asyncio.QueueFull:
                pass  # as channels does: a full member misses it (receivers re-read the rows)

    def _sweep(self) -> None:
        """Forget channels nobody received on for a while: after ``expiry`` seconds those in
        no group (there is no call to end a channel), after ten times that those still in
        groups (a consumer that died without leaving them)."""
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + self.layer.expiry
        for channel, member in list(self.members.items()):
            idle = now - member.used
            if not member.waiting and idle > self.layer.expiry * (10 if member.groups else 1):
                del self.members[channel]
                for key in member.groups:
                    here = self.groups.get(key)
                    if here is not None:
                        here.discard(channel)
                        if not here:
                            del self.groups[key]
                            self.loop.create_task(self._unsubscribe(key))

    async def _unsubscribe(self, key: str) -> None:
        async with self.subscribing:
            if key not in self.groups and self.pubsub is not None:
                with contextlib.suppress(Exception):
                    await self.pubsub.unsubscribe(key)

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader
        if self.pubsub is not None:
            with contextlib.suppress(Exception):
                await self.pubsub.aclose()
        with contextlib.suppress(Exception):
            await self.redis.aclose(close_connection_pool=True)
