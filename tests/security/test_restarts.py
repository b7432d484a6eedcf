"""Stops and restarts, replayed against a real `manage.py serve` process.

Probe: SIGTERM while a run streamed left the SSE client with a dropped connection, the
page's socket cut, and the run `in_progress` until the next start. Now the run ends at
once (failed, with a clear last_error and its partial answer), the SSE stream ends with
`thread.run.failed` and `done`, the page gets the final status and a close that makes it reconnect, and the
process exits. Probe: after a restart, a thread's Code Interpreter variables were gone
without a word; now the next call's logs say so.
"""

from __future__ import annotations

import shutil
import signal

import pytest
from openai import OpenAI
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from chat.consumers import SERVICE_RESTART
from tests.conftest import skip_or_fail
from tests.live_server import LiveServer, manage, server_env

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # the SDK's Assistants API notice

QUESTION = "Solve 3x + 5 = 20 step by step"

SEED = """
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
call_command('seed_demo', username='alice', password='alice-restart-pw-1', stdout=open('/dev/null', 'w'))
call_command('createapikey', 'alice')
browser = Client()
browser.force_login(get_user_model().objects.get(username='alice'))
print('session', browser.cookies['sessionid'].value)
"""


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A migrated DATA_DIR with alice, her API key and a logged-in browser session."""
    data_dir = tmp_path_factory.mktemp("restarts-seed")
    manage(server_env(data_dir), "migrate", "--noinput")
    out = manage(server_env(data_dir), "shell", "-c", SEED).split()
    key = next(word for word in out if word.startswith("sk-tutor-"))
    session = out[out.index("session") + 1]
    return data_dir, key, session


@pytest.fixture
def start_server(seeded, tmp_path):
    """Start (and restart) a server on a copy of the seeded DATA_DIR."""
    seed_dir, key, session = seeded
    for path in [*seed_dir.glob("db.sqlite3*"), seed_dir / "secret_key"]:  # the session is signed with the key
        shutil.copy2(path, tmp_path / path.name)
    started: list[LiveServer] = []

    def start(**settings) -> LiveServer:
        env = server_env(tmp_path, API_RATE_LIMIT="0", **settings)
        server = LiveServer.start("restarts", tmp_path, env)
        server.env, server.key, server.session = env, key, session
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def sdk(server: LiveServer) -> OpenAI:
    return OpenAI(base_url=server.url("/v1"), api_key=server.key, max_retries=0, timeout=30)


def math_tutor(client: OpenAI):
    return next(a for a in client.beta.assistants.list() if a.name == "Math Tutor")


def stream_and_stop(client: OpenAI, server: LiveServer, thread_id: str, assistant_id: str):
    """Stream a run through the SDK and send SIGTERM to the server at its first text delta.
    Returns the stream's last event and the names of all."""
    names = []
    with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant_id) as stream:
        for event in stream:
            names.append(event.event)
            if event.event == "thread.message.delta" and names.count("thread.message.delta") == 1:
                server.process.send_signal(signal.SIGTERM)
    return event, names


def test_sigterm_ends_the_run_and_every_stream_with_a_final_event_and_the_server_exits(start_server):
    server = start_server(OFFLINE_MODEL_DELAY="0.15")
    client = sdk(server)
    tutor = math_tutor(client)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    with ws_connect(
        server.url(f"/ws/threads/{thread.id}/").replace("http", "ws", 1),
        additional_headers={"Cookie": f"sessionid={server.session}", "Origin": server.base_url},
        open_timeout=10,
    ) as page:
        page.recv(timeout=10)  # the snapshot
        final, names = stream_and_stop(client, server, thread.id, tutor.id)
        frames = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frames.append(page.recv(timeout=30))

    assert final.event == "thread.run.failed", names[-5:]
    assert final.data.last_error.code == "server_error"
    assert "The server was stopped during this run" in final.data.last_error.message
    assert "thread.message.incomplete" in names
    assert closed.value.rcvd is not None and closed.value.rcvd.code == SERVICE_RESTART  # the page reconnects by itself
    assert any("chip--failed" in frame for frame in frames)

    assert server.process.wait(timeout=30) == 0  # exits by itself (a hang guard, not a timing)
    rows = manage(
        server.env, "shell", "-c",
        "from chat.models import Message, Run\n"
        "run = Run.objects.get()\n"
        "answer = Message.objects.get(run=run)\n"
        "print(run.status, '|', run.last_error['message'], '|', answer.status, '|', len(answer.text))",
    )
    status, error, answer_status, length = [part.strip() for part in rows.strip().splitlines()[-1].split("|")]
    assert status == "failed" and "stopped during this run" in error
    assert answer_status == "incomplete" and int(length) > 0  # the partial answer was kept


def test_after_a_restart_the_code_interpreter_says_the_session_was_reset(start_server):
    if shutil.which("bwrap") is None:
        skip_or_fail("bubblewrap (bwrap) is not installed: apt-get install bubblewrap (make test installs it as root)")
    from chat.code_interpreter import sandbox

    problem = sandbox.probe()
    if problem:
        skip_or_fail(problem)

    def ask(server, thread_id, code):
        client = sdk(server)
        coder = client.beta.assistants.create(model="offline", name="Coder", tools=[{"type": "code_interpreter"}])
        client.beta.threads.messages.create(thread_id, role="user", content=f"```python\n{code}\n```")
        run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=coder.id, poll_interval_ms=100)
        assert run.status == "completed", run.last_error
        steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread_id)
        return "".join(
            output.logs
            for step in steps
            if step.step_details.type == "tool_calls"
            for call in step.step_details.tool_calls
            for output in call.code_interpreter.outputs
            if output.type == "logs"
        )

    first = start_server(OFFLINE_MODEL_DELAY="0")
    thread = sdk(first).beta.threads.create()
    ask(first, thread.id, "x = 41\nprint(x + 1)")
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=30) == 0

    second = start_server(OFFLINE_MODEL_DELAY="0")
    logs = ask(second, thread.id, "print(x)")
    assert "New Python session" in logs and "the server was restarted" in logs
    assert "NameError" in logs
