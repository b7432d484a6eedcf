""""The server is busy": a request that could not get a database connection in time.

With PostgreSQL each process shares DATABASE_POOL_SIZE pooled connections; under a burst
a request waits for one while the pool hands them out, and psycopg_pool's PoolTimeout
(Django wraps it in an OperationalError) ends the wait when none was handed out for
DATABASE_POOL_TIMEOUT or after DATABASE_POOL_MAX_WAIT (project/postgresql/base.py). That is load, not a bug: the client should come
back in a moment, so it gets 503 with Retry-After — in the API's error shape on /v1, a
plain page in the browser — never a 500. SQLite's "database is locked" (a writer held the
lock past the busy timeout) is the same situation.
"""

from __future__ import annotations

import math
import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.views import defaults

from chat.api.errors import ApiError

BUSY_MESSAGE = "The server is busy right now. Please try again in a few seconds."


def retry_after() -> int:
    return max(1, math.ceil(getattr(settings, "DATABASE_POOL_TIMEOUT", 1.0)))


def is_busy(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what it wraps) says no database connection came in time."""
    seen = 0
    while exc is not None and seen < 10:
        if type(exc).__name__ == "PoolTimeout" and type(exc).__module__.startswith("psycopg_pool"):
            return True
        if type(exc).__name__ == "OperationalError" and "database is locked" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def api_busy_error() -> ApiError:
    error = ApiError(503, BUSY_MESSAGE, type="server_error", code="server_busy", retry=True)
    # The SDK retries a 503 and prefers retry-after-ms.
    error.headers = {"Retry-After": str(retry_after()), "retry-after-ms": str(retry_after() * 1000)}
    return error


def busy_page() -> HttpResponse:
    # Rendered without a request context: the context processors would need the database.
    response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(retry_after())
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a busy database becomes a 503; anything else is Django's own 500."""
    if is_busy(sys.exc_info()[1]):
        return api_busy_error().response() if request.path.startswith("/v1/") else busy_page()
    return defaults.server_error(request)
