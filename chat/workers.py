"""Runs and retrieval ingest in worker processes (RUN_BACKEND="workers"), through taskiq.

Web processes send each run (and each batch of files to ingest) as a task on a Redis list
(TASK_BROKER_URL); ``manage.py worker`` processes take them and execute up to
WORKER_CONCURRENCY runs at once each, as asyncio tasks on one event loop, the same code
the embedded mode runs on the web server's loop. Events reach the browsers and SSE clients
of every web process through the Redis channel layer. Why taskiq: docs/architecture.md.

Delivery: the Redis list hands a task to one worker at most once; the database makes it at
least once. A queued run nobody claimed is sent again by a supervisor's sweep after
RUN_HEARTBEAT_TIMEOUT; a claimed run whose worker died is failed by recovery (its partial
answer kept); a file left in progress is ingested again when a worker starts. A task
delivered twice is harmless: a run is claimed once (compare-and-set on its status).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future

from django.conf import settings
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq_redis import ListQueueBroker

from chat.engine import dispatch
from chat.retrieval import ingest

logger = logging.getLogger("chat.engine")

RUN_TASK = "assistants.execute_run"
INGEST_TASK = "assistants.ingest"
# A worker's BRPOP returns empty-handed this often (below the Redis client's 5 s read
# timeout, which otherwise ends an idle worker's listening with an error).
BRPOP_SECONDS = 2


class TaskQueueBroker(ListQueueBroker):
    """taskiq's Redis list broker, listening with a bounded BRPOP and riding out a Redis
    restart (a worker keeps waiting for Redis instead of exiting)."""

    async def listen(self):
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    popped = await redis.brpop([self.queue_name], timeout=BRPOP_SECONDS)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                logger.warning("task broker unreachable (%s); trying again", exc)
                await asyncio.sleep(1)
                continue
            if popped is not None:
                yield popped[1]


async def execute_run(run_id: str) -> None:
    task = dispatch.run_here(run_id)
    if task is not None:
        # Its outcome is in the database (and logged); a crash must not fail the worker's task.
        await asyncio.wait([task])


async def ingest_files(entry_ids: list[int], thread_id: str | None = None) -> None:
    # Reading and embedding files is blocking work: a thread, so the runs keep streaming.
    await asyncio.to_thread(ingest.ingest_with_own_connection, entry_ids, thread_id)


def make_broker(url: str) -> TaskQueueBroker:
    broker = TaskQueueBroker(url, queue_name=settings.TASK_QUEUE)
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
        self._kick(RUN_TASK, run_id)

    def ingest(self, entry_ids: list[int], thread_id: str | None) -> None:
        self._kick(INGEST_TASK, list(entry_ids), thread_id)


def register(url: str) -> WorkerBackend:
    """From ChatConfig.ready(): runs and ingest go to the workers."""
    backend = WorkerBackend(url)
    dispatch.use_backend(backend)
    ingest.runner = backend.ingest
    return backend
