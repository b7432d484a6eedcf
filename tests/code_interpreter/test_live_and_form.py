"""The step streams through the thread's WebSocket (code first, with a live indicator,
then logs as they are printed, then the result) and a reload shows the same; the
assistant form switches the tool on and off."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from chat.engine import dispatch
from chat.models import Assistant
from chat.services.messages import post_message
from tests.test_consumers import connect, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]

SLOW = "```python\nimport time\nfor n in range(3):\n    print('tick', n, flush=True)\n    time.sleep(0.4)\nprint('finished')\n```"


async def test_a_running_step_streams_its_code_then_its_logs_live(alice, thread, tutor, alice_client):
    tutor.tools = [{"type": "code_interpreter"}]
    await sync_to_async(tutor.save)()
    communicator, connected, _ = await connect(thread.id, alice)
    assert connected
    await communicator.receive_from()  # the snapshot
    _, run = await sync_to_async(post_message)(thread, SLOW, tutor, start=False)
    dispatch.dispatch(run.id)
    frames = await receive_until(communicator, r'id="run-status"[^>]*><span class="chip chip--completed"', timeout=30)
    html = "".join(frames)
    running = [f for f in frames if "running…" in f and "tool-call--code_interpreter" in f]
    assert running and "sleep" in running[0] and "highlight" in running[0]  # the code shows while it runs
    live_logs = [logs for f in frames if "running…" in f for logs in re.findall(r'<pre class="ci-logs">(.*?)</pre>', f, re.S)]
    assert any("tick 0" in logs and "finished" not in logs for logs in live_logs)  # logs arrive while it runs
    assert "finished" in html
    await communicator.disconnect()
    page = (await sync_to_async(alice_client.get)(reverse("chat:thread", args=[thread.id]))).content.decode()
    assert "tick 2" in page and "finished" in page and "running…" not in page
    assert 'class="highlight' in page or "<pre" in page


def test_the_assistant_form_switches_code_interpreter_on_and_keeps_function_tools(alice_client, tutor):
    function = {"type": "function", "function": {"name": "quiz", "parameters": {"type": "object", "properties": {}}}}
    tutor.tools = [function]
    tutor.save()
    url = reverse("chat:assistant_edit", args=[tutor.id])
    form = alice_client.get(url).content.decode()
    assert 'value="code_interpreter"' in form and "Code Interpreter" in form
    data = {"name": tutor.name, "model": "offline", "instructions": "x", "tools": ["code_interpreter"]}
    response = alice_client.post(url, data)
    assert response.status_code == 302
    tutor.refresh_from_db()
    assert tutor.tools == [function, {"type": "code_interpreter"}]
    alice_client.post(url, {"name": tutor.name, "model": "offline", "instructions": "x"})
    tutor.refresh_from_db()
    assert tutor.tools == [function]


def test_a_new_assistant_can_have_code_interpreter(alice_client, alice):
    response = alice_client.post(reverse("chat:assistant_create"),
                                 {"name": "Coder", "model": "offline", "tools": ["code_interpreter"]})
    assert response.status_code == 302
    assert Assistant.objects.get(owner=alice, name="Coder").tools == [{"type": "code_interpreter"}]


def test_the_offline_model_only_writes_programs_it_recognizes():
    from chat.code_interpreter.skill import program_for

    assert program_for("Hello there") is None
    assert program_for("Solve 3x + 11 = 14") is None
    assert "factorial" in program_for("what is 10!")
    assert "lambdify" in program_for("plot y = sin(x) from -3.14 to 3.14")
    assert program_for("plot y = import os from 1 to 2") is None
    assert program_for("Run:\n```python\nprint(1)\n```") == "print(1)\n"
