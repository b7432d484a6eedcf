"""Cluster mode (RUN_BACKEND=workers) with real processes on PostgreSQL + Redis: two web
processes and a worker. Any web process serves any user; starting a process never fails
another's live runs; a worker killed or stopped mid-run leaves its runs failed with their
partial answers, never stuck. Timeouts are generous; nothing here measures speed."""

from __future__ import annotations

import os
import signal
import time

import pytest
from websockets.sync.client import connect

from chat.engine.executor import SERVER_STOPPED
from tests.live_server import manage

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

QUESTION = "Explain the Pythagorean theorem step by step"
TERMINAL = {"completed", "failed", "cancelled", "incomplete", "expired"}


def _assistant(sdk):
    return next(a for a in sdk.beta.assistants.list().data if a.model == "offline")


def _wait_until(predicate, timeout: float, what: str, cluster):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {timeout} s\n{cluster.logs()}", pytrace=False)
        time.sleep(0.2)


def _socket(cluster, web, thread_id: str):
    return connect(
        f"ws://127.0.0.1:{web.port}/ws/threads/{thread_id}/",
        additional_headers={"Cookie": f"sessionid={cluster.session}", "Origin": web.base_url},
        open_timeout=30,
    )


def _frames(socket, idle: float = 5) -> list[str]:
    """What the page was sent, until it has been sent nothing for ``idle`` seconds."""
    frames = []
    while True:
        try:
            frames.append(socket.recv(timeout=idle))
        except TimeoutError:
            return frames


def test_a_run_streamed_through_one_web_process_reaches_a_page_on_the_other(cluster):
    """The SSE client on web A and the page's socket on web B follow the same run, which a
    worker executes: the events cross processes through Redis."""
    a = cluster.client(cluster.web_a)
    thread = a.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    with _socket(cluster, cluster.web_b, thread.id) as page:
        page.recv(timeout=30)  # the snapshot: the page is in the thread's group now
        streamed, events = [], []
        with a.beta.threads.runs.stream(thread_id=thread.id, assistant_id=_assistant(a).id) as stream:
            for event in stream:
                events.append(event.event)
                if event.event == "thread.message.delta":
                    streamed.append(event.data.delta.content[0].text.value)
        run = a.beta.threads.runs.list(thread_id=thread.id).data[0]
        answer = a.beta.threads.messages.list(thread_id=thread.id).data[0]
        frames = _frames(page)
    assert run.status == "completed", (run.last_error, cluster.logs())
    assert events[-1] == "thread.run.completed" and len(streamed) > 1
    assert "".join(streamed) == answer.content[0].text.value
    # The page on web B was sent the answer piece by piece as it streamed, then whole.
    live = [f for f in frames if f'id="stream-{answer.id}" hx-swap-oob="beforeend"' in f]
    assert len(live) > 1, frames[:5]
    assert any(f'id="message-{answer.id}"' in f for f in frames)


def test_a_question_asked_with_manage_py_ask_lists_its_conversation_on_the_owners_open_pages(cluster):
    """The command posts through the page's own domain function, so the owner's open pages
    (here on web B) put the new conversation on top of their sidebar: the news, gathered
    for a moment, used to die unsent with the command's short-lived event loop."""
    sdk = cluster.client(cluster.web_a)
    open_on = sdk.beta.threads.create().id
    with _socket(cluster, cluster.web_b, open_on) as page:
        page.recv(timeout=30)  # the snapshot: the page is in its user's group now
        manage(cluster.env, "ask", _assistant(sdk).id, "Solve 2x = 8")
        frames = _frames(page)
    listed = [f for f in frames if 'hx-swap-oob="afterbegin:#conversation-list"' in f]
    assert len(listed) == 1 and "Solve 2x = 8" in listed[0], (frames, cluster.logs())


def test_a_web_process_starting_while_runs_are_live_does_not_fail_them(cluster):
    a = cluster.client(cluster.web_a)
    assistant = _assistant(a)
    runs = []
    for _ in range(2):
        thread = a.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
        runs.append(a.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id))

    def statuses():
        return [a.beta.threads.runs.retrieve(r.id, thread_id=r.thread_id).status for r in runs]

    _wait_until(lambda: statuses() == ["in_progress"] * 2, 60, "both runs in progress", cluster)
    web_c = cluster.web("web-c")  # its start-up recovery runs as soon as it listens
    try:
        _wait_until(lambda: "Serving on" in web_c.log(), 30, "web-c serving", cluster)
        if "in_progress" not in statuses():
            pytest.fail("The runs ended before the new process started: the test proved nothing; make them longer.")
        final = _wait_until(lambda: s if set(s := statuses()) <= TERMINAL else None, 120, "runs ending", cluster)
    finally:
        web_c.stop()
    assert final == ["completed", "completed"], cluster.logs()


def _stream_until_some_text(cluster, web, then):
    """Stream a run through ``web``; after a few pieces of its answer call ``then()``; return
    the text streamed, the events, and the run and its answer as they ended."""
    sdk = cluster.client(web)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    streamed, events = [], []
    with sdk.beta.threads.runs.stream(thread_id=thread.id, assistant_id=_assistant(sdk).id) as stream:
        for event in stream:
            events.append(event.event)
            if event.event == "thread.message.delta":
                streamed.append(event.data.delta.content[0].text.value)
                if len(streamed) == 5:
                    then()
    run = sdk.beta.threads.runs.list(thread_id=thread.id).data[0]
    answer = sdk.beta.threads.messages.list(thread_id=thread.id).data[0]
    return "".join(streamed), events, run, answer


def _workers(cluster):
    return [p for p in cluster.processes if p.name.startswith("worker") and p.alive()]


def test_a_killed_worker_s_run_fails_with_its_partial_answer_and_the_stream_ends(cluster):
    def kill_workers():
        for worker in _workers(cluster):
            os.kill(worker.process.pid, signal.SIGKILL)

    try:
        text, events, run, answer = _stream_until_some_text(cluster, cluster.web_b, kill_workers)
    finally:
        cluster.worker(f"worker-{len(cluster.processes)}")  # the next tests need one
    # Recovery (a web process's sweep) noticed the dead worker; the SSE client was told.
    assert run.status == "failed" and run.last_error.code == "server_error", cluster.logs()
    assert events[-1] == "thread.run.failed"
    assert answer.status == "incomplete" and answer.incomplete_details.reason == "run_failed"
    kept = answer.content[0].text.value
    assert kept and text.startswith(kept)  # the partial answer, as far as it was saved


def test_a_worker_stopped_with_sigterm_ends_its_runs_with_their_partial_answers(cluster):
    """WORKER_DRAIN_TIMEOUT (5 s here) is shorter than the run: the worker ends it, failed
    with the reason and the text so far, and the stream gets the final event."""
    def stop_workers():
        for worker in _workers(cluster):
            worker.process.send_signal(signal.SIGTERM)

    stopping = _workers(cluster)
    try:
        text, events, run, answer = _stream_until_some_text(cluster, cluster.web_a, stop_workers)
        exit_codes = [worker.process.wait(timeout=60) for worker in stopping]
    finally:
        cluster.worker(f"worker-{len(cluster.processes)}")
    # The worker itself ended the run (not recovery after it was gone), and exited cleanly.
    assert run.status == "failed" and run.last_error.message == SERVER_STOPPED, cluster.logs()
    assert exit_codes == [0] * len(stopping)
    assert events[-1] == "thread.run.failed"
    assert answer.status == "incomplete"
    kept = answer.content[0].text.value
    assert kept and text.startswith(kept)


def _sandbox_or_skip():
    import shutil

    from chat.code_interpreter import sandbox
    from tests.conftest import skip_or_fail

    if shutil.which("bwrap") is None:
        skip_or_fail("bubblewrap (bwrap) is not installed: apt-get install bubblewrap (make test installs it as root)")
    problem = sandbox.probe()
    if problem:
        skip_or_fail(problem)


def test_a_thread_s_python_session_stays_on_its_worker_and_a_lost_one_is_named(cluster):
    """With two workers, every run of a thread reaches the worker holding its kernel; when
    that worker is killed, the next call runs on the other one and its logs say so."""
    from tests.live_server import manage

    _sandbox_or_skip()
    cluster.worker(f"worker-{len(cluster.processes)}")
    assert len(_workers(cluster)) >= 2
    sdk = cluster.client(cluster.web_a)
    coder = sdk.beta.assistants.create(model="offline", name="Coder", tools=[{"type": "code_interpreter"}])
    thread = sdk.beta.threads.create()

    def ask(code: str) -> str:
        sdk.beta.threads.messages.create(thread.id, role="user", content=f"```python\n{code}\n```")
        run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=coder.id, poll_interval_ms=200)
        assert run.status == "completed", (run.last_error, cluster.logs())
        steps = sdk.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
        return "".join(
            output.logs
            for step in steps
            if step.step_details.type == "tool_calls"
            for call in step.step_details.tool_calls
            for output in call.code_interpreter.outputs
            if output.type == "logs"
        )

    assert "42" in ask("x = 41\nprint(x + 1)")
    for expected in (42, 43, 44):  # one worker in two would lose x if runs went anywhere
        logs = ask("x += 1\nprint(x)")
        assert "New Python session" not in logs and str(expected) in logs, logs

    holder = manage(
        cluster.env, "shell", "-c",
        f"from chat.code_interpreter.models import SessionHolder; print(SessionHolder.objects.get(thread_id='{thread.id}').worker)",
    ).split()[-1]
    pid = int(holder.split(":")[1])
    assert pid in [w.process.pid for w in _workers(cluster)]
    os.kill(pid, signal.SIGKILL)
    logs = ask("print(x)")
    assert "New Python session" in logs and "NameError" in logs, logs


def test_retrieval_ingest_runs_in_a_worker(cluster):
    """Files added to a vector store through a web process are read by a worker: with none
    running they wait (on the queue), and the next worker to start reads them."""
    for worker in _workers(cluster):
        worker.stop(signal.SIGTERM, timeout=60)
    a, b = cluster.client(cluster.web_a), cluster.client(cluster.web_b)
    notes = a.files.create(file=("algebra.txt", b"To solve a linear equation, isolate x on one side.\n"), purpose="assistants")
    store = b.vector_stores.create(name="Course notes", file_ids=[notes.id])
    time.sleep(3)  # not a measurement: time in which a web process would have read it
    assert a.vector_stores.files.retrieve(notes.id, vector_store_id=store.id).status == "in_progress"
    cluster.worker(f"worker-{len(cluster.processes)}")
    def read():
        entry = a.vector_stores.files.retrieve(notes.id, vector_store_id=store.id)
        return entry if entry.status != "in_progress" else None

    entry = _wait_until(read, 120, "the file read", cluster)
    assert entry.status == "completed", entry.last_error


def test_a_runs_next_execution_on_another_worker_numbers_its_events_on(cluster):
    """A run paused for a function's output resumes on a worker that did not execute it
    first: its events continue the run's numbers (kept on the run's row, not in a process),
    so no reader sees a gap and reads the run afresh."""
    import threading

    import msgpack
    import redis

    from tests.cluster.conftest import REDIS_URL
    from tests.functions.conftest import WEATHER

    sdk = cluster.client(cluster.web_a)
    assistant = sdk.beta.assistants.create(model="offline", name="Weather", tools=[{"type": "function", "function": WEATHER}])
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    # The thread's group as the web processes hear it (project/channel_layer.py's keys).
    connection = redis.Redis.from_url(REDIS_URL)
    pubsub = connection.pubsub()
    pubsub.subscribe(f"assistants:{connection.connection_pool.connection_kwargs.get('db', 0)}:group:thread.{thread.id}")
    heard, stop = [], threading.Event()

    def listen():
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.2)
            if message and message["type"] == "message":
                heard.append(msgpack.unpackb(message["data"], raw=False))

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=200)
        assert run.status == "requires_action", (run.last_error, cluster.logs())
        first = _workers(cluster)
        for worker in first:
            worker.stop()
        cluster.worker(f"worker-{len(cluster.processes)}")  # a process that never saw the run
        calls = run.required_action.submit_tool_outputs.tool_calls
        outputs = [{"tool_call_id": call.id, "output": "Sunny, 21 °C"} for call in calls]
        run = sdk.beta.threads.runs.submit_tool_outputs_and_poll(thread_id=thread.id, run_id=run.id, tool_outputs=outputs, poll_interval_ms=200)
        assert run.status == "completed", (run.last_error, cluster.logs())
        _wait_until(lambda: any(e.get("type") == "run.status" and (e.get("run") or {}).get("status") == "completed" for e in heard), 30, "the last event", cluster)
    finally:
        stop.set()
        listener.join()
        pubsub.close()
    numbers = [(e["seq"], e.get("last_seq", e["seq"])) for e in heard if e.get("run_id") == run.id and "seq" in e]
    assert numbers and numbers[0][0] == 1
    assert all(seq == before + 1 for (_, before), (seq, _) in zip(numbers, numbers[1:], strict=False)), numbers
    statuses = [e["run"]["status"] for e in heard if e.get("type") == "run.status" and e.get("run")]
    assert statuses == ["in_progress", "requires_action", "in_progress", "completed"]
