"""Each HTTP request's sync work runs on a kept thread (project/request_threads.py), counted:
Django's handler started a thread per request and another to join it at the end."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from chat.api.models import ApiKey
from project.request_threads import RequestThreads, on_kept_threads
from tests.test_request_hops import _request

pytestmark = [pytest.mark.django_db(transaction=True)]


def _threads_started(monkeypatch) -> list[str]:
    started: list[str] = []
    start = threading.Thread.start

    def counted(thread):
        started.append(thread.name)
        return start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    return started


async def test_requests_one_after_another_start_at_most_one_thread(monkeypatch, settings, alice):
    settings.API_READ_RATE_LIMIT = 0
    _, key = await sync_to_async(ApiKey.issue)(alice)
    started = _threads_started(monkeypatch)
    for _ in range(5):
        status, _ = await _request("GET", "/v1/assistants", b"", [(b"authorization", f"Bearer {key}".encode())])
        assert status == 200
    assert len(started) <= 1, started  # was 10: each request's thread and the one joining it


def _app_noting_threads(seen: list[tuple[str, int]], gate: asyncio.Event | None = None):
    async def app(scope, receive, send):
        seen.append((scope["path"], await sync_to_async(threading.get_ident)()))
        if gate is not None:
            await gate.wait()
        seen.append((scope["path"], await sync_to_async(threading.get_ident)()))

    return app


async def test_a_requests_calls_keep_to_one_thread_and_requests_at_once_get_their_own():
    seen: list[tuple[str, int]] = []
    gate = asyncio.Event()
    threads = RequestThreads(kept=4)
    app = on_kept_threads(_app_noting_threads(seen, gate), threads)
    both = asyncio.gather(*(app({"type": "http", "path": p}, None, None) for p in ("/a", "/b")))
    await asyncio.sleep(0.05)
    gate.set()
    await both
    by_path = {path: {ident for p, ident in seen if p == path} for path in ("/a", "/b")}
    assert all(len(idents) == 1 for idents in by_path.values()), by_path
    assert by_path["/a"] != by_path["/b"]
    assert threads.started == 2 and len(threads.idle) == 2

    seen.clear()
    await app({"type": "http", "path": "/c"}, None, None)
    assert {ident for _, ident in seen} <= by_path["/a"] | by_path["/b"]  # a kept thread, none new
    assert threads.started == 2


async def test_threads_beyond_the_kept_number_end_with_their_request():
    threads = RequestThreads(kept=1)
    gate = asyncio.Event()
    app = on_kept_threads(_app_noting_threads([], gate), threads)
    both = asyncio.gather(*(app({"type": "http", "path": p}, None, None) for p in ("/a", "/b")))
    await asyncio.sleep(0.05)
    gate.set()
    await both
    assert threads.started == 2 and len(threads.idle) == 1


async def test_a_request_cut_short_mid_call_does_not_hand_its_busy_thread_to_the_next():
    threads = RequestThreads(kept=1)
    release = threading.Event()
    order: list[str] = []

    def slow():
        release.wait(5)
        order.append("slow")

    async def first(scope, receive, send):
        await sync_to_async(slow)()

    async def second(scope, receive, send):
        await sync_to_async(order.append)("second")

    cut = asyncio.ensure_future(on_kept_threads(first, threads)({"type": "http"}, None, None))
    await asyncio.sleep(0.05)
    cut.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cut
    assert threads.idle == []
    # The next request is not held up behind the call it knows nothing of.
    await asyncio.wait_for(on_kept_threads(second, threads)({"type": "http"}, None, None), 2)
    release.set()
    await asyncio.sleep(0.05)
    assert order == ["second", "slow"]
    assert threads.started == 2 and len(threads.idle) == 1

