"""`manage.py serve` runs Twisted's reactor, and so Daphne and the app, on uvloop's loop
(project/event_loop.py); EVENT_LOOP=asyncio, or no uvloop installed, keeps asyncio's."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from project import event_loop
from tests.api.conftest import start_api_server

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # the SDK's Assistants API notice


def _loop_line(server) -> str:
    """The line ``serve`` writes from a callback the running reactor calls on its loop."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = [line for line in server.log_path.read_text(errors="replace").splitlines() if "event loop" in line]
        if lines:
            return lines[0]
        server.assert_alive()
        time.sleep(0.05)
    pytest.fail(f"serve never said which loop it runs on:\n{server.log_tail()}")


def _streamed_answer(server) -> str:
    with server.client("alice") as sdk:
        assistant = sdk.beta.assistants.list().data[0]
        thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Solve 2x + 3 = 11 — résumé ✓"}])
        with sdk.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
            stream.until_done()
            return stream.get_final_messages()[-1].content[0].text.value


def test_the_served_reactor_runs_on_uvloop_and_streams(api_server):
    assert _loop_line(api_server) == "Listening, event loop uvloop.Loop"
    assert "x = 4" in _streamed_answer(api_server)


def test_event_loop_asyncio_serves_on_asyncios_loop(tmp_path):
    server = start_api_server(
        "asyncio-loop", tmp_path, OFFLINE_MODEL_DELAY="0", API_RATE_LIMIT="0", EVENT_LOOP="asyncio"
    )
    try:
        assert _loop_line(server) == "Listening, event loop asyncio._UnixSelectorEventLoop"
        assert "x = 4" in _streamed_answer(server)
    finally:
        server.stop()


@pytest.fixture
def _policy_kept():
    policy = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(policy)


def test_without_uvloop_installed_new_loops_stay_asyncios(monkeypatch, _policy_kept):
    monkeypatch.delenv("EVENT_LOOP", raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert event_loop.install() == "asyncio"
    loop = asyncio.new_event_loop()
    try:
        assert event_loop.loop_name(loop) == "asyncio._UnixSelectorEventLoop"
    finally:
        loop.close()


def test_a_misspelt_event_loop_is_refused_at_start_up(monkeypatch, _policy_kept):
    monkeypatch.setenv("EVENT_LOOP", "uv-loop")
    with pytest.raises(ImproperlyConfigured, match="EVENT_LOOP"):
        event_loop.install()
