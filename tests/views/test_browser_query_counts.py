"""How many database queries the browser's requests cost: the htmx POST that sends a
message and starts its run, a thread page's socket connecting (its access check and its
first snapshot), and the thread's page. In the one web process every query of a socket
and of the engine queues on asgiref's one shared database thread, so with a class of
sockets opening at once the count per request is the capacity; these bounds keep it from
creeping back up (the /v1 path's are tests/api/test_run_query_counts.py).

Queries are counted on every connection of every thread while the request is made: the
socket's database work runs on the shared thread, not the test's. The run the POST starts
is not executed (the engine's queries are counted by the /v1 test).

Run with ``-s`` to print the counts and the most repeated queries.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.db.backends.utils import CursorWrapper
from django.urls import reverse

from chat.classes.models import Classroom, ClassThread, Membership, Publication
from chat.models import Message, Run, Thread
from chat.services.messages import post_message
from project.asgi import application
from tests.test_consumers import receive_until, session_cookie

# Upper bounds, for a private thread and a class thread (before they were pinned: the
# POST 28 / 31, the socket 8 / 8 in three trips to the database thread, the page 15 / 16).
# "socket per run": what an open page's socket reads while one answer streams in (11 when
# the run panel read the run or step each event named; 7 when it took their payloads and
# the answer's message was read as created and as completed, 3 queries each; 1 since the
# message is rendered from its events' payloads too: the run once; 0 since the run's first
# event carries the run whole, with its assistant's name; 1 since that event has the page
# show the question that started the run, for a tab other than the one that posted it).
# "socket": 8 when the
# snapshot read the streaming answer and its tool work on its own, 6 since it takes them
# from the run panel's rows.
# The POST 13 / 15, the socket 6 / 6 and the page 10 / 11 while each read its session's row (sessions are
# read through the cache since: project/settings.py).
MAX_QUERIES = {
    "post": {"private": 12, "class": 14},
    "socket": {"private": 5, "class": 5},
    "page": {"private": 9, "class": 10},
    "socket per run": 1,
}


def _where() -> str:
    """The project's frames that made a query, innermost first (for the report)."""
    frame, found = sys._getframe(2), []
    while frame is not None and len(found) < 4:
        name = frame.f_code.co_filename
        if "/chat/" in name or "/project/" in name:
            found.append(f"{name.rsplit('/', 1)[1]}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return " < ".join(found)


class QueryLog:
    """Every query executed while installed, on any connection and thread."""

    def __init__(self, monkeypatch) -> None:
        self.queries: list[str] = []
        original = CursorWrapper._execute_with_wrappers
        log = self.queries

        def counted(cursor, sql, params, many, executor):
            log.append((sql, _where()))
            return original(cursor, sql, params, many, executor)

        monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", counted)

    def report(self, title: str) -> str:
        shapes = Counter(re.sub(r"\(%s(, %s)*\)", "(…)", sql)[:100] + " @ " + where for sql, where in self.queries)
        return "\n".join(
            [f"--- {title}: {len(self.queries)} queries", *(f"  {n} × {sql}" for sql, n in shapes.most_common())]
        )


def _count_trips(monkeypatch) -> list[int]:
    """How many calls go to asgiref's one shared thread, where every socket's database work
    (ours and channels' database_sync_to_async) queues."""
    trips = [0]
    executor = SyncToAsync.single_thread_executor
    original = executor.submit

    def counted(*args, **kwargs):
        trips[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(executor, "submit", counted)
    return trips


def _answered(thread: Thread, assistant) -> None:
    """One question and its answer already in the thread, its run ended: a conversation
    going on, as when a class asks its next question."""
    question = Message.objects.create(thread=thread, role="user", content=Message.text_content("What is 2 + 2?"))
    run = Run.objects.create(thread=thread, assistant=assistant, model="offline", status="completed")
    Message.objects.create(
        thread=thread, role="assistant", assistant=assistant, run=run, content=Message.text_content("4")
    )
    assert question.seq


@pytest.fixture(params=["private", "class"])
def conversation(request, alice, bob, tutor, thread):
    """(kind, thread, assistant): alice's own thread with her tutor, or alice's thread in
    bob's class with the assistant bob published to it (quotas set, so they are read)."""
    if request.param == "private":
        _answered(thread, tutor)
        return "private", thread, tutor
    classroom = Classroom.objects.create(name="Algebra 1", runs_per_day=50, tokens_per_day=100_000)
    Membership.objects.create(classroom=classroom, user=bob, role=Membership.Role.TUTOR)
    Membership.objects.create(classroom=classroom, user=alice, role=Membership.Role.STUDENT)
    published = tutor.__class__.objects.create(owner=bob, name="Class Tutor", model="offline")
    Publication.objects.create(classroom=classroom, assistant=published)
    class_thread = Thread.objects.create(owner=alice, assistant=published, title="Homework")
    ClassThread.objects.create(thread=class_thread, classroom=classroom)
    _answered(class_thread, published)
    return "class", class_thread, published


def _bound(what: str, kind: str, count: int, report: str) -> None:
    bound = MAX_QUERIES[what][kind]
    assert 0 < count <= bound, f"{what} ({kind}): {count} queries (at most {bound})\n{report}"


def _no_session_row(log: QueryLog, report: str) -> None:
    """A signed-in browser's session comes from the cache (its row is read once, at most)."""
    read = [sql for sql, _ in log.queries if "django_session" in sql]
    assert not read, f"the session's row was read\n{report}"


@pytest.mark.django_db(transaction=True)
def test_sending_a_message_from_the_page_costs_a_bounded_number_of_queries(monkeypatch, alice_client, conversation):
    kind, thread, assistant = conversation
    url = reverse("chat:message_create", args=[thread.id])
    page = reverse("chat:thread", args=[thread.id])
    # The run is queued, not executed: the engine's own queries are not the request's.
    monkeypatch.setattr("chat.engine.dispatch.dispatch", lambda run_id: None)
    log = QueryLog(monkeypatch)
    response = alice_client.post(
        url,
        {"text": "Solve 2x + 3 = 7", "assistant": assistant.id},
        headers={"HX-Request": "true", "HX-Current-URL": page},
    )
    monkeypatch.undo()
    report = log.report(f"POST {kind}")
    print("\n" + report)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Solve 2x + 3 = 7" in body and 'id="run-status"' in body
    run = thread.runs.order_by("-created_at").first()
    assert run.status == "queued" and run.assistant_id == assistant.id
    _bound("post", kind, len(log.queries), report)
    _no_session_row(log, report)


@pytest.mark.django_db(transaction=True)
def test_the_thread_page_costs_a_bounded_number_of_queries(monkeypatch, alice_client, conversation):
    kind, thread, _ = conversation
    log = QueryLog(monkeypatch)
    response = alice_client.get(reverse("chat:thread", args=[thread.id]))
    monkeypatch.undo()
    report = log.report(f"GET {kind}")
    print("\n" + report)
    assert response.status_code == 200 and "What is 2 + 2?" in response.content.decode()
    _bound("page", kind, len(log.queries), report)
    _no_session_row(log, report)


@pytest.mark.django_db(transaction=True)
async def test_a_socket_connecting_during_a_run_costs_a_bounded_number_of_queries(monkeypatch, alice, conversation):
    kind, thread, assistant = conversation
    monkeypatch.setattr("chat.engine.dispatch.dispatch", lambda run_id: None)
    # A run going on, its answer streaming: the snapshot shows the message so far.
    _, run = await sync_to_async(post_message)(thread, "Solve 2x + 3 = 7", assistant)
    await Run.objects.filter(pk=run.pk).aupdate(status="in_progress")
    answer = await Message.objects.acreate(
        thread=thread,
        role="assistant",
        assistant=assistant,
        run=run,
        status=Message.IN_PROGRESS,
        content=Message.text_content("Subtract 3 from"),
    )
    cookie = await session_cookie(alice)
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", cookie.encode())]
    # As the thread page opens it: saying the newest message it shows.
    communicator = WebsocketCommunicator(application, f"/ws/threads/{thread.id}/?after={answer.seq}", headers=headers)
    log = QueryLog(monkeypatch)
    trips = _count_trips(monkeypatch)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    frames = await receive_until(communicator, f"message-{answer.id}")
    monkeypatch.undo()
    await communicator.disconnect()
    report = log.report(f"socket {kind}")
    print("\n" + report)
    assert "Subtract 3 from" in "".join(frames)
    _bound("socket", kind, len(log.queries), report)
    _no_session_row(log, report)
    # The owner's thread is read by its key: no class memberships (a tutor's reading rule
    # was a subquery of every socket's and page's thread read).
    memberships = [sql for sql, _ in log.queries if Membership._meta.db_table in sql]
    assert not memberships, f"the owner's socket read class memberships\n{report}"
    # Who is signed in, the access check and the snapshot: one trip (it was three).
    assert trips == [1], f"{trips[0]} trips to the database thread\n{report}"


class SocketQueryLog:
    """The queries a page's socket makes (any frame in chat/consumers.py), not the engine's."""

    def __init__(self, monkeypatch) -> None:
        self.queries: list[str] = []
        original = CursorWrapper._execute_with_wrappers

        def counted(cursor, sql, params, many, executor):
            frame = sys._getframe(1)
            while frame is not None and not frame.f_code.co_filename.endswith("chat/consumers.py"):
                frame = frame.f_back
            if frame is not None:
                self.queries.append(f"{sql[:90]} @ {_where()}")
            return original(cursor, sql, params, many, executor)

        monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", counted)


@pytest.mark.django_db(transaction=True)
async def test_a_socket_following_a_run_costs_a_bounded_number_of_queries(monkeypatch, alice, thread, tutor):
    from chat.engine import dispatch
    from tests.engine.scripted import ScriptedProvider, text_turn, use

    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "3, ", "then ", "divide."), delay=0.01))
    cookie = await session_cookie(alice)
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", cookie.encode())]
    communicator = WebsocketCommunicator(application, f"/ws/threads/{thread.id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    await communicator.receive_from()  # the snapshot
    _, run = await sync_to_async(post_message)(thread, "Solve 2x + 3 = 7", tutor, start=False)
    log = SocketQueryLog(monkeypatch)
    dispatch.dispatch(run.id)
    frames = await receive_until(communicator, r"chip--completed")
    await dispatch.wait_idle()
    monkeypatch.undo()
    await communicator.disconnect()
    print(f"\n--- socket per run: {len(log.queries)} queries", *log.queries, sep="\n  ")
    assert len(log.queries) <= MAX_QUERIES["socket per run"], "\n".join(log.queries)
    # The answer is shown as its assistant's, by name, though its run was never read here.
    answer = next(f for f in frames if "message--assistant" in f)
    assert '<span class="message__author">Math Tutor</span>' in answer, answer



@pytest.mark.django_db(transaction=True)
async def test_a_later_socket_connect_compiles_neither_its_thread_nor_its_latest_run(monkeypatch, alice, thread):
    """Building and compiling the connect's thread read and latest-run read was ~7 % of a
    profile of 200 browser runs (docs/benchmarks.md, thirteenth pass, h-sock): both are
    compiled once (chat.prepared), so a later socket compiles neither."""
    from django.db.models.sql.compiler import SQLCompiler

    cookie = await session_cookie(alice)
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", cookie.encode())]

    async def connect_once() -> None:
        communicator = WebsocketCommunicator(application, f"/ws/threads/{thread.id}/", headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        await communicator.receive_from()  # the snapshot
        await communicator.disconnect()

    await connect_once()  # the first socket may compile them
    compiled: list[str] = []
    original = SQLCompiler.as_sql

    def counted(compiler, *args, **kwargs):
        sql, params = original(compiler, *args, **kwargs)
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_name not in ("get_thread_for_reader", "latest_run"):
            frame = frame.f_back
        if frame is not None:
            compiled.append(f"{frame.f_code.co_name}: {sql[:90]}")
        return sql, params

    monkeypatch.setattr(SQLCompiler, "as_sql", counted)
    await connect_once()
    monkeypatch.undo()
    assert not compiled, compiled
