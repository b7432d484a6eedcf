"""Django's ASGI handler with its two hand-offs of its own folded away: ``request_started``
is sent in the request's first trip to its thread, and the response is closed on the loop
when the thread has nothing left to do.

Django's handler hands two calls per request to the request's thread besides the view's
own: ``request_started`` (``Signal.asend``) before the view, and ``response.close()`` (which
sends ``request_finished``) after the last byte. Each wakes the thread and then the loop:
four of the SDK's six per streamed SSE run (docs/benchmarks.md, thirteenth pass).

- ``request_started`` is sent on the request's thread just before the request's first call
  there (``RequestThread.before``, usually the view's trip), in the context the request had
  where Django sends it. Its receivers (``close_old_connections``, ``reset_queries``) still
  run once, on that thread, before any of the request's database work; a request that
  makes no call there sends it as it closes.
- The response is closed on the loop only when the thread has nothing to do: no call of the
  request still running, no database connection open on the thread (the /v1 streaming
  views give theirs back at the end of their trip; the loop's thread never has one), no
  resource of the response to close but its request (no file, no sync iterator), and no
  receivers but Django's own, which would then find nothing to close there. Otherwise it
  is closed on the thread as Django does, with ``request_started`` first if still unsent.

Either way ``request_finished`` is sent once, after the response was sent or the client
went, as Django sends it. Outside ``on_kept_threads`` (no request thread known) this is
Django's handler unchanged.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from contextlib import closing

import django
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.cache import close_caches
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import reset_urlconf
from django.db import close_old_connections, reset_queries
from django.http import HttpRequest
from django.urls import set_script_prefix

from project.request_threads import RequestThread, current

# Receivers that need no thread when no connection is open: all they would close is
# connections (per thread), caches and the URLconf (per context).
_ON_THE_LOOP = {
    signals.request_started: frozenset({reset_queries, close_old_connections}),
    signals.request_finished: frozenset({close_old_connections, close_caches, reset_urlconf}),
}


def _the_requests(closer) -> bool:
    """Whether a response's closer is its request's ``close`` (Django adds it to every
    response): it closes the request's body and uploaded files, no database work."""
    return isinstance(getattr(closer, "__self__", None), HttpRequest)


def _on_the_loop(signal, sender) -> bool:
    sync, asynchronous = signal._live_receivers(sender)
    return not asynchronous and all(receiver in _ON_THE_LOOP[signal] for receiver in sync)


class OneTripHandler(ASGIHandler):
    async def handle(self, scope, receive, send):
        thread = current.get()
        if thread is None:
            return await super().handle(scope, receive, send)
        # From here, Django's ``ASGIHandler.handle`` (6.1) but for the two signal points.
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return

        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            thread.before = functools.partial(
                contextvars.copy_context().run, signals.request_started.send, sender=self.__class__, scope=scope
            )
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                body_file.close()
                await self.send_response(error_response, send)
                await self.finish(thread, error_response)
                return

            class RequestProcessed(Exception):
                pass

            response = None
            try:
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self.listen_for_disconnect(receive))
                        response = await self.run_get_response(request)
                        await self.send_response(response, send)
                        raise RequestProcessed
                except* (RequestProcessed, RequestAborted):
                    pass
            except BaseExceptionGroup as exception_group:
                if len(exception_group.exceptions) == 1:
                    raise exception_group.exceptions[0]  # noqa: B904 (as Django raises it)
                raise

            await self.finish(thread, response)

    async def finish(self, thread: RequestThread, response) -> None:
        """Close ``response`` (with none, the client gone first: send ``request_finished``)."""
        started = thread.before  # still to send: none of the request's calls reached its thread
        if (
            thread.unfinished
            or thread.holds_connection
            or (response is not None and not all(_the_requests(closer) for closer in response._resource_closers))
            or not _on_the_loop(signals.request_finished, self.__class__)
            or (started is not None and not _on_the_loop(signals.request_started, self.__class__))
        ):
            if response is None:
                await sync_to_async(signals.request_finished.send)(sender=self.__class__)
            else:
                await sync_to_async(response.close)()
            return
        thread.before = None
        if started is not None:
            started()
        if response is None:
            signals.request_finished.send(sender=self.__class__)
        else:
            response.close()


def get_asgi_application() -> OneTripHandler:
    """``django.core.asgi.get_asgi_application`` with this handler."""
    django.setup(set_prefix=False)
    return OneTripHandler()
