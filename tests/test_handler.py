"""project/handler.py: ``request_started`` sent in the request's first trip to its thread,
the response closed on the loop when the thread has nothing to do there — and Django's
behaviour kept: each signal sent once per request, ``request_started`` before the
request's database work on its thread, the request's connection given back (to the pool,
on PostgreSQL), also for a streamed response and a client gone mid-stream.
"""

from __future__ import annotations

import json
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.core.signals import request_finished, request_started
from django.db import connection, connections
from django.http import HttpResponse
from django.urls import path

from chat.api.models import ApiKey
from chat.engine import dispatch
from project import urls as project_urls
from project.asgi import application
from project.request_threads import holds_connection, request_threads
from tests.api.test_live import parse_sse
from tests.test_consumers import session_cookie
from tests.test_request_hops import QUESTION, Hops, _api, _request

pytestmark = [pytest.mark.django_db(transaction=True)]


class SLOW:
    started = threading.Event()
    release = threading.Event()


def _slow(request) -> HttpResponse:
    SLOW.started.set()
    SLOW.release.wait(5)
    return HttpResponse("late")


urlpatterns = [path("slow/", _slow), *project_urls.urlpatterns]
handler500 = project_urls.handler500


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, str]]:
    """Each ``request_started`` and ``request_finished`` sent: (which, the thread's name)."""
    sent: list[tuple[str, str]] = []
    for which, signal in (("started", request_started), ("finished", request_finished)):
        send, asend = signal.send, signal.asend

        def counted(*args, _which=which, _send=send, **kwargs):
            sent.append((_which, threading.current_thread().name))
            return _send(*args, **kwargs)

        async def acounted(*args, _which=which, _asend=asend, **kwargs):
            sent.append((_which, threading.current_thread().name))
            return await _asend(*args, **kwargs)

        monkeypatch.setattr(signal, "send", counted)
        monkeypatch.setattr(signal, "asend", acounted)
    return sent


@pytest.fixture
def key(alice, settings) -> str:
    settings.API_RATE_LIMIT = settings.API_READ_RATE_LIMIT = 0
    return ApiKey.issue(alice)[1]


async def _thread_holds_connection() -> bool:
    """Whether the request's thread (the one given back last) kept a database connection."""
    executor = request_threads.idle[-1]
    return executor.submit(holds_connection).result(5)


async def _checked_out(key: str, thread, tutor) -> int | None:
    """Connections handed out by the PostgreSQL pool (None on SQLite), after a run that
    leaves the engine's own database thread with its connection."""
    if connection.vendor != "postgresql":
        return None
    await _api(f"/v1/threads/{thread.id}/runs", key, {"assistant_id": tutor.id, "stream": True})
    await dispatch.wait_idle()

    def stats():
        got = connections["default"].pool.get_stats()
        return got["pool_size"] - got["pool_available"]

    return await sync_to_async(stats)()


def _only_on(sent, which: str) -> list[str]:
    return [name for w, name in sent if w == which]


async def test_each_request_sends_each_signal_once_and_gives_its_connection_back(sent, alice, key, thread, tutor):
    checked_out = await _checked_out(key, thread, tutor)
    auth = [(b"authorization", f"Bearer {key}".encode())]
    for url, headers in [("/v1/assistants", auth), (f"/v1/threads/{thread.id}/messages", auth), ("/nowhere/", [])]:
        sent.clear()
        status, _ = await _request("GET", url, b"", headers)
        assert status in (200, 404)
        assert [w for w, _ in sent] == ["started", "finished"], (url, sent)
        if url.startswith("/v1/"):  # on the request's thread, with its first trip there
            assert _only_on(sent, "started")[0].startswith("request"), sent
        else:  # a 404 page makes no trip: both sent as it closes, on the loop
            assert _only_on(sent, "started") == _only_on(sent, "finished") == [threading.current_thread().name]
        assert not await _thread_holds_connection(), url
    sent.clear()

    status, _ = await _request("GET", f"/threads/{thread.id}/", b"", [(b"cookie", (await session_cookie(alice)).encode())])
    assert status == 200
    assert [w for w, _ in sent] == ["started", "finished"], sent
    # A page's view leaves its connection open: closed where it lives, on the request's thread.
    assert _only_on(sent, "finished")[0].startswith("request"), sent
    assert not await _thread_holds_connection()
    sent.clear()

    status, _ = await _api(f"/v1/threads/{thread.id}/messages", key, {"role": "user", "content": QUESTION})
    assert status == 200
    assert [w for w, _ in sent] == ["started", "finished"], sent
    # A /v1 view gives its connection back at its end: nothing left for the thread (was a hop).
    assert _only_on(sent, "finished") == [threading.current_thread().name], sent
    assert not await _thread_holds_connection()
    sent.clear()

    status, body = await _api(f"/v1/threads/{thread.id}/runs", key, {"assistant_id": tutor.id, "stream": True})
    await dispatch.wait_idle()
    assert status == 200 and parse_sse(body)[-1][0] == "done"
    assert [w for w, _ in sent] == ["started", "finished"], sent
    assert _only_on(sent, "started")[0].startswith("request"), sent
    # The view gave its connection back in its trip: nothing left for the thread (was a hop).
    assert _only_on(sent, "finished") == [threading.current_thread().name], sent
    assert not await _thread_holds_connection()
    assert await _checked_out(key, thread, tutor) == checked_out


async def test_a_streamed_runs_two_requests_make_two_hand_offs(monkeypatch, key, thread, tutor):
    """Were six: request_started and the response's close, each a hop, in both requests."""
    hops = Hops(monkeypatch)
    status, _ = await _api(f"/v1/threads/{thread.id}/messages", key, {"role": "user", "content": QUESTION})
    created = hops.take()
    status, body = await _api(f"/v1/threads/{thread.id}/runs", key, {"assistant_id": tutor.id, "stream": True})
    await dispatch.wait_idle()
    streamed = hops.take(without=("chat.engine.", "chat.providers."))
    assert parse_sse(body)[-1][0] == "done"
    assert len(created) == 1, created  # its view
    assert len(streamed) == 1, streamed  # its one trip


async def test_a_client_gone_mid_stream_ends_the_request_once(sent, key, thread, tutor):
    checked_out = await _checked_out(key, thread, tutor)
    sent.clear()
    body = json.dumps({"assistant_id": tutor.id, "stream": True}).encode()
    headers = [
        (b"host", b"localhost"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", f"Bearer {key}".encode()),
        (b"content-type", b"application/json"),
    ]
    http = HttpCommunicator(application, "POST", f"/v1/threads/{thread.id}/runs", body=body, headers=headers)
    await http.send_input({"type": "http.request", "body": body})
    start = await http.receive_output(10)
    first = await http.receive_output(10)
    assert start["status"] == 200 and first["body"].startswith(b"event: ")
    await http.send_input({"type": "http.disconnect"})
    await http.wait(10)
    await dispatch.wait_idle()
    assert [w for w, _ in sent] == ["started", "finished"], sent
    assert not await _thread_holds_connection()
    assert await _checked_out(key, thread, tutor) == checked_out


async def test_a_client_gone_before_its_answer_still_ends_the_request(sent, settings):
    """No response at all: ``request_finished`` alone, with ``request_started`` before it."""
    http = HttpCommunicator(application, "GET", "/v1/assistants", headers=[(b"host", b"localhost")])
    await http.send_input({"type": "http.disconnect"})  # before the body's end: never served
    await http.wait(10)
    assert sent == []  # Django sends neither for a request whose body never came

    settings.ROOT_URLCONF = "tests.test_handler"  # with /slow/
    http = HttpCommunicator(application, "GET", "/slow/", headers=[(b"host", b"localhost")])
    await http.send_input({"type": "http.request", "body": b""})
    await sync_to_async(SLOW.started.wait, thread_sensitive=False)(5)
    await http.send_input({"type": "http.disconnect"})  # while its view runs: Django waits for it
    SLOW.release.set()
    await http.wait(10)
    assert [w for w, _ in sent] == ["started", "finished"], sent


async def test_a_receiver_of_another_kind_runs_on_the_requests_thread(sent, key):
    """Receivers other than Django's own may need the request's thread: the close goes there."""
    where: list[str] = []

    def noted(**kwargs):
        where.append(threading.current_thread().name)

    request_finished.connect(noted)
    try:
        status, _ = await _request("GET", "/v1/assistants", b"", [(b"authorization", f"Bearer {key}".encode())])
    finally:
        request_finished.disconnect(noted)
    assert status == 200
    assert len(where) == 1 and where[0].startswith("request"), where
