"""Nothing is ever left stuck: recovering runs whose process died, expiring runs that
waited too long for tool outputs, and re-dispatching queued runs nobody picked up."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from chat import readiness
from chat.engine import dispatch, events, states
from chat.models import Message, Run, RunStep

logger = logging.getLogger("chat.engine")

ORPHANED = {
    "code": "server_error",
    "message": "The server stopped while this run was in progress; the partial answer was kept.",
}
SWEEP_INTERVAL = 5.0


def _owner_is_gone(worker: str) -> bool:
    """True when ``worker`` (a Run.worker value, "host:pid:token") names a process on this
    machine that no longer exists: its runs need not wait for their heartbeat to go stale.
    A pid that was reused looks alive; then the heartbeat decides, as for other machines."""
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != dispatch.WORKER_ID.partition(":")[0] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (owned by another user)
        return False
    return False


def _orphans() -> list[Run]:
    """Runs in progress whose process died. Never a live process's run, not even at
    start-up: with several processes on one database (web processes, workers), a process
    that starts must leave the others' runs alone. A run is orphaned when its heartbeat
    stopped, or at once when its process, on this machine, is gone."""
    stale = timezone.now() - timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT)
    running = Run.objects.filter(status__in=[states.IN_PROGRESS, states.CANCELLING]).exclude(worker=dispatch.WORKER_ID)
    return [
        run
        for run in running
        if run.heartbeat_at is None or run.heartbeat_at < stale or _owner_is_gone(run.worker)
    ]


def _close_run_rows(run: Run, message_reason: str, step_status: str, error: dict | None) -> None:
    Message.mark_incomplete(run, message_reason)
    run.close_open_steps(step_status, error)


def recover() -> list[Run]:
    """Fail or cancel orphaned runs; expire overdue ones. Returns the runs it changed."""
    changed = []
    for run in _orphans():
        if run.status == states.CANCELLING:
            _close_run_rows(run, "run_cancelled", RunStep.CANCELLED, None)
            moved = run.transition(states.CANCELLED)
        else:
            _close_run_rows(run, "run_failed", RunStep.FAILED, ORPHANED)
            moved = run.transition(states.FAILED, expect=states.IN_PROGRESS, last_error=ORPHANED)
        if moved:
            logger.warning("recovered orphaned run %s -> %s", run.id, run.status)
            changed.append(run)
    overdue = Run.objects.filter(status=states.REQUIRES_ACTION, expires_at__lt=timezone.now())
    for run in overdue:
        _close_run_rows(run, "run_expired", RunStep.EXPIRED, None)
        if run.transition(states.EXPIRED, expect=states.REQUIRES_ACTION):
            changed.append(run)
    return changed


def unclaimed_queued(*, older_than: float) -> list[str]:
    """Queued runs nobody took, except those still waiting (for their files): whatever
    ends the wait starts them, however long it takes. The wait counts from when the run
    went into the queue: one queued again after tool outputs was created long before, and
    counting from then sent it to the workers a second time."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    queued = Run.objects.filter(status=states.QUEUED, queued_at__lt=cutoff).select_related("thread")
    return [run.id for run in queued if readiness.waiting_reason(run, run.thread) is None]


async def sweep(*, startup: bool = False) -> None:
    for run in await sync_to_async(recover)():
        await events.publish(run.thread_id, "run.status", run_id=run.id)
    # At start-up of the one embedded process every queued run is ours to start; otherwise
    # only ones nobody took for a while (with workers, the others are still on the queue).
    alone = startup and settings.RUN_BACKEND == "embedded"
    for run_id in await sync_to_async(unclaimed_queued)(older_than=0 if alone else settings.RUN_HEARTBEAT_TIMEOUT):
        if not dispatch.is_executing_here(run_id):
            dispatch.dispatch(run_id)


async def supervise() -> None:
    """Runs for the life of the server process."""
    try:
        await sweep(startup=True)
    except Exception:
        logger.exception("start-up recovery failed")
    while True:
        await asyncio.sleep(SWEEP_INTERVAL)
        try:
            await sweep()
        except Exception:
            logger.exception("run sweep failed")
