import asyncio
import re
from html import unescape
from importlib import import_module

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.test import Client
from django.urls import reverse

from chat.classes import services as classes
from chat.classes.models import ClassThread, Membership
from chat.engine import dispatch
from chat.models import Message, Run
from chat.services.messages import add_message, edit_last_question, post_message, regenerate_last_answer
from project.asgi import application
from tests.engine.scripted import ScriptedProvider, text_turn, use

pytestmark = [pytest.mark.django_db(transaction=True)]


@sync_to_async
def session_cookie(user) -> str:
    """A signed-in session saved as a log-in saves it (the configured engine)."""
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"sessionid={session.session_key}"


async def connect(thread_id: str, user=None, origin: str = "http://localhost"):
    headers = [(b"host", b"localhost"), (b"origin", origin.encode())]
    if user is not None:
        headers.append((b"cookie", (await session_cookie(user)).encode()))
    communicator = WebsocketCommunicator(application, f"/ws/threads/{thread_id}/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def watch_a_run(thread, user, question: str, assistant):
    """A page open on ``thread`` (its snapshot received), then ``question`` posted and the
    run that answers it dispatched: (the page's socket, the run)."""
    communicator, connected, _ = await connect(thread.id, user)
    assert connected
    await communicator.receive_from()  # the snapshot
    _, run = await sync_to_async(post_message)(thread, question, assistant, start=False)
    dispatch.dispatch(run.id)
    return communicator, run


async def receive_until(communicator, pattern: str, timeout: float = 5.0) -> list[str]:
    frames = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await communicator.receive_from(timeout=max(0.01, deadline - loop.time()))
        frames.append(frame)
        if re.search(pattern, frame):
            return frames


def lose(monkeypatch, kind: str, *, status: str | None = None) -> list[dict]:
    """The channel layer loses the first event of ``kind`` (of a run in ``status``) that a
    socket or stream would receive, as when its queue is full. Returns what it lost."""
    layer = get_channel_layer()
    receive, receive_nowait, lost = layer.receive, getattr(layer, "receive_nowait", None), []

    def losing(message: dict) -> bool:
        if lost or message.get("type") != kind or (status and (message.get("run") or {}).get("status") != status):
            return False
        lost.append(message)
        return True

    async def losing_receive(channel: str) -> dict:
        while losing(message := await receive(channel)):
            pass
        return message

    def losing_receive_nowait(channel: str) -> dict | None:
        while (message := receive_nowait(channel)) is not None and losing(message):
            pass
        return message

    monkeypatch.setattr(layer, "receive", losing_receive)
    if receive_nowait is not None:
        monkeypatch.setattr(layer, "receive_nowait", losing_receive_nowait)
    return lost


async def test_the_owner_sees_the_run_stream_in_as_html_fragments(monkeypatch, alice, thread, tutor):
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11, ", "then <divide>."), delay=0.02))
    communicator, connected, _ = await connect(thread.id, alice)
    assert connected
    snapshot = await communicator.receive_from()
    assert 'id="run-status"' in snapshot and "Idle" in snapshot
    _, run = await sync_to_async(post_message)(thread, "3x + 11 = 14", tutor, start=False)
    dispatch.dispatch(run.id)
    frames = await receive_until(communicator, r"Completed")
    html = "".join(frames)
    assert "In progress" in html
    assert 'id="messages" hx-swap-oob="beforeend"' in html  # the new message is appended
    first = re.search(r'<span id="stream-msg_\w+">(.*?)</span>', html).group(1)
    deltas = re.findall(r'<span id="stream-msg_\w+" hx-swap-oob="beforeend">(.*?)</span>', html)
    assert deltas, "text arrives as appended deltas"
    assert first + "".join(deltas) == "Subtract 11, then &lt;divide&gt;."  # escaped, in order, complete
    assert re.search(r'<article id="message-msg_\w+" hx-swap-oob="true"', html)  # final render replaces it
    assert "Wrote a message" in html
    await communicator.disconnect()


async def test_a_socket_joining_mid_run_gets_the_text_so_far_then_only_new_text(monkeypatch, alice, thread, tutor):
    provider = ScriptedProvider(text_turn(*[f"w{i} " for i in range(40)]), delay=0.02)
    use(monkeypatch, provider)
    _, run = await sync_to_async(post_message)(thread, "go", tutor, start=False)
    dispatch.dispatch(run.id)
    await asyncio.wait_for(provider.started.wait(), 5)
    await asyncio.sleep(0.2)
    communicator, connected, _ = await connect(thread.id, alice)
    assert connected
    frames = await receive_until(communicator, r"Completed")
    snapshot = frames[0]
    shown = re.search(r'<span id="stream-msg_\w+">(.*?)</span>', snapshot).group(1)
    later = "".join(re.findall(r'hx-swap-oob="beforeend">(.*?)</span>', "".join(frames[1:])))
    assert shown.startswith("w0 ") and shown + later == "".join(f"w{i} " for i in range(40))
    await communicator.disconnect()


async def test_a_stranger_cannot_listen_to_someone_elses_thread(bob, thread):
    communicator, connected, code = await connect(thread.id, bob)
    assert not connected and code == 4404
    await communicator.disconnect()


async def test_an_anonymous_socket_is_closed(thread):
    communicator, connected, _ = await connect(thread.id)
    assert not connected
    await communicator.disconnect()


async def test_a_socket_from_a_foreign_origin_is_refused(alice, thread):
    communicator, connected, _ = await connect(thread.id, alice, origin="http://evil.example")
    assert not connected
    await communicator.disconnect()


async def test_an_unknown_thread_is_refused(alice):
    communicator, connected, code = await connect("thread_doesnotexist", alice)
    assert not connected and code == 4404
    await communicator.disconnect()


@pytest.mark.parametrize("thread_id", ["thread_é", "thread_" + "x" * 120])
async def test_an_id_no_thread_can_have_is_refused_like_an_unknown_one(alice, thread_id):
    communicator, connected, code = await connect(thread_id, alice)
    assert not connected and code == 4404
    await communicator.disconnect()


async def test_a_message_posted_over_http_is_answered_live_on_the_socket(alice, thread, tutor):
    """Through the real ASGI app: the run is dispatched from the request's thread and must
    outlive that request (regression: it inherited the request's dead executor)."""
    from urllib.parse import urlencode

    from channels.testing import HttpCommunicator
    from django.middleware.csrf import _get_new_csrf_string

    communicator, connected, _ = await connect(thread.id, alice)
    assert connected
    await communicator.receive_from()  # snapshot
    token = _get_new_csrf_string()
    cookie = f"{await session_cookie(alice)}; csrftoken={token}"
    body = urlencode({"text": "Solve 2x + 3 = 7", "assistant": tutor.id}).encode()
    http = HttpCommunicator(
        application,
        "POST",
        f"/threads/{thread.id}/messages/",
        body=body,
        headers=[
            (b"cookie", cookie.encode()),
            (b"x-csrftoken", token.encode()),
            (b"hx-request", b"true"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"host", b"localhost"),
        ],
    )
    response = await http.get_response(timeout=10)
    assert response["status"] == 200, response["body"][:500]
    frames = await receive_until(communicator, r"message--assistant message--completed", timeout=10)
    assert "x = 2" in "".join(frames)
    await communicator.disconnect()


async def test_another_tab_of_the_owner_gets_the_question_posted_in_the_first(alice, thread, tutor):
    """Tab B's page showed the thread up to an earlier question; tab A posts the next one:
    B shows it (as the owner's, "You"), and the title it may have given, before the answer."""
    earlier, _ = await sync_to_async(post_message)(thread, "An earlier question", tutor, start=False)
    await sync_to_async(Run.objects.filter(thread=thread).update)(status="completed")
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", (await session_cookie(alice)).encode())]
    tab_b = WebsocketCommunicator(application, f"/ws/threads/{thread.id}/?after={earlier.seq}", headers=headers)
    connected, _ = await tab_b.connect(timeout=10)
    assert connected
    await tab_b.receive_from()  # the snapshot
    question, run = await sync_to_async(post_message)(thread, "Solve 2x + 3 = 7", tutor, start=False)
    dispatch.dispatch(run.id)
    frames = await receive_until(tab_b, r"message--assistant message--completed")
    joined = "".join(frames)
    assert f'id="message-{question.id}"' in joined and "Solve 2x + 3 = 7" in joined
    assert ">You<" in joined
    assert f'id="message-{earlier.id}"' not in joined  # the page already shows it
    assert 'id="thread-title" hx-swap-oob="true"' in joined
    assert joined.index(f"message-{question.id}") < joined.index("message--assistant")
    await tab_b.disconnect()


def count_run_panel_queries(monkeypatch) -> list[int]:
    """The queries of each run panel trip the sockets make (the first event's included)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat.consumers import ThreadConsumer, on_database_thread

    counts, trip = [], ThreadConsumer.__dict__["_run_panel"].func.__wrapped__

    def counted(consumer, taken):
        with CaptureQueriesContext(connection) as captured:
            html = trip(consumer, taken)
        counts.append(len(captured))
        return html

    monkeypatch.setattr(ThreadConsumer, "_run_panel", on_database_thread(counted))
    return counts


async def open_tab(thread, user, after: int):
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", (await session_cookie(user)).encode())]
    tab = WebsocketCommunicator(application, f"/ws/threads/{thread.id}/?after={after}", headers=headers)
    connected, _ = await tab.connect(timeout=10)
    assert connected
    await tab.receive_from()  # the snapshot
    return tab


async def test_the_question_from_another_tab_comes_with_the_runs_first_event_without_a_query(
    monkeypatch, alice, thread, tutor
):
    """The run's first event carries the question: the other tab's panel trips read nothing."""
    earlier, _ = await sync_to_async(post_message)(thread, "An earlier question", tutor, start=False)
    await sync_to_async(Run.objects.filter(thread=thread).update)(status="completed")
    tab_b = await open_tab(thread, alice, earlier.seq)
    counts = count_run_panel_queries(monkeypatch)
    question, run = await sync_to_async(post_message)(thread, "Is <b>2 & 3</b> prime?", tutor, start=False)
    dispatch.dispatch(run.id)
    joined = "".join(await receive_until(tab_b, r"message--assistant message--completed"))
    assert f'id="message-{question.id}"' in joined and "Is &lt;b&gt;2 &amp; 3&lt;/b&gt; prime?" in joined
    assert f'id="message-{earlier.id}"' not in joined
    assert joined.index(f"message-{question.id}") < joined.index("message--assistant")
    assert counts and sum(counts) == 0, counts
    await tab_b.disconnect()


async def test_a_page_that_lacks_an_earlier_question_reads_the_questions(monkeypatch, alice, thread, tutor):
    """Opened before the earlier question and its answer: the run's question (after that
    answer) is not all the page lacks, so it reads both."""
    from chat.models import Message

    tab_b = await open_tab(thread, alice, 0)
    earlier, _ = await sync_to_async(post_message)(thread, "An earlier question", tutor, start=False)
    await sync_to_async(Run.objects.filter(thread=thread).update)(status="completed")
    await sync_to_async(Message.objects.create)(
        thread=thread, role=Message.ASSISTANT, content=Message.text_content("An answer"), status=Message.COMPLETED
    )
    counts = count_run_panel_queries(monkeypatch)
    question, run = await sync_to_async(post_message)(thread, "Solve 2x + 3 = 7", tutor, start=False)
    dispatch.dispatch(run.id)
    joined = "".join(await receive_until(tab_b, r"message--assistant message--completed"))
    assert joined.index(f"message-{earlier.id}") < joined.index(f"message-{question.id}") < joined.index("message--assistant")
    assert counts[0] == 1, counts
    await tab_b.disconnect()


async def test_a_question_too_long_to_carry_is_read(monkeypatch, alice, thread, tutor):
    from chat.engine import events

    tab_b = await open_tab(thread, alice, 0)
    counts = count_run_panel_queries(monkeypatch)
    long_question = "x" * (events.QUESTIONS_LIMIT + 1)
    question, run = await sync_to_async(post_message)(thread, long_question, tutor, start=False)
    dispatch.dispatch(run.id)
    joined = "".join(await receive_until(tab_b, r"message--assistant message--completed"))
    assert f'id="message-{question.id}"' in joined and long_question in joined
    assert counts[0] == 1, counts
    await tab_b.disconnect()


async def test_cancelling_a_waiting_run_updates_every_open_tab(alice, thread, tutor):
    from chat.engine.runs import cancel_run, create_run
    from chat.models import Run

    communicator, connected, _ = await connect(thread.id, alice)
    assert connected
    await communicator.receive_from()  # snapshot
    run = await sync_to_async(create_run)(thread, tutor, start=False)
    await sync_to_async(Run.objects.filter(pk=run.pk).update)(status="requires_action")
    await sync_to_async(run.refresh_from_db)()
    assert await sync_to_async(cancel_run)(run)
    frames = await receive_until(communicator, r"Cancelled")
    assert 'id="run-status"' in frames[-1]
    await communicator.disconnect()


async def test_a_burst_of_status_events_is_rendered_once_or_twice_not_once_each(monkeypatch, alice, thread, tutor):
    import threading

    from channels.layers import get_channel_layer

    from chat import live
    from chat.engine.runs import create_run

    communicator, connected, _ = await connect(thread.id, alice)
    assert connected
    await communicator.receive_from()  # snapshot
    run = await sync_to_async(create_run)(thread, tutor, start=False)
    # The first render waits until the whole burst is queued, however fast the channel
    # layer (memory or Redis) delivers it, so the test does not depend on timing.
    burst_sent, real_update = threading.Event(), live.RunPanel.update

    def update_after_burst(*args, **kwargs):
        burst_sent.wait(5)
        return real_update(*args, **kwargs)

    monkeypatch.setattr(live.RunPanel, "update", update_after_burst)
    layer = get_channel_layer()
    for _ in range(10):
        await layer.group_send(thread.group_name, {"type": "run.status", "run_id": run.id})
    await asyncio.sleep(0.2)  # let the consumer take every event in
    burst_sent.set()
    frames = []
    while not await communicator.receive_nothing(timeout=0.5):
        frames.append(await communicator.receive_from())
    panels = [f for f in frames if 'id="run-status"' in f]
    assert 1 <= len(panels) <= 2 and "Queued" in panels[-1]
    await communicator.disconnect()


CITED = (
    "Paris is big",
    " 【0",
    ":0†cit",
    "ies.pdf】 and old【0:0†cities.pdf】【1:2†",
    "b.pdf】. Costs 【3】 too 【x\n.",
)


def streamed_pieces(frames: list[str]) -> list[str]:
    """The text of the streaming span as first sent, then each piece appended to it."""
    html = "".join(frames)
    first = re.search(r'<span id="stream-msg_\w+">(.*?)</span>', html, re.S).group(1)
    return [first, *re.findall(r'<span id="stream-msg_\w+" hx-swap-oob="beforeend">(.*?)</span>', html, re.S)]


async def test_citation_markers_never_show_while_an_answer_streams(monkeypatch, alice, thread, tutor):
    use(monkeypatch, ScriptedProvider(text_turn(*CITED), delay=0.02))
    communicator, _ = await watch_a_run(thread, alice, "Tell me about Paris", tutor)
    frames = await receive_until(communicator, r"Completed")
    pieces = streamed_pieces(frames)
    assert len(pieces) > 3 and not any("†" in piece or "0:0" in piece for piece in pieces)
    # numbered as they are first used; what is plainly no marker is shown as written
    assert "".join(pieces) == "Paris is big [1] and old[1][2]. Costs  too 【x\n."
    await communicator.disconnect()


@pytest.mark.skipif(
    not hasattr(get_channel_layer(), "receive_nowait"), reason="this channel layer cannot hand over what is queued"
)
async def test_a_socket_that_fell_behind_gets_the_queued_text_in_one_frame(monkeypatch, alice, thread, tutor):
    from chat.consumers import ThreadConsumer

    tokens = [f"w{i} " for i in range(40)]
    use(monkeypatch, ScriptedProvider(text_turn(*tokens), delay=0.002))  # each token its own publish
    send, release = ThreadConsumer.send, asyncio.Event()

    async def stuck_send(self, text_data=None, bytes_data=None, close=False):
        if 'hx-swap-oob="beforeend">' in (text_data or "") and not release.is_set():
            await release.wait()  # the first delta frame is slow to go out: the rest queue up
        await send(self, text_data=text_data, bytes_data=bytes_data, close=close)

    monkeypatch.setattr(ThreadConsumer, "send", stuck_send)
    communicator, connected, _ = await connect(thread.id, alice)
    assert connected
    await communicator.receive_from()  # the snapshot
    _, run = await sync_to_async(post_message)(thread, "go", tutor, start=False)
    dispatch.dispatch(run.id)
    await dispatch.wait_idle()  # the whole answer was published while the socket was stuck
    release.set()
    html = "".join(await receive_until(communicator, r"Completed"))
    first = re.search(r'<span id="stream-msg_\w+">(.*?)</span>', html).group(1)
    deltas = re.findall(r'<span id="stream-msg_\w+" hx-swap-oob="beforeend">(.*?)</span>', html)
    assert first + "".join(deltas) == "".join(tokens)  # all of it, in order, once
    assert 1 <= len(deltas) <= 2  # the stuck frame, then everything queued behind it in one
    await communicator.disconnect()


async def test_a_socket_that_missed_the_end_of_an_answer_shows_it_ended(monkeypatch, alice, thread, tutor):
    """A full queue drops events: the next event's number shows the gap, and the socket
    renders what it shows as streaming from the rows (here: the answer, ended)."""
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11, ", "then divide."), delay=0.02))
    dropped = lose(monkeypatch, "message.completed")
    communicator, _ = await watch_a_run(thread, alice, "3x + 11 = 14", tutor)
    frames = await receive_until(communicator, r'<article id="message-msg_\w+" hx-swap-oob="true"')
    assert dropped
    assert "Subtract 11, then divide." in frames[-1] and 'id="stream-' not in frames[-1]  # ended, not streaming
    await dispatch.wait_idle()
    await communicator.disconnect()


async def test_a_socket_that_missed_the_runs_last_event_shows_its_end_after_a_quiet_spell(
    monkeypatch, alice, thread, tutor
):
    """Nothing follows a run's final status to show that it was lost: the socket looks at
    the run's status after a quiet spell, as an SSE stream does, and shows the run ended."""
    monkeypatch.setattr("chat.engine.events.QUIET_SECONDS", 0.05, raising=False)
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11, ", "then divide."), delay=0.02))
    dropped = lose(monkeypatch, "run.status", status="completed")
    communicator, _ = await watch_a_run(thread, alice, "3x + 11 = 14", tutor)
    frames = await receive_until(communicator, r'id="run-status".*chip--completed', timeout=10)
    assert dropped and 'class="step step--completed"' in frames[-1]
    await dispatch.wait_idle()
    await communicator.disconnect()


def test_the_page_s_newest_shown_message_is_read_from_the_socket_url_strictly():
    from chat.consumers import _shown_through

    assert _shown_through(b"after=1764558000000000000") == 1764558000000000000
    assert _shown_through(b"x=1&after=5") == 5
    for hostile in (b"", b"after=", b"after=-1", b"after=1e9", b"after=%31", b"after=" + b"9" * 20):
        assert _shown_through(hostile) is None


async def test_a_look_that_finds_the_run_moved_before_its_event_waits_for_the_event(monkeypatch, alice, thread, tutor):
    """The engine commits a change before it publishes it: a look after a quiet spell can
    find the run's status moved while the event that says so is still on its way. The
    socket waits for that event (one more quiet spell) instead of re-reading the rows, so
    the answer is rendered once, from its event, not also from its row."""
    from chat.engine import events

    monkeypatch.setattr(events, "QUIET_SECONDS", 0.05)
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11, ", "then divide."), delay=0.02))
    layer = get_channel_layer()
    receive, looked = layer.receive, asyncio.Event()
    real_status_moved = events.KnownRun.status_moved

    async def status_moved(self) -> bool:
        moved = await real_status_moved(self)
        if moved:  # the run ended in its row; its message.completed is held below
            monkeypatch.setattr(events, "QUIET_SECONDS", 30)  # no second look in this test
            looked.set()
        return moved

    async def held_receive(channel: str) -> dict:
        message = await receive(channel)
        if message.get("type") == "message.completed":
            await looked.wait()  # delivered only once a look has found the run moved
        return message

    monkeypatch.setattr(events.KnownRun, "status_moved", status_moved)
    monkeypatch.setattr(layer, "receive", held_receive)
    monkeypatch.setattr(layer, "receive_nowait", lambda channel: None, raising=False)
    communicator, _ = await watch_a_run(thread, alice, "3x + 11 = 14", tutor)
    frames = await receive_until(communicator, r'id="run-status".*chip--completed', timeout=10)
    await dispatch.wait_idle()
    while not await communicator.receive_nothing(timeout=0.3):  # and whatever came after
        frames.append(await communicator.receive_from())
    assert looked.is_set()
    answers = [f for f in frames if re.search(r'<article id="message-msg_\w+" hx-swap-oob="true"', f)]
    assert len(answers) == 1 and "Subtract 11, then divide." in answers[0]
    await communicator.disconnect()


def in_a_class(thread, *, student, tutor) -> None:
    """Make ``thread`` (``student``'s) a conversation of a class ``tutor`` teaches."""
    classroom = classes.create_classroom(tutor, "Algebra 1")
    Membership.objects.create(classroom=classroom, user=student, role=Membership.Role.STUDENT)
    ClassThread.objects.create(thread=thread, classroom=classroom)


async def test_a_question_edited_in_one_tab_leaves_the_others_too(alice, bob, thread, tutor):
    """The owner edits the last question (or asks again) in one tab: their other tab and
    the tutor watching the class conversation take the removed messages off."""
    @sync_to_async
    def a_class_conversation_with_an_answer():
        in_a_class(thread, student=alice, tutor=bob)
        question, run = post_message(thread, "Solve 2x = 14", tutor, start=False)
        Run.objects.filter(pk=run.pk).update(status="completed")
        answer = Message.objects.create(thread=thread, role=Message.ASSISTANT, content=Message.text_content("x = 7"), run=run)
        return question, answer

    question, answer = await a_class_conversation_with_an_answer()
    tabs = []
    for user in (alice, bob):
        tab, connected, _ = await connect(thread.id, user)
        assert connected
        await tab.receive_from()  # the snapshot
        tabs.append(tab)
    await sync_to_async(edit_last_question)(thread, "Solve 3x = 21", tutor)
    for tab in tabs:
        frames = await receive_until(tab, r"data-removed-messages")
        marker = re.search(r'data-removed-messages="([^"]*)"', frames[-1]).group(1)
        assert set(marker.split()) == {question.id, answer.id}
    await dispatch.wait_idle()  # the edited question is answered
    new_answer = await Message.objects.filter(thread=thread, role=Message.ASSISTANT).aget()
    await sync_to_async(regenerate_last_answer)(thread, tutor)
    for tab in tabs:
        frames = await receive_until(tab, rf'data-removed-messages="{new_answer.id}"')
        await tab.disconnect()
    await dispatch.wait_idle()


def assert_shows_the_hostile_title(joined: str, thread, *, with_sidebar_entry: bool) -> None:
    """A page told of the rename to "Is <b>x</b> & y prime?": its heading and browser title,
    and (the owner's) its sidebar entry, all as escaped text."""
    assert '<h1 id="thread-title" hx-swap-oob="true">Is &lt;b&gt;x&lt;/b&gt; &amp; y prime?</h1>' in joined
    assert '<div hx-swap-oob="innerHTML:#page-title">Is &lt;b&gt;x&lt;/b&gt; &amp; y prime? · Tutor</div>' in joined
    entry = re.search(rf'<li id="conversation-{thread.id}".*?</li>', joined, re.S)
    if with_sidebar_entry:
        assert entry and ">Is &lt;b&gt;x&lt;/b&gt; &amp; y prime?</a>" in entry.group(0)
    else:
        assert entry is None
    assert "<b>x" not in joined


async def test_an_edit_that_renames_the_conversation_renames_it_in_the_owners_other_tab_and_the_tutors_page(
    alice, bob, thread, tutor
):
    """The first question named the conversation; its edit names it anew. The owner's other
    tab gets the new title in its heading, its browser title and its sidebar's entry; the
    tutor's page (whose sidebar lists the tutor's own) the heading and the browser title.
    The title is the student's text: escaped."""

    @sync_to_async
    def a_class_conversation_named_by_its_question():
        in_a_class(thread, student=alice, tutor=bob)
        thread.title = ""
        question, run = post_message(thread, "Solve 2x = 14", tutor, start=False)
        Run.objects.filter(pk=run.pk).update(status="completed")
        return question

    question = await a_class_conversation_named_by_its_question()
    tabs = {}
    for user in (alice, bob):
        tabs[user.username] = await open_tab(thread, user, question.seq)
    await sync_to_async(edit_last_question)(thread, "Is <b>x</b> & y prime?", tutor)
    await dispatch.wait_idle()
    for name, tab in tabs.items():
        joined = "".join(await receive_until(tab, r"message--assistant message--completed"))
        if name == alice.username and f'id="conversation-{thread.id}"' not in joined:
            # the sidebar's news is gathered for a moment (events.LISTED_GATHER_SECONDS)
            joined += "".join(await receive_until(tab, rf'id="conversation-{thread.id}"'))
        assert_shows_the_hostile_title(joined, thread, with_sidebar_entry=name == alice.username)
        await tab.disconnect()


async def test_a_rename_from_the_menu_renames_the_conversation_in_the_owners_other_tab_and_the_tutors_page(
    alice, bob, thread
):
    """A title given by hand reaches every open page of the conversation as an edit's does:
    the owner's other tab gets the heading, the browser title and the sidebar's entry, the
    tutor's page (whose sidebar lists the tutor's own) the heading and the browser title.
    The title is the student's text: escaped."""

    @sync_to_async
    def rename_from_the_menu(title: str):
        browser = Client()
        browser.force_login(alice)
        response = browser.post(reverse("chat:thread_rename", args=[thread.id]), {"title": title})
        assert response.status_code == 302

    await sync_to_async(in_a_class)(thread, student=alice, tutor=bob)
    await sync_to_async(add_message)(thread, content=Message.text_content("What is 2 + 2?"))  # listed
    tabs = {user.username: await open_tab(thread, user, 0) for user in (alice, bob)}
    await rename_from_the_menu("Is <b>x</b> & y prime?")
    for name, tab in tabs.items():
        frames = await receive_until(tab, r'hx-swap-oob="innerHTML:#page-title"')
        if name == alice.username:  # the entry, from her own group
            frames += await receive_until(tab, rf'<li id="conversation-{thread.id}"')
        joined = "".join(frames)
        assert_shows_the_hostile_title(joined, thread, with_sidebar_entry=name == alice.username)
        await tab.disconnect()


def shown_on_page(frames: list[str]) -> dict[str, str]:
    """Each message as the page ends up showing it, applying the frames as htmx does: a
    rendered article replaces the one shown (or is appended), a delta appends its text to
    the message's streaming span."""
    shown: dict[str, str] = {}
    for frame in frames:
        for match in re.finditer(r'<article id="message-(msg_\w+)".*?</article>', frame, re.S):
            shown[match.group(1)] = match.group(0)
        for match in re.finditer(r'<span id="stream-(msg_\w+)" hx-swap-oob="beforeend">(.*?)</span>', frame, re.S):
            message_id, text = match.groups()
            span = re.compile(rf'(<span id="stream-{message_id}">.*?)(</span>)', re.S)
            shown[message_id] = span.sub(lambda m, text=text: m.group(1) + text + m.group(2), shown[message_id])
    return shown


async def test_a_socket_whose_channel_filled_ends_showing_the_whole_saved_answer(monkeypatch, alice, thread, tutor):
    """A full channel drops all that comes after (text deltas, the message's and the run's
    ends): the page still ends with the answer rendered whole from its row, not with the
    deltas it happened to receive."""
    monkeypatch.setattr("chat.engine.events.QUIET_SECONDS", 0.05, raising=False)
    tokens = [f"w{i} " for i in range(60)]
    use(monkeypatch, ScriptedProvider(text_turn(*tokens), delay=0.002))  # each token its own publish
    layer = get_channel_layer()
    monkeypatch.setattr(layer, "capacity", 6)
    receive, stuck, release = layer.receive, asyncio.Event(), asyncio.Event()

    async def slow_receive(channel: str) -> dict:
        if stuck.is_set():
            await release.wait()  # the page's socket takes nothing for a while: its channel fills
        return await receive(channel)

    monkeypatch.setattr(layer, "receive", slow_receive)
    communicator, connected, _ = await connect(thread.id, alice)
    assert connected
    await communicator.receive_from()  # the snapshot
    stuck.set()
    _, run = await sync_to_async(post_message)(thread, "go", tutor, start=False)
    dispatch.dispatch(run.id)
    await dispatch.wait_idle()  # the whole answer was published while the channel was full
    answer = await Message.objects.aget(run=run, role=Message.ASSISTANT)
    release.set()
    ended = rf'<article id="message-{answer.id}"[^>]*message--completed'
    frames = await receive_until(communicator, ended, timeout=10)
    final = shown_on_page(frames)[answer.id]
    assert 'id="stream-' not in final  # ended, not streaming
    assert unescape(re.search(r'data-copy="([^"]*)"', final).group(1)) == answer.text == "".join(tokens)
    await communicator.disconnect()
