"""How many database queries one streamed run costs, phase by phase, through the real ASGI
app in-process, as the SDK makes it: ``messages.create``, then ``runs.create(stream=True)``,
then the engine executing the run with the offline model. At 200 runs at once every one of
these queries queues on the one thread that does the process's database work, so the count
per run is the server's capacity; these bounds keep it from creeping back up.

Queries are counted on every connection of every thread (the engine's database work runs
on asgiref's shared thread, the requests' on theirs) and told apart by who made them: the
engine (chat/engine/executor.py on the stack), the SSE stream's own reads
(chat/api/streaming.py, not counted against the requests) or the request being made.
The periodic text saves and heartbeats are one query per interval for all runs together,
so their intervals are set beyond the test and they are not in the counts.

Run with ``-s`` to print the counts and the most repeated queries.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from django.db.backends.utils import CursorWrapper

from chat.api.models import ApiKey
from chat.engine import dispatch
from tests.api.test_live import parse_sse, post

pytestmark = [pytest.mark.django_db(transaction=True)]

QUESTION = "Solve 2x + 3 = 7"  # the benchmark's (bench.streaming.QUESTION)

# Upper bounds per phase (before they were pinned: 6, 12 and 15; the engine 11 until its
# last answer's cancel check and the run's usage went with writes it makes anyway; the
# run's insert 8 until it took no savepoint).
MAX_QUERIES = {"messages.create": 5, "runs.create": 6, "engine": 10}
# The engine's trips off the event loop, each queued on the one database thread (were 8, then 4:
# claim, the answer's message and step, ending the answer, ending the run).
MAX_ENGINE_TRIPS = 3

# The request being made (the app runs each request in a context of its own, so a
# context variable set here would not reach it; the two requests never overlap).
_request = ["other"]
ENGINE = str(Path("chat", "engine", "executor.py"))
STREAM = str(Path("chat", "api", "streaming.py"))


def _caller_phase() -> str:
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.endswith(ENGINE):
            return "engine"
        if name.endswith(STREAM):
            return "stream"
        frame = frame.f_back
    return _request[0]


class QueryLog:
    """Every query executed while installed, on any connection, with the phase it served."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, str]] = []
        self.engine_trips: list[str] = []  # the engine's sync functions, in the order called

    def install(self, monkeypatch) -> None:
        original = CursorWrapper._execute_with_wrappers
        log = self.queries

        def counted(cursor, sql, params, many, executor):
            log.append((_caller_phase(), sql))
            return original(cursor, sql, params, many, executor)

        monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", counted)
        call, trips = SyncToAsync.__call__, self.engine_trips

        async def counted_trip(adapter, *args, **kwargs):
            if adapter.func.__module__ == "chat.engine.executor":
                trips.append(adapter.func.__qualname__)
            return await call(adapter, *args, **kwargs)

        monkeypatch.setattr(SyncToAsync, "__call__", counted_trip)

    def counts(self) -> Counter:
        return Counter(phase for phase, _ in self.queries)

    def report(self) -> str:
        lines = [f"queries per phase: {dict(self.counts())}", f"engine trips: {self.engine_trips}"]
        for phase in ("messages.create", "runs.create", "engine", "stream"):
            shapes = Counter(re.sub(r"\(%s(, %s)*\)", "(…)", sql)[:150] for p, sql in self.queries if p == phase)
            lines.append(f"--- {phase}")
            lines += [f"  {n} × {sql}" for sql, n in shapes.most_common()]
        return "\n".join(lines)


async def _streamed_run(thread, tutor, key: str) -> list[tuple[str, str]]:
    """One run as the benchmark's SDK client makes it; the events of its stream."""
    _request[0] = "messages.create"
    created = await post(f"/v1/threads/{thread.id}/messages", key, {"role": "user", "content": QUESTION})
    assert created["status"] == 200, created["body"]
    _request[0] = "runs.create"
    response = await post(f"/v1/threads/{thread.id}/runs", key, {"assistant_id": tutor.id, "stream": True})
    _request[0] = "other"
    await dispatch.wait_idle()  # the engine's last writes come after its final event
    assert response["status"] == 200, response["body"]
    return parse_sse(response["body"])


async def test_one_streamed_run_costs_a_bounded_number_of_queries_per_phase(monkeypatch, settings, alice, thread, tutor):
    settings.RUN_SAVE_INTERVAL = 600  # no periodic save or heartbeat inside the test: not per run
    settings.RUN_HEARTBEAT_TIMEOUT = 1800
    settings.API_RATE_LIMIT = 0
    _, key = await sync_to_async(ApiKey.issue)(alice)
    # A first run: the thread's later runs have history to read, as in a conversation.
    await _streamed_run(thread, tutor, key)
    log = QueryLog()
    log.install(monkeypatch)
    events = await _streamed_run(thread, tutor, key)
    monkeypatch.undo()
    print("\n" + log.report())

    names = [name for name, _ in events]
    assert names[-2:] == ["thread.run.completed", "done"]
    text = "".join(json.loads(d)["delta"]["content"][0]["text"]["value"] for n, d in events if n == "thread.message.delta")
    assert "x = 2" in text
    counts = log.counts()
    assert counts["other"] == 0, log.report()
    for phase, bound in MAX_QUERIES.items():
        assert 0 < counts[phase] <= bound, f"{phase}: {counts[phase]} queries (at most {bound})\n{log.report()}"
    assert 0 < len(log.engine_trips) <= MAX_ENGINE_TRIPS, log.report()


async def test_the_requests_reads_of_the_thread_and_assistant_by_id_sort_nothing(monkeypatch, settings, alice, thread, tutor):
    """``first()`` sorted a lookup by id by the model's ordering: a fifth of compiling the
    thread's query, which the SDK's two requests per run both make."""
    settings.API_RATE_LIMIT = 0
    _, key = await sync_to_async(ApiKey.issue)(alice)
    log = QueryLog()
    log.install(monkeypatch)
    await _streamed_run(thread, tutor, key)
    monkeypatch.undo()
    lookups = [
        sql for phase, sql in log.queries
        if phase in ("messages.create", "runs.create") and re.match(r'SELECT .* FROM "chat_(thread|assistant)" ', sql)
    ]
    assert len(lookups) == 3, log.report()  # the thread in each request, the assistant in the run's
    assert not [sql for sql in lookups if "ORDER BY" in sql], log.report()


# SELECTs compiled by a thread's second run (were 8: the thread in both requests, the
# thread's active run in both, the assistant, the claim's run, the prompt's two reads).
MAX_SELECT_COMPILES = {"messages.create": 0, "runs.create": 0, "engine": 0}


async def test_a_later_runs_hot_reads_reuse_their_compiled_sql(monkeypatch, settings, alice, thread, tutor):
    """Compiling a SELECT (Django's ``SQLCompiler.as_sql``) was 17 % of the server's CPU at
    200 streamed runs at once; the fixed-shape reads each run makes are compiled once
    (chat.prepared), so a later run compiles only what varies."""
    from django.db.models.sql.compiler import SQLCompiler

    settings.RUN_SAVE_INTERVAL = 600
    settings.RUN_HEARTBEAT_TIMEOUT = 1800
    settings.API_RATE_LIMIT = 0
    _, key = await sync_to_async(ApiKey.issue)(alice)
    await _streamed_run(thread, tutor, key)
    compiled: list[tuple[str, str]] = []
    original = SQLCompiler.as_sql

    def counted(compiler, *args, **kwargs):
        sql, params = original(compiler, *args, **kwargs)
        if type(compiler) is SQLCompiler and compiler.query.subquery is False:  # SELECTs only
            compiled.append((_caller_phase(), sql[:120]))
        return sql, params

    monkeypatch.setattr(SQLCompiler, "as_sql", counted)
    events = await _streamed_run(thread, tutor, key)
    monkeypatch.undo()
    assert [name for name, _ in events][-2:] == ["thread.run.completed", "done"]
    counts = Counter(phase for phase, _ in compiled)
    for phase, bound in MAX_SELECT_COMPILES.items():
        assert counts[phase] <= bound, f"{phase}: {counts[phase]} SELECTs compiled (at most {bound}): {compiled}"
