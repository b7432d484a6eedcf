"""Django's middleware, with the hooks that touch no database and no file run on the event loop.

Under ASGI, Django runs every hook of a ``MiddlewareMixin`` middleware (``process_request``,
``process_view``, ``process_response``) through ``sync_to_async(thread_sensitive=True)``,
and WhiteNoise's middleware, being sync only, made Django run the top of the chain in a
thread and the rest back on the loop through ``async_to_sync``. That was 13 hooks and one
round trip per request, each a hand-off to the request's thread and back, where the hook
itself is a few header writes: most of what a request cost the process besides its view.

This module is the one place that decides which hook may run on the loop. A hook runs
there when what it does cannot reach the database or a file: setting headers, reading
cookies, making lazy objects. The hooks that may (saving a session, storing messages,
serving a static file, parsing a large upload for the CSRF token, rendering the CSRF
failure page) still go to the request's thread, and only when they have that work to do.
Called on the loop by mistake, a database access raises ``SynchronousOnlyOperation``
instead of blocking it. In sync mode (WSGI, Django's test ``Client``) nothing changes.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csp, csrf, security
from whitenoise.middleware import WhiteNoiseMiddleware

# A request body up to this size is parsed on the loop for the CSRF token: a form of text.
# Bigger ones (uploads) are parsed in the request's thread, as Django would.
CSRF_BODY_ON_LOOP = 64 * 1024


class LoopHooks:
    """Mixed into a ``MiddlewareMixin`` subclass: in async mode its hooks run on the event
    loop unless ``request_needs_thread`` / ``response_needs_thread`` say otherwise."""

    def request_needs_thread(self, request) -> bool:
        return False

    def response_needs_thread(self, request, response) -> bool:
        return False

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            if self.request_needs_thread(request):
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(LoopHooks, security.SecurityMiddleware):
    """Headers and the HTTPS redirect."""


class SessionMiddleware(LoopHooks, sessions.SessionMiddleware):
    """Makes a lazy session on the loop; saves it in the thread, only when it must be saved."""

    def response_needs_thread(self, request, response) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonMiddleware(LoopHooks, common.CommonMiddleware):
    """Host and user-agent checks, the trailing-slash redirect (URL resolving), Content-Length."""


class CsrfViewMiddleware(LoopHooks, csrf.CsrfViewMiddleware):
    """The CSRF cookie on the loop (not with ``CSRF_USE_SESSIONS``: that reads the session);
    the check on the loop when the body is small; the failure page in the thread."""

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            # Django adapts process_view by its kind: a coroutine here needs no thread.
            self.process_view = self._process_view_on_loop

    def request_needs_thread(self, request) -> bool:
        return settings.CSRF_USE_SESSIONS

    def response_needs_thread(self, request, response) -> bool:
        return settings.CSRF_USE_SESSIONS

    async def _process_view_on_loop(self, request, callback, callback_args, callback_kwargs):
        check = super().process_view
        # An exempt view's check ends before the body; others may parse it for the token.
        body_read_in_memory = getattr(callback, "csrf_exempt", False) or _body_is_small(request)
        if settings.CSRF_USE_SESSIONS or not body_read_in_memory:
            return await sync_to_async(check, thread_sensitive=True)(request, callback, callback_args, callback_kwargs)
        request._csrf_rejections_deferred = True
        try:
            return check(request, callback, callback_args, callback_kwargs)
        except _Rejected as rejected:
            reason = rejected.reason
        finally:
            del request._csrf_rejections_deferred
        # The failure page renders a template with the request's context (the user...).
        return await sync_to_async(super()._reject, thread_sensitive=True)(request, reason)

    def _reject(self, request, reason):
        if getattr(request, "_csrf_rejections_deferred", False):
            raise _Rejected(reason)
        return super()._reject(request, reason)


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _body_is_small(request) -> bool:
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return True
    try:
        return int(request.META.get("CONTENT_LENGTH") or "x") <= CSRF_BODY_ON_LOOP
    except ValueError:  # no length given (chunked): it could be anything
        return False


class AuthenticationMiddleware(LoopHooks, auth.AuthenticationMiddleware):
    """Puts a lazy user on the request; reading it is the view's business."""


class MessageMiddleware(LoopHooks, messages.MessageMiddleware):
    """Makes the lazy storage on the loop; stores messages (cookie, session) in the thread
    when a message was added or read."""

    def response_needs_thread(self, request, response) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(LoopHooks, clickjacking.XFrameOptionsMiddleware):
    """One header."""


class ContentSecurityPolicyMiddleware(LoopHooks, csp.ContentSecurityPolicyMiddleware):
    """A lazy nonce, then the policy headers."""


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to run in an async chain: a request that is no static file goes on
    without a thread (the files were listed at start-up); serving one opens it in the thread.
    With ``WHITENOISE_AUTOREFRESH`` (DEBUG) the lookup reads the disk, so it goes there too."""

    async_capable = True

    def __init__(self, get_response=None, settings=settings):
        super().__init__(get_response, settings)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file, thread_sensitive=True)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=True)(static_file, request)
        return await self.get_response(request)
