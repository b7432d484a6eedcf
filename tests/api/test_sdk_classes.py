"""A student with their own API key, through the official openai SDK (strict response
validation) against the live server: their class conversation, a quiz answered and graded,
the tutor's set-up hidden, and the class's daily limit as a 429 with code quota_exceeded."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fixtures import DISPLAY_QUIZ_JSON
from tests.live_server import manage, server_env

SETUP = """
import json
from django.contrib.auth import get_user_model
from django.core.management import call_command
from chat.classes import services
from chat.models import Assistant
tutor = get_user_model().objects.get(username="tutor")
carol = get_user_model().objects.create_user("carol", password="carol-pw-1")
quiz = Assistant.objects.create(owner=tutor, name="Quiz Tutor", model="offline", instructions="SECRET-INSTRUCTIONS",
    tools=[{"type": "function", "function": json.loads(open(%r).read())}])
classroom = services.create_classroom(tutor, "SDK class", "")
classroom.runs_per_day = 1
classroom.save()
services.join_by_code(carol, classroom.join_code)
services.publish(classroom, quiz)
thread = services.start_class_thread(carol, classroom, quiz)
print("IDS", thread.id, quiz.id)
call_command("createapikey", "carol")
"""

ATTEMPT = """
from chat.functions.models import QuizAttempt
a = QuizAttempt.objects.get(user__username="carol")
print("ATTEMPT", a.score, a.max_score, bool(a.feedback))
"""

STRANGER = """
from django.contrib.auth import get_user_model
get_user_model().objects.create_user("dora", password="dora-pw-1")
"""


@pytest.fixture(scope="module")
def carol(api_server):
    env = server_env(api_server.data_dir)
    out = manage(env, "shell", "-c", SETUP % str(DISPLAY_QUIZ_JSON))
    words = out.split()
    thread_id, assistant_id = words[words.index("IDS") + 1 : words.index("IDS") + 3]
    key = next(w for w in words if w.startswith("sk-tutor-"))
    return {"env": env, "thread": thread_id, "assistant": assistant_id, "client": api_server.client(api_key=key)}


def test_a_student_takes_a_quiz_through_the_sdk_within_the_daily_limit(carol):
    client, thread_id, assistant_id = carol["client"], carol["thread"], carol["assistant"]
    assert client.beta.threads.retrieve(thread_id).id == thread_id
    client.beta.threads.messages.create(thread_id, role="user", content="Give me a quiz on solving linear equations")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id, poll_interval_ms=50)
    assert run.status == "requires_action"
    assert run.instructions == "" and "SECRET" not in run.model_dump_json()
    assert [t.function.name for t in run.tools if t.type == "function"] == ["display_quiz"]
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    questions = json.loads(call.function.arguments)["questions"]
    answers = [{"question_text": q["question_text"], "answer": "x = 0"} for q in questions]
    # Streamed: every event of a class run hides the set-up too.
    with client.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id, thread_id=thread_id, tool_outputs=[{"tool_call_id": call.id, "output": json.dumps(answers)}],
    ) as stream:
        events = list(stream)
    runs = [e.data for e in events if e.event.startswith("thread.run.") and not e.event.startswith("thread.run.step")]
    assert runs and runs[-1].status == "completed"
    assert all(r.instructions == "" and "SECRET" not in r.model_dump_json() for r in runs)
    grading = client.beta.threads.messages.list(thread_id, order="desc", limit=1).data[0].content[0].text.value
    assert "Here is how you did" in grading
    # Recorded for the gradebook with the score the grading reported (x = 0 solves neither equation).
    assert "ATTEMPT 0.00 2.00 True" in manage(carol["env"], "shell", "-c", ATTEMPT)

    # The assistant itself is the tutor's.
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(assistant_id)

    # One run a day in this class: the next is refused until midnight UTC, nothing saved.
    with pytest.raises(openai.RateLimitError) as refused:
        client.beta.threads.runs.create(
            thread_id=thread_id, assistant_id=assistant_id, additional_messages=[{"role": "user", "content": "Another quiz?"}]
        )
    assert refused.value.code == "quota_exceeded" and "00:00 UTC" in refused.value.message
    assert refused.value.response.headers["retry-after"].isdigit()
    assert refused.value.response.headers["x-should-retry"] == "false"  # a retry in seconds cannot help
    texts = [m.content[0].text.value for m in client.beta.threads.messages.list(thread_id, limit=100).data if m.content]
    assert "Another quiz?" not in texts


def test_the_tutor_s_key_reads_the_student_s_conversation_and_is_refused_writes_as_read_only(carol, api_server):
    """The SDK raises PermissionDeniedError (403), not NotFoundError, for a write to a
    conversation the same key has just read; a stranger's key still finds nothing."""
    thread_id, assistant_id = carol["thread"], carol["assistant"]
    tutor_key = next(w for w in manage(carol["env"], "createapikey", "tutor").split() if w.startswith("sk-tutor-"))
    tutor = api_server.client(api_key=tutor_key)
    assert tutor.beta.threads.retrieve(thread_id).id == thread_id
    seen = len(tutor.beta.threads.messages.list(thread_id, limit=100).data)
    writes = [
        lambda: tutor.beta.threads.messages.create(thread_id, role="user", content="From the tutor"),
        lambda: tutor.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id),
        lambda: tutor.beta.threads.update(thread_id, metadata={"a": "b"}),
        lambda: tutor.beta.threads.delete(thread_id),
    ]
    for write in writes:
        with pytest.raises(openai.PermissionDeniedError) as refused:
            write()
        assert refused.value.status_code == 403 and "read-only for this key" in refused.value.message
    assert len(carol["client"].beta.threads.messages.list(thread_id, limit=100).data) == seen
    manage(carol["env"], "shell", "-c", STRANGER)
    stranger_key = next(w for w in manage(carol["env"], "createapikey", "dora").split() if w.startswith("sk-tutor-"))
    stranger = api_server.client(api_key=stranger_key)
    with pytest.raises(openai.NotFoundError):
        stranger.beta.threads.retrieve(thread_id)
    with pytest.raises(openai.NotFoundError):
        stranger.beta.threads.messages.create(thread_id, role="user", content="hi")
