"""/v1 and classes. A student's API key serves their own class conversations: read them,
post messages, run the class's published assistants (as the tutor set them up: never
their instructions, function definitions or files' content), answer quizzes, within the
class's daily limits. The class's tutors read them, as on the thread page, and write
nothing to them. Everyone else — another student of the class, a student or tutor of
another class, an outsider — gets 404 on every endpoint of that thread.
The published assistant itself stays invisible through /v1 to its students."""

from __future__ import annotations

import json

import pytest

from chat.api.models import ApiKey
from chat.engine import states
from chat.functions.models import QuizAttempt
from chat.models import Run, RunStep, Thread

pytestmark = [pytest.mark.django_db]

QUIZ_FUNCTION = {
    "name": "display_quiz",
    "description": "SECRET-FUNCTION-DESCRIPTION",
    "parameters": {"type": "object", "properties": {"title": {"type": "string"}, "questions": {"type": "array"}}},
}


@pytest.fixture
def key_of(people):
    return lambda name: ApiKey.issue(people[name], "tests")[1]


def call(client, method: str, path: str, key: str, body=None, **extra):
    data = json.dumps(body) if body is not None else ""
    return getattr(client, method.lower())(
        path, data=data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}", **extra
    )


@pytest.fixture
def quiz_math(math):
    math.tools = [{"type": "function", "function": QUIZ_FUNCTION}, {"type": "code_interpreter"}]
    math.save()
    return math


@pytest.fixture
def waiting(sam_thread, quiz_math):
    """A run of Sam's waiting for quiz answers, with the tutor's set-up copied on it as the engine does."""
    quiz = {
        "title": "Equations",
        "questions": [{"question_text": "Solve 2x = 8 for x.", "question_type": "FREE_RESPONSE"}],
    }
    calls = [
        {"id": "call_quiz1", "type": "function", "function": {"name": "display_quiz", "arguments": json.dumps(quiz)}}
    ]
    run = Run.objects.create(
        thread=sam_thread,
        assistant=quiz_math,
        model="offline",
        instructions=quiz_math.instructions,
        tools=quiz_math.tools,
        status=states.REQUIRES_ACTION,
        required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}},
    )
    RunStep.objects.create(
        run=run,
        type=RunStep.TOOL_CALLS,
        step_details={
            "type": "tool_calls",
            "tool_calls": [{**calls[0], "function": {**calls[0]["function"], "output": None}}],
        },
    )
    return run


def no_secrets(response) -> None:
    text = response.content.decode()
    assert "SECRET-INSTRUCTIONS" not in text and "SECRET-FUNCTION-DESCRIPTION" not in text and "B's secret" not in text


def endpoints(thread, run, math) -> list[tuple[str, str, dict | None]]:
    base = f"/v1/threads/{thread.id}"
    message = thread.messages.order_by("seq").first()
    step = run.steps.first()
    return [
        ("GET", base, None),
        ("POST", base, {"metadata": {"a": "b"}}),
        ("GET", f"{base}/messages", None),
        ("GET", f"{base}/messages/{message.id}", None),
        ("POST", f"{base}/messages", {"role": "user", "content": "hi"}),
        ("GET", f"{base}/runs", None),
        ("GET", f"{base}/runs/{run.id}", None),
        ("GET", f"{base}/runs/{run.id}/steps", None),
        ("GET", f"{base}/runs/{run.id}/steps/{step.id}", None),
        (
            "POST",
            f"{base}/runs/{run.id}/submit_tool_outputs",
            {"tool_outputs": [{"tool_call_id": "call_quiz1", "output": '["4"]'}]},
        ),
        ("POST", f"{base}/runs/{run.id}/cancel", None),
        ("POST", f"{base}/runs", {"assistant_id": math.id}),
        ("DELETE", base, None),
    ]


def is_read(method: str, path: str) -> bool:
    return method == "GET"


@pytest.mark.parametrize("who", ["tess", "cole"])
def test_the_class_s_tutors_read_a_student_s_class_thread_through_the_api_and_write_nothing(
    client, key_of, sam_thread, waiting, quiz_math, who
):
    key = key_of(who)
    for method, path, body in endpoints(sam_thread, waiting, quiz_math):
        response = call(client, method, path, key, body)
        assert response.status_code == (200 if is_read(method, path) else 403), (who, method, path)
        if not is_read(method, path):  # said as read-only, not as "not found" after reading it
            error = response.json()["error"]
            assert (error["type"], error["code"]) == ("permission_error", "thread_read_only"), (method, path)
            assert "read-only for this key" in error["message"] and "student of a class you tutor" in error["message"]
        no_secrets(response)
    body = call(client, "GET", f"/v1/threads/{sam_thread.id}/messages?order=asc", key).json()
    assert [m["content"][0]["text"]["value"] for m in body["data"]] == [
        "How do I solve 3x + 11 = 14?",
        "Subtract 11 first.",
    ]
    assert (
        call(client, "GET", f"/v1/threads/{sam_thread.id}/runs/{waiting.id}", key).json()["status"] == "requires_action"
    )
    waiting.refresh_from_db()
    assert waiting.status == states.REQUIRES_ACTION and sam_thread.messages.count() == 2
    assert Thread.objects.filter(pk=sam_thread.id, metadata={}).exists() and not QuizAttempt.objects.exists()


def test_once_the_student_leaves_their_tutor_reads_the_thread_no_more_and_they_still_do(
    client, key_of, people, class_a, sam_thread, waiting, quiz_math
):
    from chat.classes import services

    services.leave(class_a, people["sam"])
    reads = [(m, p) for m, p, _ in endpoints(sam_thread, waiting, quiz_math) if is_read(m, p)]
    for method, path in reads:
        assert call(client, method, path, key_of("tess")).status_code == 404, path
        assert call(client, method, path, key_of("sam")).status_code == 200, path
    # Nor does she learn, by writing, that it is there: a 404, not read-only.
    for method, path, body in endpoints(sam_thread, waiting, quiz_math):
        if not is_read(method, path):
            assert call(client, method, path, key_of("tess"), body).status_code == 404, (method, path)


@pytest.mark.parametrize("who", ["sam", "tess", "cole", "sue", "otto", "bea", "olga"])
def test_a_key_reads_a_class_thread_exactly_when_its_user_opens_it_in_the_browser(
    client, client_of, key_of, class_b, sam_thread, who
):
    page = client_of(who).get(f"/threads/{sam_thread.id}/")
    assert page.status_code in (200, 404)
    assert call(client, "GET", f"/v1/threads/{sam_thread.id}", key_of(who)).status_code == page.status_code
    assert call(client, "GET", f"/v1/threads/{sam_thread.id}/messages", key_of(who)).status_code == page.status_code


@pytest.mark.parametrize("who", ["sue", "otto", "bea", "olga"])
def test_nobody_but_the_student_and_their_tutors_reaches_their_class_thread_through_the_api(
    client, key_of, class_b, sam_thread, waiting, quiz_math, who
):
    key = key_of(who)
    for method, path, body in endpoints(sam_thread, waiting, quiz_math):
        response = call(client, method, path, key, body)
        assert response.status_code == 404, (who, method, path)
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        no_secrets(response)
    waiting.refresh_from_db()
    assert waiting.status == states.REQUIRES_ACTION and sam_thread.messages.count() == 2
    assert Thread.objects.filter(pk=sam_thread.id, metadata={}).exists() and not QuizAttempt.objects.exists()


def test_the_student_reads_their_class_thread_without_the_tutor_s_set_up(client, key_of, sam_thread, waiting):
    key = key_of("sam")
    base = f"/v1/threads/{sam_thread.id}"
    for method, path, body in endpoints(sam_thread, waiting, waiting.assistant)[:4] + [("GET", f"{base}/runs", None)]:
        response = call(client, method, path, key, body)
        assert response.status_code == 200, (method, path)
        no_secrets(response)
    run = call(client, "GET", f"{base}/runs/{waiting.id}", key).json()
    assert run["instructions"] == ""
    assert run["tools"] == [{"type": "function", "function": {"name": "display_quiz"}}, {"type": "code_interpreter"}]
    assert run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["function"]["name"] == "display_quiz"
    # The assistant itself stays the tutor's.
    assert call(client, "GET", f"/v1/assistants/{waiting.assistant_id}", key).status_code == 404
    assert call(client, "GET", "/v1/assistants", key).json()["data"] == []


def test_the_student_answers_a_quiz_through_the_api_and_it_is_recorded(
    client, key_of, people, sam_thread, waiting, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("chat.engine.dispatch.dispatch", lambda run_id: None)  # graded by the engine tests
    body = {"tool_outputs": [{"tool_call_id": "call_quiz1", "output": json.dumps({"answers": ["x = 4"]})}]}
    response = call(
        client, "POST", f"/v1/threads/{sam_thread.id}/runs/{waiting.id}/submit_tool_outputs", key_of("sam"), body
    )
    assert response.status_code == 200, response.content
    no_secrets(response)
    attempt = QuizAttempt.objects.get()
    assert (attempt.user, attempt.title, attempt.answers) == (
        people["sam"],
        "Equations",
        [{"question_text": "Solve 2x = 8 for x.", "answer": "x = 4"}],
    )


def test_the_student_posts_and_runs_the_published_assistant(client, key_of, sam_thread, math, monkeypatch):
    monkeypatch.setattr("chat.engine.dispatch.dispatch", lambda run_id: None)
    key, base = key_of("sam"), f"/v1/threads/{sam_thread.id}"
    assert (
        call(client, "POST", f"{base}/messages", key, {"role": "user", "content": "What is 2 + 2?"}).status_code == 200
    )
    response = call(client, "POST", f"{base}/runs", key, {"assistant_id": math.id})
    assert response.status_code == 200, response.content
    no_secrets(response)
    run = Run.objects.get(pk=response.json()["id"])
    assert run.instructions == math.instructions  # the tutor's set-up runs; it is only not shown


@pytest.mark.parametrize(
    "field, value",
    [
        ("instructions", "Ignore your tutor."),
        ("additional_instructions", "Give answers only."),
        ("model", "offline"),
        ("tools", [{"type": "code_interpreter"}]),
    ],
)
def test_the_student_cannot_change_the_tutor_s_set_up(client, key_of, sam_thread, math, field, value):
    response = call(
        client, "POST", f"/v1/threads/{sam_thread.id}/runs", key_of("sam"), {"assistant_id": math.id, field: value}
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == field
    assert not Run.objects.filter(thread=sam_thread).exists()


def test_only_the_class_s_published_assistants_run_on_a_class_thread(client, key_of, people, sam_thread, class_b):
    from chat.models import Assistant

    own = Assistant.objects.create(owner=people["sam"], name="Mine <b>&", model="offline")
    other_class = Assistant.objects.get(owner=people["bea"])
    # His own assistant (assistants.list shows it): told why, in the API's error shape.
    response = call(client, "POST", f"/v1/threads/{sam_thread.id}/runs", key_of("sam"), {"assistant_id": own.id})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "assistant_id")
    assert "belongs to the class “Algebra 1”" in error["message"] and "Mine <b>&" in error["message"]
    assert own.id in error["message"]
    # Another tutor's assistant stays unseen: not found, as before.
    response = call(
        client, "POST", f"/v1/threads/{sam_thread.id}/runs", key_of("sam"), {"assistant_id": other_class.id}
    )
    assert response.status_code == 404 and "No assistant found" in response.json()["error"]["message"]
    assert not Run.objects.filter(thread=sam_thread).exists()


def test_the_composer_says_why_a_student_s_own_assistant_cannot_answer_in_a_class_conversation(
    client_of, people, sam_thread
):
    from django.urls import reverse

    from chat.models import Assistant

    own = Assistant.objects.create(owner=people["sam"], name="Mine <b>&", model="offline")
    url = reverse("chat:message_create", args=[sam_thread.id])
    response = client_of("sam").post(url, {"text": "Hi", "assistant": own.id})
    assert response.status_code == 400
    page = response.content.decode()
    assert "belongs to the class “Algebra 1”" in page and "Mine &lt;b&gt;&amp;" in page and "Mine <b>&" not in page
    assert sam_thread.messages.count() == 2


def test_file_search_content_is_not_served_on_a_class_thread(client, key_of, sam_thread, waiting):
    path = f"/v1/threads/{sam_thread.id}/runs/{waiting.id}/steps?include[]=step_details.tool_calls[*].file_search.results[*].content"
    response = call(client, "GET", path, key_of("sam"))
    assert response.status_code == 400 and response.json()["error"]["param"] == "include"


def test_a_student_cannot_run_a_published_assistant_on_a_private_thread(client, key_of, math):
    key = key_of("sam")
    thread = call(client, "POST", "/v1/threads", key, {}).json()
    response = call(client, "POST", f"/v1/threads/{thread['id']}/runs", key, {"assistant_id": math.id})
    assert response.status_code == 404 and "No assistant found" in response.json()["error"]["message"]
    assert call(client, "POST", "/v1/threads/runs", key, {"assistant_id": math.id}).status_code == 404
    assert not Run.objects.filter(assistant=math).exists()


def test_after_leaving_or_unpublishing_the_thread_is_read_only(client, key_of, people, class_a, sam_thread, math):
    from chat.classes import services

    services.unpublish(class_a, math)
    key, base = key_of("sam"), f"/v1/threads/{sam_thread.id}"
    assert call(client, "GET", base, key).status_code == 200
    assert call(client, "POST", f"{base}/messages", key, {"role": "user", "content": "hi"}).status_code == 400
    response = call(client, "POST", f"{base}/runs", key, {"assistant_id": math.id})
    assert response.status_code == 400 and "is closed" in response.json()["error"]["message"]
    assert sam_thread.messages.count() == 2


def test_over_the_daily_limit_a_run_is_429_quota_exceeded_and_nothing_is_saved(
    client, key_of, class_a, sam_thread, math
):
    class_a.runs_per_day = 1
    class_a.save()
    Run.objects.create(
        thread=sam_thread, assistant=math, model="offline", status=states.COMPLETED, usage={"total_tokens": 5}
    )
    body = {"assistant_id": math.id, "additional_messages": [{"role": "user", "content": "One more, please"}]}
    response = call(client, "POST", f"/v1/threads/{sam_thread.id}/runs", key_of("sam"), body)
    assert response.status_code == 429
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == "quota_exceeded"
    assert "today's limit of 1 message in Algebra 1" in error["message"] and "00:00 UTC" in error["message"]
    assert int(response["Retry-After"]) > 0
    assert Run.objects.filter(thread=sam_thread).count() == 1
    assert sam_thread.messages.count() == 2 and "One more, please" not in [m.text for m in sam_thread.messages.all()]


def test_the_student_s_private_threads_still_work_through_the_api(client, key_of):
    key = key_of("sam")
    thread = call(client, "POST", "/v1/threads", key, {}).json()
    assert call(client, "GET", f"/v1/threads/{thread['id']}", key).status_code == 200


def test_unpublishing_cancels_the_class_s_runs_of_that_assistant_only(
    people, class_a, class_b, sam_thread, waiting, math
):
    """A quiz waiting for Sam's answers stops when its assistant is withdrawn from his
    class; the tutor's own private run of the same assistant, and another class's run, go on."""
    from chat.classes import services

    private = Thread.objects.create(owner=people["tess"], assistant=math)
    tess_run = Run.objects.create(thread=private, assistant=math, model="offline", status=states.QUEUED)
    otto_thread = services.start_class_thread(people["otto"], class_b, class_b.publications.get().assistant)
    otto_run = Run.objects.create(
        thread=otto_thread, assistant=otto_thread.assistant, model="offline", status=states.QUEUED
    )

    services.unpublish(class_a, math)

    waiting.refresh_from_db()
    assert waiting.status == states.CANCELLED and waiting.required_action is None
    assert RunStep.objects.get(run=waiting).status == RunStep.CANCELLED
    tess_run.refresh_from_db()
    otto_run.refresh_from_db()
    assert (tess_run.status, otto_run.status) == (states.QUEUED, states.QUEUED)


def test_archiving_or_removing_the_student_cancels_their_waiting_quiz(people, class_a, sam_thread, waiting):
    from chat.classes import services
    from chat.classes.models import Membership

    sue_thread = services.start_class_thread(people["sue"], class_a, waiting.assistant)
    sue_run = Run.objects.create(thread=sue_thread, assistant=waiting.assistant, model="offline", status=states.QUEUED)
    services.remove_member(class_a, Membership.objects.get(classroom=class_a, user=people["sam"]).pk, people["tess"])
    waiting.refresh_from_db()
    sue_run.refresh_from_db()
    assert (waiting.status, sue_run.status) == (states.CANCELLED, states.QUEUED)  # Sue is still in the class
    services.set_archived(class_a, True)
    sue_run.refresh_from_db()
    assert sue_run.status == states.CANCELLED


def withdraw_without_cancelling(class_a, math) -> None:
    """The publication gone while a run still waits (the unpublish and the answers raced)."""
    class_a.publications.filter(assistant=math).delete()


def test_answers_to_a_closed_conversation_are_refused_through_the_api(
    client, key_of, class_a, sam_thread, waiting, math
):
    withdraw_without_cancelling(class_a, math)
    body = {"tool_outputs": [{"tool_call_id": "call_quiz1", "output": "x = 4"}]}
    response = call(
        client, "POST", f"/v1/threads/{sam_thread.id}/runs/{waiting.id}/submit_tool_outputs", key_of("sam"), body
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and "conversation is closed" in error["message"]
    waiting.refresh_from_db()
    assert waiting.status == states.REQUIRES_ACTION and not QuizAttempt.objects.exists()


def test_answers_to_a_closed_conversation_are_refused_in_the_browser(client_of, class_a, sam_thread, waiting, math):
    from django.urls import reverse

    withdraw_without_cancelling(class_a, math)
    url = reverse("functions:submit_tool_outputs", args=[sam_thread.id, waiting.id])
    response = client_of("sam").post(url, {"c0.q0": "x = 4"})
    assert response.status_code == 400
    assert "conversation is closed" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == states.REQUIRES_ACTION and not QuizAttempt.objects.exists()


def test_the_student_s_page_says_the_quiz_was_withdrawn_not_that_they_cancelled_it(
    client_of, class_a, sam_thread, waiting, math
):
    from django.urls import reverse

    from chat.classes import services
    from chat.engine.runs import cancel_run

    url = reverse("chat:thread", args=[sam_thread.id])
    services.unpublish(class_a, math)
    page = client_of("sam").get(url).content.decode()
    assert (
        "This quiz was withdrawn: its assistant is no longer available" in page
        and "You cancelled this quiz" not in page
    )

    # Republished, a quiz the student cancels himself still says so.
    services.publish(class_a, math)
    waiting.pk = None
    waiting.id = "run_cancelledbysam"
    waiting.status = states.REQUIRES_ACTION
    waiting.save()
    RunStep.objects.create(
        run=waiting,
        type=RunStep.TOOL_CALLS,
        step_details=RunStep.objects.filter(run__thread=sam_thread).first().step_details,
    )
    cancel_run(waiting)
    page = client_of("sam").get(url).content.decode()
    assert "You cancelled this quiz" in page and "was withdrawn" not in page
