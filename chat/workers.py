"""Runs and retrieval ingest in worker processes (RUN_BACKEND="workers"), through taskiq.

Web processes send each run (and each batch of files to ingest) as a task on a Redis list
(TASK_BROKER_URL); ``manage.py worker`` processes take them and execute up to
WORKER_CONCURRENCY runs at once each, as asyncio tasks on one event loop, the same code
the embedded mode runs on the web server's loop; their database work goes to
WORKER_DATABASE_THREADS threads (``database_context``). Events reach the browsers and SSE clients
of every web process through the Redis channel layer. Why taskiq: docs/architecture.md.

Delivery: the Redis list hands a task to one worker at most once; the database makes it at
least once. A queued run nobody claimed is sent again by a supervisor's sweep after
RUN_HEARTBEAT_TIMEOUT; a claimed run whose worker died is failed by recovery (its partial
answer kept); a file left in progress is ingested again when a worker starts. A task
delivered twice is harmless: a run is claimed once (compare-and-set on its status).

Code Interpreter affinity: a thread's Python session lives in the worker that ran its
code (``SessionHolder``). Each worker also listens on a list of its own and keeps a
liveness key in Redis; a run of a thread whose session holder is alive is sent to that
worker's list, so its variables are still there. If the holder is gone the run goes to
the shared list, and the worker that takes it starts a new session and says so in the
call's logs. A draining worker hands its own list back to the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq_redis import ListQueueBroker

from chat.code_interpreter.models import SessionHolder
from chat.engine import dispatch
from chat.retrieval import ingest

logger = logging.getLogger("chat.engine")

RUN_TASK = "assistants.execute_run"
INGEST_TASK = "assistants.ingest"
# A worker's BRPOP returns empty-handed this often (below the Redis client's 5 s read
# timeout, which otherwise ends an idle worker's listening with an error).
BRPOP_SECONDS = 2


# A worker's liveness key expires this long after its last renewal (every third of it).
ALIVE_SECONDS = 15


def own_queue(worker_id: str) -> str:
    return f"{settings.TASK_QUEUE}:worker:{worker_id}"


def alive_key(worker_id: str) -> str:
    return f"{settings.TASK_QUEUE}:alive:{worker_id}"


class TaskQueueBroker(ListQueueBroker):
    """taskiq's Redis list broker, listening with a bounded BRPOP (on ``first`` lists before
    the shared one) and riding out a Redis restart (a worker waits for Redis, not exits)."""

    def __init__(self, url: str, queue_name: str, *, first: tuple[str, ...] = ()) -> None:
        super().__init__(url, queue_name=queue_name)
        self.lists = [*first, queue_name]

    async def listen(self):
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    popped = await redis.brpop(self.lists, timeout=BRPOP_SECONDS)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                logger.warning("task broker unreachable (%s); trying again", exc)
                await asyncio.sleep(1)
                continue
            if popped is not None:
                yield popped[1]


def database_threads() -> int:
    """How many threads a worker's runs share for their database work (and other blocking
    calls): WORKER_DATABASE_THREADS, leaving one pooled connection for the rest (ingest,
    sends); one on SQLite, whose writers queue anyway."""
    if connection.vendor != "postgresql":
        return 1
    return max(1, min(settings.WORKER_DATABASE_THREADS, settings.DATABASE_POOL_SIZE - 1))


class DatabaseLanes:
    """``threads`` single-thread executors. asgiref requires a thread-sensitive executor to
    run one call at a time on one thread: a run's database calls must happen in the order
    it makes them (a Code Interpreter call's live save of its outputs, then the final save,
    say). So each run keeps to one lane, and the worker's runs spread over the lanes."""

    def __init__(self, threads: int) -> None:
        self.executors = [ThreadPoolExecutor(1, thread_name_prefix=f"run-database-{i}") for i in range(threads)]
        self._turn = itertools.count()

    def next_context(self) -> ThreadSensitiveContext:
        return ThreadSensitiveContext(executor=self.executors[next(self._turn) % len(self.executors)])


_lanes: DatabaseLanes | None = None


def database_context(threads: int) -> ThreadSensitiveContext:
    """Enter it around a worker's work: each run's thread-sensitive calls (every ORM call of
    the engine) go to one of ``threads`` lanes instead of asgiref's one thread for the whole
    process; the worker's own calls (sweeps, saves of all runs' text) to the first lane."""
    global _lanes
    _lanes = DatabaseLanes(threads)
    return ThreadSensitiveContext(executor=_lanes.executors[0])


async def execute_run(run_id: str) -> None:
    lane = _lanes.next_context() if _lanes is not None else contextlib.nullcontext()
    async with lane:
        task = dispatch.run_here(run_id, contextvars.copy_context())
        if task is None:
            return
        # Its outcome is in the database (and logged); a crash must not fail the worker's
        # task. The lane stays entered until the run ends, even if this task is cancelled
        # (a stopping worker ends its runs itself): asgiref refuses thread-sensitive calls
        # from a task that outlived its context.
        cancelled = False
        while not task.done():
            try:
                await asyncio.wait([task])
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError


async def ingest_files(entry_ids: list[int], thread_id: str | None = None) -> None:
    # Reading and embedding files is blocking work: a thread, so the runs keep streaming.
    await asyncio.to_thread(ingest.ingest_with_own_connection, entry_ids, thread_id)


def make_broker(url: str, *, worker_id: str | None = None) -> TaskQueueBroker:
    """The broker of a web process, or (``worker_id``) of a worker, listening on its own list too."""
    first = (own_queue(worker_id),) if worker_id else ()
    broker = TaskQueueBroker(url, settings.TASK_QUEUE, first=first)
    broker.register_task(execute_run, task_name=RUN_TASK)
    broker.register_task(ingest_files, task_name=INGEST_TASK)
    return broker


class WorkerBackend:
    """Sends runs and ingest to the workers. Safe from any thread: every send goes through
    one event loop of its own (a Redis connection pool belongs to one loop)."""

    def __init__(self, url: str) -> None:
        self.broker = make_broker(url)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _sender_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="task-broker", daemon=True).start()
            return self._loop

    def _kick(self, task_name: str, *args) -> Future:
        kicking = self.broker.find_task(task_name).kiq(*args)
        future = asyncio.run_coroutine_threadsafe(kicking, self._sender_loop())

        def check(done: Future) -> None:
            if done.exception() is not None:  # the sweep sends a queued run again later
                logger.error("could not send %s%r to the workers", task_name, args, exc_info=done.exception())

        future.add_done_callback(check)
        return future

    def send(self, run_id: str) -> None:
        try:
            asyncio.get_running_loop()
            holder = _LOOK_UP  # on an event loop (a sweep): looked up in a thread
        except RuntimeError:
            # A request's thread, after its commit: on the connection it already holds. In
            # a thread of its own, each send took a second pooled connection: a burst of
            # 500 runs had requests waiting for connections the sends held.
            try:
                holder = _holder_of(run_id)
            except DatabaseError:  # the run is committed: send it, looking again in a thread
                holder = _LOOK_UP
        future = asyncio.run_coroutine_threadsafe(self._send_run(run_id, holder), self._sender_loop())

        def check(done: Future) -> None:
            if done.exception() is not None:  # the sweep sends a queued run again later
                logger.error("could not send run %s to the workers", run_id, exc_info=done.exception())

        future.add_done_callback(check)

    async def _send_run(self, run_id: str, holder: str | None | object) -> None:
        kicker = self.broker.find_task(RUN_TASK).kicker()
        if holder is _LOOK_UP:
            holder = await sync_to_async(_session_holder, thread_sensitive=False)(run_id)
        if holder:
            async with Redis(connection_pool=self.broker.connection_pool) as redis:
                if await redis.exists(alive_key(holder)):
                    kicker = kicker.with_labels(queue_name=own_queue(holder))
        await kicker.kiq(run_id)

    def ingest(self, entry_ids: list[int], thread_id: str | None) -> None:
        self._kick(INGEST_TASK, list(entry_ids), thread_id)


_LOOK_UP = object()


def _holder_of(run_id: str) -> str | None:
    """The worker holding the Python session of the run's thread, if any."""
    return SessionHolder.objects.filter(thread__runs=run_id).values_list("worker", flat=True).first()


def _session_holder(run_id: str) -> str | None:
    """``_holder_of`` in a pool thread."""
    try:
        return _holder_of(run_id)
    finally:
        connection.close()  # a pool thread: give the connection back


async def announce(broker: TaskQueueBroker, worker_id: str, stop: asyncio.Event) -> None:
    """In a worker: keep its liveness key until ``stop``; then drop it, so no new run is
    sent to its own list, and hand that list back to the shared one."""
    key = alive_key(worker_id)
    while not stop.is_set():
        try:
            async with Redis(connection_pool=broker.connection_pool) as redis:
                await redis.set(key, "1", ex=ALIVE_SECONDS)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            logger.warning("could not renew this worker's liveness (%s)", exc)
        try:
            await asyncio.wait_for(stop.wait(), ALIVE_SECONDS / 3)
        except TimeoutError:
            pass
    async with Redis(connection_pool=broker.connection_pool) as redis:
        await redis.delete(key)
        await hand_back(redis, worker_id)


async def hand_back(redis: Redis, worker_id: str) -> int:
    """Move the runs waiting on a worker's own list to the shared one; how many."""
    moved = 0
    while await redis.rpoplpush(own_queue(worker_id), settings.TASK_QUEUE) is not None:
        moved += 1
    if moved:
        logger.info("handed %d run(s) back to the shared queue", moved)
    return moved


def register(url: str) -> WorkerBackend:
    """From ChatConfig.ready(): runs and ingest go to the workers."""
    backend = WorkerBackend(url)
    dispatch.use_backend(backend)
    ingest.runner = backend.ingest
    return backend
