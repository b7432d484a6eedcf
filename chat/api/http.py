"""Plumbing shared by every /v1 view: Bearer auth, JSON bodies, method routing, errors.

Views are plain functions taking ``(request, **url_kwargs)``; ``endpoint({...})`` picks one
per HTTP method and wraps it so that every failure leaves as an error in the API's shape.
Session cookies never authenticate here (no CSRF on /v1): only ``Authorization: Bearer``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from inspect import iscoroutinefunction

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from chat import busy, user_input
from chat.api import specs
from chat.api.errors import ApiError, invalid
from chat.api.models import ApiKey, hash_key
from chat.services import Refused

logger = logging.getLogger("chat.api")

# Clients that poll a run wait this long between retrievals (the SDK reads the header).
POLL_AFTER_MS = 250


def check_query(request: HttpRequest) -> None:
    """Query parameters must be text a lookup can use (no NUL: PostgreSQL refuses it)."""
    for name, values in request.GET.lists():
        for value in values:
            try:
                user_input.check_text(value, name)
            except user_input.BadInput as exc:
                raise invalid(exc.message, param=name) from None


def authenticate(request: HttpRequest) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). Create a key on the API keys page.",
            code=None,
        )
    user = ApiKey.authenticate(raw.strip())
    if user is None:
        raise ApiError(401, "Incorrect API key provided. Create or check your keys on the API keys page.", code="invalid_api_key")
    check_rate(raw.strip(), reads=request.method in ("GET", "HEAD"))
    request.user = user


clock = time.time  # a seam for tests that must not straddle a window


def check_rate(raw_key: str, *, reads: bool) -> None:
    """Two fixed windows of API_RATE_WINDOW seconds per key: one budget for reads (GET,
    API_READ_RATE_LIMIT) and one for writes (everything else, API_RATE_LIMIT); 0 turns a
    budget off. Polling a run (a GET every POLL_AFTER_MS) must not use up the budget that
    creates runs. The counters live in Django's cache: per process on the embedded
    default, shared by every process with Redis."""
    limit = settings.API_READ_RATE_LIMIT if reads else settings.API_RATE_LIMIT
    if not limit:
        return
    window = settings.API_RATE_WINDOW
    now = clock()
    budget = "read" if reads else "write"
    counter = f"api-rate:{budget}:{hash_key(raw_key)[:24]}:{int(now // window)}"
    cache.add(counter, 0, timeout=window + 30)
    try:
        count = cache.incr(counter)
    except ValueError:  # evicted between add and incr
        cache.set(counter, 1, timeout=window + 30)
        count = 1
    if count > limit:
        wait = window - now % window  # until this window closes
        kind = "reads (GET)" if reads else "writes"
        error = ApiError(
            429,
            f"Rate limit reached: {limit} {kind} per {window} s for this key. Please try again in {math.ceil(wait)}s.",
            type="requests",
            code="rate_limit_exceeded",
            retry=True,
        )
        # The SDK prefers retry-after-ms and sleeps exactly that long before its retry.
        error.headers = {"Retry-After": str(math.ceil(wait)), "retry-after-ms": str(math.ceil(wait * 1000))}
        raise error


def json_body(request: HttpRequest, *, allowed: set[str] | frozenset[str] | None = None, required: tuple[str, ...] = ()) -> dict:
    """The request's JSON object (``user_input.loads`` parses it); with ``allowed``, unknown
    fields are rejected, as the hosted API did. Most bodies are checked by ``read``'s spec."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, "The request body is too large.", code="request_too_large") from None
    if not raw.strip():
        data = {}
    else:
        try:
            data = user_input.loads(raw)
        except user_input.BadInput as exc:
            if exc.syntax:
                raise invalid(
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
                    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
                ) from None
            raise invalid(exc.message, param=exc.path or None) from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.")
    if allowed is not None:
        check_fields(data, allowed, required)
    return data


def read[S: specs.Spec](request: HttpRequest, spec: type[S]) -> S:
    """The request's body, parsed, then checked against its declared ``spec``."""
    return specs.parse(spec, json_body(request), request.user)


def form_data(request: HttpRequest):
    """The request's multipart fields and files (``request.POST``, ``request.FILES``)."""
    try:
        return request.POST, request.FILES
    except RequestDataTooBig:
        raise ApiError(413, "The request body is too large.", code="request_too_large") from None
    except MultiPartParserError as exc:
        raise invalid(f"We could not parse the multipart body of your request: {exc}.") from None


def check_fields(data: dict, allowed, required: tuple[str, ...] = (), prefix: str = "") -> None:
    for name in data:
        if name not in allowed:
            raise invalid(f"Unknown parameter: '{prefix}{name}'.", param=f"{prefix}{name}", code="unknown_parameter")
    for name in required:
        if data.get(name) is None:
            raise invalid(f"Missing required parameter: '{prefix}{name}'.", param=f"{prefix}{name}", code="missing_required_parameter")


def _error_response(exc: Exception, request: HttpRequest) -> HttpResponse:
    if isinstance(exc, ApiError):
        return exc.response()
    if isinstance(exc, Refused):  # a domain rule: the same refusal the browser shows, in the API's shape
        return ApiError(exc.status, str(exc), param=exc.param, code=exc.code).response()
    if isinstance(exc, Http404):
        return ApiError(404, str(exc) or "Not found.").response()
    if isinstance(exc, RequestDataTooBig):
        return ApiError(413, "The request body is too large.", code="request_too_large").response()
    if busy.is_busy(exc):
        logger.warning("API %s %s: no database connection in time (503)", request.method, request.path)
        return busy.api_busy_error().response()
    logger.exception("API error on %s %s", request.method, request.path)
    return ApiError(500, "The server had an error while processing your request.", type="server_error").response()


def _method_not_allowed(request: HttpRequest) -> HttpResponse:
    return ApiError(405, f"Invalid method for URL ({request.method} {request.path}).").response()


def endpoint(handlers: dict[str, Callable]) -> Callable:
    """One view for a URL: authenticates, then calls the handler for the request's method.

    An async handler (one that streams) does its database work with ``trip``, and its
    first trip authenticates the request on the way: one hand-off to the request's thread
    for the key, the rate limit and the handler's own work, where there were two. Until
    then the request has no user (a session cookie never authenticates /v1)."""
    is_async = any(iscoroutinefunction(h) for h in handlers.values())

    if is_async:

        async def view(request: HttpRequest, **kwargs) -> HttpResponse:
            request.user = AnonymousUser()
            request.api_authenticated = False
            try:
                handler = handlers.get(request.method)
                if handler is None:
                    return await trip(request, _method_not_allowed, request)
                if not iscoroutinefunction(handler):
                    return await trip(request, handler, request, **kwargs)
                response = await handler(request, **kwargs)
                if not request.api_authenticated:  # a handler that made no trip
                    raise RuntimeError(f"{handler.__qualname__} answered without authenticating the request")
                return response
            except Exception as exc:  # every failure in the API's shape, never an HTML 500
                return _error_response(exc, request)

    else:

        def view(request: HttpRequest, **kwargs) -> HttpResponse:
            try:
                authenticate(request)
                check_query(request)
                handler = handlers.get(request.method)
                response = _method_not_allowed(request) if handler is None else handler(request, **kwargs)
            except Exception as exc:
                response = _error_response(exc, request)
            release_connection()  # its answer is made: closing the response needs no thread
            return response

    view.csrf_exempt = True
    view.methods = frozenset(handlers)  # for tests that walk every endpoint
    return view


async def trip(request: HttpRequest, func: Callable, *args, **kwargs):
    """``func(*args, **kwargs)`` in the request's thread, for an async handler (see
    ``endpoint``); the request's first trip authenticates it and checks its query first."""
    if request.api_authenticated:
        return await sync_to_async(func)(*args, **kwargs)

    def authenticated():
        authenticate(request)
        request.api_authenticated = True
        check_query(request)
        return func(*args, **kwargs)

    return await sync_to_async(authenticated)()


def release_connection() -> None:
    """The request's thread is done with the database: give its connection back (to the
    pool, on PostgreSQL) now, not when the response is closed (for a stream, minutes later;
    closing it then needs no trip to the thread, project/handler.py). A stream's own reads
    are short calls on the engine's thread. Called at the end of a view's last trip."""
    if not connection.in_atomic_block:  # a test's transaction keeps its connection
        connection.close()


def unknown_url(request: HttpRequest, rest: str = "") -> HttpResponse:
    return ApiError(404, f"Invalid URL ({request.method} {request.path})").response()


unknown_url.csrf_exempt = True


def ok(data: dict, *, status: int = 200, poll: bool = False) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    if poll:
        response["openai-poll-after-ms"] = str(POLL_AFTER_MS)
    return response
