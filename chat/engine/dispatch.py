"""Where runs execute. One entry point, ``dispatch(run_id)``, so that moving execution
to separate worker processes (a later issue) is a change here and nowhere else.

Embedded mode (the default): the run executes as an asyncio task on the web server's event loop,
the same loop the WebSocket consumers live on (the in-memory channel layer is not
thread-safe, so events must be sent from that loop). Views call ``dispatch`` from a
worker thread after their transaction commits; it hops onto the server loop.

Worker mode (RUN_BACKEND="workers"): a backend registered at start-up (``use_backend``,
from ChatConfig.ready) sends the run to a worker process, which executes it here with
``run_here`` on its own loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from typing import Protocol

from chat.engine.executor import execute
from chat.engine.worker import WORKER_ID  # noqa: F401  (recovery reads it here)

logger = logging.getLogger("chat.engine")

_server_loop: asyncio.AbstractEventLoop | None = None
_tasks: dict[str, asyncio.Task] = {}
_again: set[str] = set()
_stopping = False
_fallback_loop: asyncio.AbstractEventLoop | None = None
_fallback_lock = threading.Lock()
_backend: Backend | None = None


class Backend(Protocol):
    """Somewhere else to execute runs: ``send`` must be safe to call from any thread."""

    def send(self, run_id: str) -> None: ...


def use_backend(backend: Backend | None) -> None:
    """Send runs to ``backend`` instead of executing them in this process (None: here)."""
    global _backend
    _backend = backend


def set_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


def server_loop() -> asyncio.AbstractEventLoop | None:
    return _server_loop


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _background_loop() -> asyncio.AbstractEventLoop:
    """A private loop in a daemon thread, for processes with no server loop (shell, scripts)."""
    global _fallback_loop
    with _fallback_lock:
        if _fallback_loop is None:
            _fallback_loop = asyncio.new_event_loop()
            threading.Thread(target=_fallback_loop.run_forever, name="run-engine", daemon=True).start()
        return _fallback_loop


def _target_loop() -> asyncio.AbstractEventLoop:
    running = _running_loop()
    if running is not None:
        return running
    if _server_loop is not None and _server_loop.is_running():
        return _server_loop
    return _background_loop()


def _start(run_id: str, context: contextvars.Context | None = None) -> None:
    if run_id in _tasks:
        # Asked again while a task has it: perhaps it found the run waiting (for its
        # files) just before the wait ended. Look once more when that task is done.
        _again.add(run_id)
        return
    # A fresh context: the run must not inherit the request's asgiref state (its
    # CurrentThreadExecutor dies with the request, and the run outlives it).
    task = asyncio.get_running_loop().create_task(
        execute(run_id), name=f"run {run_id}", context=context or contextvars.Context()
    )
    _tasks[run_id] = task
    task.add_done_callback(lambda t: _finished(run_id, t))


def _finished(run_id: str, task: asyncio.Task) -> None:
    _tasks.pop(run_id, None)
    if not task.cancelled() and task.exception() is not None:
        logger.error("run %s crashed", run_id, exc_info=task.exception())
    if run_id in _again:
        _again.discard(run_id)
        if not _stopping:
            _start(run_id)  # a run that already started or ended is not claimed twice


def dispatch(run_id: str) -> None:
    """Start executing a queued run off the request. Safe to call from any thread."""
    if _backend is not None:
        _backend.send(run_id)
        return
    if _stopping:
        logger.info("not starting run %s: the server is stopping (the next start will)", run_id)
        return
    loop = _target_loop()
    if loop is _running_loop():
        _start(run_id)
    else:
        loop.call_soon_threadsafe(_start, run_id, context=contextvars.Context())


def run_here(run_id: str, context: contextvars.Context | None = None) -> asyncio.Task | None:
    """Execute a run on the running loop, whatever the backend (a worker's task), in
    ``context`` if given (a worker's, naming its database threads). Returns the task
    executing it, to await."""
    _start(run_id, context)
    return _tasks.get(run_id)


def interrupt(run_id: str) -> None:
    """Stop a run this process is executing (after its status moved to cancelling)."""

    def _cancel() -> None:
        task = _tasks.get(run_id)
        if task is not None:
            task.cancel()

    for loop in {_running_loop(), _server_loop, _fallback_loop} - {None}:
        if loop is _running_loop():
            _cancel()
        elif loop.is_running():
            loop.call_soon_threadsafe(_cancel)


def is_executing_here(run_id: str) -> bool:
    return run_id in _tasks


async def wait_idle(timeout: float = 10.0) -> None:
    """Wait for this loop's runs to finish (tests, shutdown)."""
    tasks = [t for t in _tasks.values() if t.get_loop() is asyncio.get_running_loop()]
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)


async def stop_runs(timeout: float) -> None:
    """At shutdown: start nothing new, and end each run this loop executes at once. A run
    interrupted this way fails with a clear last_error and keeps its partial answer (or
    ends cancelled if a cancel was asked), and publishes its final status itself."""
    global _stopping
    _stopping = True
    tasks = [t for t in _tasks.values() if t.get_loop() is asyncio.get_running_loop()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
