"""The request path's hand-offs to a thread (``sync_to_async`` calls), counted, and the
middleware's behaviour on the event loop compared with Django's own.

Each hand-off wakes the event loop from another thread: at 200 streaming runs at once they
were a large share of the server's CPU (docs/benchmarks.md, eighth pass). Django ran every
middleware hook through one (13 per request, plus a round trip for WhiteNoise, sync only);
project/middleware.py runs the hooks that touch no database or file on the loop. What is
left per request: Django's ``request_started`` receivers, the view's database work, and
closing the response (``request_finished``), all of which use the request's connection
(project/handler.py sends the first in the view's trip and closes on the loop when no
connection is left open: tests/test_handler.py).

The behaviour test makes the same requests through Django's sync handler (``Client``: the
middleware exactly as Django wrote it) and through the async one (``AsyncClient``: our
hooks on the loop) and compares status, headers, cookies and page — a hook that touched the
database on the loop would be a 500 there (``SynchronousOnlyOperation``).
"""

from __future__ import annotations

import difflib
import json
import re
from urllib.parse import urlencode

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from axes.models import AccessAttempt
from channels.layers import get_channel_layer
from channels.testing import HttpCommunicator
from django.contrib.sessions.models import Session
from django.db import OperationalError
from django.middleware.csrf import _get_new_csrf_string
from django.test import AsyncClient, Client
from django.urls import path
from django.utils.module_loading import import_string

from chat.api.models import ApiKey
from chat.engine import dispatch, events
from chat.models import Run, Thread
from project import urls as project_urls
from project.asgi import application
from tests.api.test_live import parse_sse
from tests.test_consumers import session_cookie

pytestmark = [pytest.mark.django_db(transaction=True)]

QUESTION = "Solve 2x + 3 = 7"
# Hand-offs a request may make besides its view's own: request_started, the response's close.
DJANGO_OWN = 2
MIDDLEWARE_MODULES = ("django.middleware.", "django.contrib.", "whitenoise.", "project.middleware")


class Hops:
    """Every ``sync_to_async`` call while installed: the function it hands to a thread."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[str] = []
        call, calls = SyncToAsync.__call__, self.calls

        async def counted(adapter, *args, **kwargs):
            func = adapter.func
            calls.append(f"{func.__module__}.{getattr(func, '__qualname__', func)}")
            return await call(adapter, *args, **kwargs)

        monkeypatch.setattr(SyncToAsync, "__call__", counted)

    def take(self, *, without: tuple[str, ...] = ()) -> list[str]:
        """The calls so far (less those of the modules in ``without``), and start again."""
        taken = [name for name in self.calls if not name.startswith(without)]
        self.calls.clear()
        return taken


def _middleware(hops: list[str]) -> list[str]:
    return [name for name in hops if name.startswith(MIDDLEWARE_MODULES) and "dispatch" not in name]


async def _request(method: str, url: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """Through the server's ASGI app, as a client sends it (with its Content-Length)."""
    headers = [(b"host", b"localhost"), (b"content-length", str(len(body)).encode()), *headers]
    http = HttpCommunicator(application, method, url, body=body, headers=headers)
    await http.send_input({"type": "http.request", "body": body})
    start = await http.receive_output(10)
    received = b""
    while True:  # by hand: HttpCommunicator.get_response() trips over a final body-less chunk
        chunk = await http.receive_output(10)
        received += chunk.get("body", b"")
        if not chunk.get("more_body"):
            await http.wait(10)  # the app's end too: the response closed, request_finished sent
            return start["status"], received


async def _api(url: str, key: str, body: dict) -> tuple[int, bytes]:
    headers = [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json")]
    return await _request("POST", url, json.dumps(body).encode(), headers)


async def test_a_streamed_v1_run_hands_to_threads_only_its_database_work(monkeypatch, settings, alice, thread, tutor):
    settings.API_RATE_LIMIT = 0
    _, key = await sync_to_async(ApiKey.issue)(alice)
    await _api(f"/v1/threads/{thread.id}/messages", key, {"role": "user", "content": "hi"})  # a warm key
    hops = Hops(monkeypatch)

    status, _ = await _api(f"/v1/threads/{thread.id}/messages", key, {"role": "user", "content": QUESTION})
    created = hops.take()
    assert status == 200
    status, body = await _api(f"/v1/threads/{thread.id}/runs", key, {"assistant_id": tutor.id, "stream": True})
    await dispatch.wait_idle()
    run = hops.take(without=("chat.engine.", "chat.providers."))  # the run's own work is not the request's
    assert status == 200 and parse_sse(body)[-1][0] == "done"

    assert _middleware(created) == [] and _middleware(run) == [], (created, run)
    # messages.create: its view (sync, one trip); runs.create: one trip too, for the key,
    # reading the request, starting the run and letting the connection go before streaming
    # (were four). Were 17 and 20.
    assert len(created) <= DJANGO_OWN + 1, created
    assert len(run) <= DJANGO_OWN + 1, run


async def test_a_streamed_run_is_authenticated_and_rate_limited_in_its_one_trip(
    monkeypatch, settings, alice, thread, tutor
):
    """The stream listens before its trip; a request the trip refuses stops listening."""
    settings.API_RATE_LIMIT = 1
    _, key = await sync_to_async(ApiKey.issue)(alice)
    url, body = f"/v1/threads/{thread.id}/runs", {"assistant_id": tutor.id, "stream": True}
    cookie = [(b"cookie", (await session_cookie(alice)).encode()), (b"content-type", b"application/json")]
    status, _ = await _request("POST", url, json.dumps(body).encode(), cookie)
    assert status == 401  # a session is no key
    status, _ = await _api(url, key, body)
    await dispatch.wait_idle()
    assert status == 200  # the key's one write
    hops = Hops(monkeypatch)
    status, _ = await _api(url, key, body)
    assert status == 429
    assert [name for name in hops.take() if name.startswith("chat.")] == ["chat.api.http.trip.<locals>.authenticated"]
    assert await Run.objects.filter(thread=thread).acount() == 1
    assert not get_channel_layer().groups.get(events.group_for(thread.id))  # nobody listens


async def test_the_browsers_post_hands_to_a_thread_only_its_view(monkeypatch, alice, thread, tutor):
    monkeypatch.setattr("chat.engine.dispatch.dispatch", lambda run_id: None)  # the request, not the run
    token = _get_new_csrf_string()
    headers = [
        (b"cookie", f"{await session_cookie(alice)}; csrftoken={token}".encode()),
        (b"hx-request", b"true"),
        (b"content-type", b"application/x-www-form-urlencoded"),
    ]
    body = urlencode({"text": QUESTION, "assistant": tutor.id, "csrfmiddlewaretoken": token}).encode()
    hops = Hops(monkeypatch)
    status, page = await _request("POST", f"/threads/{thread.id}/messages/", body, headers)
    posted = hops.take()
    assert status == 200 and QUESTION.encode() in page
    assert _middleware(posted) == [], posted
    assert len(posted) <= DJANGO_OWN + 1, posted  # was 17


async def test_a_large_upload_is_parsed_for_the_csrf_token_in_a_thread(monkeypatch, alice, thread, tutor):
    monkeypatch.setattr("chat.engine.dispatch.dispatch", lambda run_id: None)
    token = _get_new_csrf_string()
    headers = [
        (b"cookie", f"{await session_cookie(alice)}; csrftoken={token}".encode()),
        (b"content-type", b"application/x-www-form-urlencoded"),
    ]
    body = urlencode({"text": QUESTION + " " * 70_000, "assistant": tutor.id, "csrfmiddlewaretoken": token}).encode()
    hops = Hops(monkeypatch)
    await _request("POST", f"/threads/{thread.id}/messages/", body, headers)
    assert "django.middleware.csrf.CsrfViewMiddleware.process_view" in hops.take()


# The same requests through Django's sync handler and through the async one ----------------


def _database_locked(request):
    raise OperationalError("database is locked")


urlpatterns = [path("busy/", _database_locked), *project_urls.urlpatterns]
handler500 = project_urls.handler500

TOKEN = re.compile(r"\b[A-Za-z0-9]{64}\b")  # a masked CSRF token
NONCE = re.compile(r"nonce-[\w+/=-]+|nonce=\"[^\"]+\"")
IDS = re.compile(r"\b(thread|msg|run|step|asst)_[A-Za-z0-9]+")
TIMES = re.compile(r"<time [^>]*>[^<]*</time>|\b\d{2}:\d{2}(:\d{2})?\b")


def _normalised(text: str) -> str:
    for pattern, stand_in in ((TOKEN, "TOKEN"), (NONCE, "NONCE"), (IDS, r"\1_ID"), (TIMES, "TIME")):
        text = pattern.sub(stand_in, text)
    return text


def _seen(response) -> dict:
    """What a browser sees of a response, less what is random per request."""
    headers = {name: _normalised(value) for name, value in response.headers.items() if name != "Content-Length"}
    cookies = {
        name: {key: value for key, value in morsel.items() if value and key != "expires"} | {"set": bool(morsel.value)}
        for name, morsel in response.cookies.items()
    }
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return {
        "status": response.status_code,
        "headers": headers,
        "cookies": cookies,
        "body": _normalised(body.decode(errors="replace")),
    }


def _form(client, **fields) -> dict:
    return {"csrfmiddlewaretoken": client.cookies["csrftoken"].value, **fields}


async def _visit(client, call, thread: Thread, gone: Thread, key: str) -> list[dict]:
    """A visitor's requests, each answer as seen; ``call`` makes one with ``client``."""
    seen = []

    async def see(method: str, url: str, data=None, **extra):
        response = await call(getattr(client, method), url, data, **extra)
        seen.append(_seen(response))
        return response

    await see("get", "/accounts/login/")  # sets the CSRF cookie
    await see("post", "/accounts/login/", {"username": "alice", "password": "alice-password-1"})  # no token: 403
    for _ in range(2):  # a locked-out address (AXES_FAILURE_LIMIT = 2): the lock-out page
        await see("post", "/accounts/login/", _form(client, username="mallory", password="guess"))
    await sync_to_async(_forget_failures)()
    await see("post", "/accounts/login/", _form(client, username="alice", password="alice-password-1"))  # session saved
    await see("get", "/threads")  # the slash added
    await see("get", f"/threads/{thread.id}/")
    await see(
        "post",
        f"/threads/{thread.id}/messages/",
        _form(client, text=QUESTION, assistant=thread.assistant_id),
        headers={"HX-Request": "true"},
    )
    await see("post", f"/threads/{gone.id}/delete/", _form(client))  # a message for the next page
    await see("get", "/threads/")  # shows it and clears it
    await see("get", "/static/css/app.css")
    await see("get", "/static/css/missing.css")
    await see("get", "/v1/assistants", headers={"Authorization": f"Bearer {key}"})
    await see("get", "/busy/")  # the database busy: 503
    await see("get", "/nowhere/")
    return seen


def _difference(expected: dict, seen: dict) -> str:
    lines = [
        f"{name}: {expected[name]!r} != {seen[name]!r}"
        for name in ("status", "headers", "cookies")
        if expected[name] != seen[name]
    ]
    body = difflib.unified_diff(
        expected["body"].splitlines(), seen["body"].splitlines(), "Django's", "on the loop", lineterm=""
    )
    return "\n".join([*lines, *body])


def _forget_failures() -> None:
    AccessAttempt.objects.all().delete()


def _conversation(alice, tutor) -> tuple[Thread, Thread]:
    """A fresh start for each visitor: two conversations, none left by the other visit."""
    Thread.objects.filter(owner=alice).delete()
    return (
        Thread.objects.create(owner=alice, assistant=tutor, title="Algebra"),
        Thread.objects.create(owner=alice, assistant=tutor, title="To delete"),
    )


@pytest.mark.urls(__name__)
async def test_the_middleware_on_the_loop_answers_as_djangos_own(monkeypatch, settings, alice, tutor):
    monkeypatch.setattr("chat.engine.dispatch.dispatch", lambda run_id: None)
    settings.AXES_FAILURE_LIMIT = 2
    settings.API_RATE_LIMIT = 0
    _, key = await sync_to_async(ApiKey.issue)(alice)

    async def in_thread(method, url, data, **extra):
        return await sync_to_async(method)(url, data, **extra)

    async def on_loop(method, url, data, **extra):
        return await method(url, data, **extra)

    sync_threads = await sync_to_async(_conversation)(alice, tutor)
    as_django = await _visit(
        Client(enforce_csrf_checks=True, raise_request_exception=False), in_thread, *sync_threads, key
    )
    sessions = await Session.objects.acount()
    async_threads = await sync_to_async(_conversation)(alice, tutor)
    on_the_loop = await _visit(
        AsyncClient(enforce_csrf_checks=True, raise_request_exception=False), on_loop, *async_threads, key
    )

    statuses = [answer["status"] for answer in as_django]
    print(statuses)
    assert statuses == [200, 403, 200, 429, 302, 301, 200, 200, 302, 200, 200, 404, 200, 503, 404]
    for sync_answer, async_answer in zip(as_django, on_the_loop, strict=True):
        assert async_answer == sync_answer, _difference(sync_answer, async_answer)
    assert await Session.objects.acount() == 2 * sessions  # each signed in once, its session saved


def test_each_stand_in_extends_the_middleware_it_stands_in_for(settings):
    """Settings name Django's classes (its deploy checks look for them by name); the chain
    is built from project/middleware.py's subclasses of them."""
    stand_ins = settings.MIDDLEWARE.stand_ins
    for django_path, ours in stand_ins.items():
        assert issubclass(import_string(ours), import_string(django_path))
        assert ours in list(settings.MIDDLEWARE) and django_path in settings.MIDDLEWARE
    assert "django.middleware.security.SecurityMiddleware" in stand_ins
    assert "django.middleware.gzip.GZipMiddleware" not in settings.MIDDLEWARE
