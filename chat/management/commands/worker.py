"""A worker process: executes runs and retrieval ingest sent by the web processes
(RUN_BACKEND="workers"; see chat/workers.py and docs/deploy.md). It takes them from the
shared list and from a list of its own (runs of threads whose Python session it holds).

Up to WORKER_CONCURRENCY runs at once, as asyncio tasks on one event loop. SIGTERM or
SIGINT drains: it takes no new task (they stay on the queue for the other workers, its own
list handed back to the shared one), lets
its runs finish for up to WORKER_DRAIN_TIMEOUT seconds, then ends the rest — failed with a
clear last_error and their partial answers, published, so every open stream gets its final
event — and exits. A second signal ends the runs at once. A worker killed outright
(kill -9) is noticed by the others' sweeps: its runs fail within RUN_HEARTBEAT_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from taskiq.receiver import Receiver

from chat import workers
from chat.engine import dispatch
from chat.engine.supervisor import start_engine, stop_engine
from project.event_loop import loop_name

logger = logging.getLogger("chat.engine")


class Command(BaseCommand):
    help = "Execute runs and retrieval ingest sent by the web processes (RUN_BACKEND=workers)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None, help="runs at once (WORKER_CONCURRENCY)")

    def handle(self, *args, concurrency, **options):
        if settings.RUN_BACKEND != "workers":
            raise CommandError('Set RUN_BACKEND=workers (and REDIS_URL) for the web processes and the workers.')
        concurrency = concurrency or settings.WORKER_CONCURRENCY
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1.")
        asyncio.run(self.work(concurrency))

    async def work(self, concurrency: int) -> None:
        threads = workers.database_threads()
        async with workers.database_context(threads):
            await self._work(concurrency, threads)

    async def _work(self, concurrency: int, threads: int) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        signals = {"count": 0}

        def on_signal(signum: int) -> None:
            signals["count"] += 1
            if signals["count"] == 1:
                logger.warning(
                    "%s: draining (no new runs; up to %gs for the running ones)",
                    signal.Signals(signum).name, settings.WORKER_DRAIN_TIMEOUT,
                )
                stop.set()
            elif signals["count"] == 2:
                logger.warning("%s again: ending the running runs now", signal.Signals(signum).name)
                loop.create_task(dispatch.stop_runs(settings.SHUTDOWN_TIMEOUT))

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)

        start_engine(loop, executes=True)
        broker = workers.make_broker(settings.TASK_BROKER_URL, worker_id=dispatch.WORKER_ID)
        broker.is_worker_process = True
        announcing = loop.create_task(workers.announce(broker, dispatch.WORKER_ID, stop), name="liveness")
        receiver = Receiver(
            broker,
            max_async_tasks=concurrency,
            # With a full house, leave further tasks on the queue for the other workers.
            max_prefetch=0,
            propagate_exceptions=False,
            wait_tasks_timeout=settings.WORKER_DRAIN_TIMEOUT,
        )
        self.stdout.write(
            f"Worker {dispatch.WORKER_ID}: up to {concurrency} runs at once, {threads} database thread(s), "
            f"event loop {loop_name(loop)} (Ctrl+C to stop)"
        )
        try:
            await receiver.listen(stop)
        finally:
            # Drained, or the drain time is over: whatever still runs ends now, in a clear state.
            await stop_engine(settings.SHUTDOWN_TIMEOUT)
            stop.set()
            await asyncio.wait([announcing], timeout=5)  # runs sent to this worker go back to the others
            await broker.shutdown()
            self.stdout.write("Worker stopped.")
