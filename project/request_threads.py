"""Each HTTP request's sync work on a kept thread instead of a new one.

Django's ASGI handler enters a ``ThreadSensitiveContext`` per request, so asgiref starts a
thread for the request's first ``sync_to_async`` call, and on the request's end a second
thread to join the first: two threads started per request, 4 % of the server's CPU at 200
streaming runs at once (docs/benchmarks.md, eleventh pass). Here a request borrows a
single-thread executor for its whole life and gives it back at the end; asgiref's
``ThreadSensitiveContext(executor=...)`` sends every thread-sensitive call of the request
to it (Django's own inner context then finds one entered and adds none). Between requests
a thread is what a WSGI server's worker thread is: the request's database connection is
closed on ``request_finished`` as before, and belongs to the request's context, not the thread.

One request at a time per executor, as asgiref requires. A request that ends while its
thread still runs a call (a client gone mid-upload: Django's handler returns without waiting)
does not give that thread back: the next request would queue behind a call it knows nothing
of. The thread finishes the call and ends.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.db import connections

# Idle executors kept: enough for a burst of 200 streaming runs (two requests each) to
# find threads waiting; beyond it a request starts one and it ends with the request.
KEPT = 256


def holds_connection() -> bool:
    """Whether this thread has a database connection open (connections are per thread)."""
    return any(conn.connection is not None for conn in connections.all(initialized_only=True))


class RequestThread(ThreadPoolExecutor):
    """One thread that knows which of its calls have not finished, whether its last call
    left a database connection open, and what to run before its next call (``before``:
    project/handler.py sends ``request_started`` there, in the request's first trip)."""

    def __init__(self) -> None:
        super().__init__(1, thread_name_prefix="request")
        # Added on the loop's thread, discarded on this one: set.add and set.discard are
        # each atomic, where a counter's += would not be.
        self.unfinished: set = set()
        self.before: Callable[[], object] | None = None  # set and taken on the loop's thread
        self.holds_connection = False  # written by the last call, before its future is done

    def submit(self, fn, /, *args, **kwargs):
        before, self.before = self.before, None
        future = super().submit(self._call, before, fn, args, kwargs)
        self.unfinished.add(future)
        future.add_done_callback(self.unfinished.discard)  # at once if already done
        return future

    def _call(self, before, fn, args, kwargs):
        try:
            if before is not None:
                before()
            return fn(*args, **kwargs)
        finally:
            self.holds_connection = holds_connection()


class RequestThreads:
    """Idle single-thread executors. Only the event loop's thread takes and gives them."""

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self.idle: list[RequestThread] = []
        self.started = 0

    def take(self) -> RequestThread:
        if self.idle:
            return self.idle.pop()
        self.started += 1
        return RequestThread()

    def give(self, executor: RequestThread) -> None:
        executor.before = None  # a request's own, never the next one's
        if not executor.unfinished and len(self.idle) < self.kept:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)


request_threads = RequestThreads()
# The executor the current HTTP request's thread-sensitive calls go to (project/handler.py).
current: contextvars.ContextVar[RequestThread | None] = contextvars.ContextVar("request_thread", default=None)


def on_kept_threads(app, threads: RequestThreads = request_threads):
    """``app`` (Django's ASGI handler) with each HTTP request's sync work on a kept thread."""

    async def application(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        executor = threads.take()
        mark = current.set(executor)
        try:
            async with ThreadSensitiveContext(executor=executor):
                return await app(scope, receive, send)
        finally:
            current.reset(mark)
            threads.give(executor)

    return application
