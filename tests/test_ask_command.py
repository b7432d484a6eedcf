import asyncio
import threading

import pytest
from channels.layers import get_channel_layer
from django.core.management import CommandError, call_command

from chat.engine import events
from chat.models import Message, Run, Thread

pytestmark = pytest.mark.django_db(transaction=True)


def test_ask_streams_the_reply_and_saves_the_thread(capsys, tutor):
    call_command("ask", "Math Tutor", "I need to solve the equation `3x + 11 = 14`. Can you help me?")
    out = capsys.readouterr()
    assert "x = 1" in out.out
    run = Run.objects.get()
    assert run.status == "completed" and run.thread_id in out.err
    assert Message.objects.filter(thread=run.thread).count() == 2


def test_ask_continues_a_thread(capsys, tutor, thread):
    call_command("ask", tutor.id, "Solve 2x = 8", thread=thread.id)
    call_command("ask", tutor.id, "Solve x + 1 = 5", thread=thread.id)
    assert Thread.objects.count() == 1 and thread.messages.count() == 4
    assert "x = 4" in capsys.readouterr().out


def test_ask_tells_the_owners_open_pages_of_the_conversation_it_lists(tutor):
    """The sidebar's news of a first question reaches the owner's pages (in a cluster, the
    web processes' sockets) from the command too: the task that gathers it for a moment
    used to die with the command's short-lived event loop, unsent. The page listens on a
    loop that lasts, as a server's does (the Redis layer's channels belong to one loop)."""
    layer, server = get_channel_layer(), asyncio.new_event_loop()
    serving = threading.Thread(target=server.run_forever, daemon=True)
    serving.start()

    def on_server(coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, server).result(timeout=10)

    async def open_page() -> str:
        page = await layer.new_channel()
        await layer.group_add(events.group_of_user(tutor.owner_id), page)
        return page

    try:
        page = on_server(open_page())
        call_command("ask", "Math Tutor", "Solve 2x = 8")
        heard = on_server(asyncio.wait_for(layer.receive(page), 5))
    finally:
        server.call_soon_threadsafe(server.stop)
        serving.join()
        server.close()
    assert heard["type"] == events.CONVERSATION_LISTED and heard["thread_ids"] == [Thread.objects.get().id]


def test_ask_exits_non_zero_when_the_run_does_not_complete(tutor):
    tutor.model = "gpt-4o"  # no server configured: the run fails
    tutor.save()
    with pytest.raises(CommandError, match="The run ended failed"):
        call_command("ask", "Math Tutor", "hi")


def test_ask_rejects_unknown_assistants_and_empty_messages(tutor):
    with pytest.raises(CommandError, match="No assistant named"):
        call_command("ask", "Nobody", "hi")
    with pytest.raises(CommandError, match="empty"):
        call_command("ask", "Math Tutor", "   ")
    with pytest.raises(CommandError, match="at most 256000 characters; this one has 256001"):
        call_command("ask", "Math Tutor", "x" * 256_001)


def test_ask_runs_a_python_block_typed_with_crlf_line_endings(capsys, tutor):
    call_command("ask", "Math Tutor", "Run this:\r\n```python\r\nprint(6 * 7)\r\n```")
    assert Message.objects.filter(role="user").get().text == "Run this:\n```python\nprint(6 * 7)\n```"
