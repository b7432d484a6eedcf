"""The student's side: the forms for pending calls on the thread page, and sending answers."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from chat import live
from chat.engine import recovery
from chat.engine.runs import cancel_run
from chat.functions.models import QuizAttempt
from chat.models import Run, RunStep
from tests.functions.conftest import WEATHER

pytestmark = [pytest.mark.django_db]

QUIZ = {
    "title": "Polygons <b>quiz</b>",
    "questions": [
        {"question_text": "What is the measure of each interior angle of a regular pentagon?", "question_type": "MULTIPLE_CHOICE",
         "choices": ["72 degrees", "108 degrees", "<script>alert(1)</script>"]},
        {"question_text": "What is the sum of the interior angles of a hexagon?", "question_type": "FREE_RESPONSE"},
    ],
}


def waiting_run(thread, *calls) -> Run:
    """A run paused in requires_action for ``calls`` [(id, name, arguments)], as the engine leaves it."""
    entries = [{"id": i, "type": "function", "function": {"name": n, "arguments": a, "output": None}} for i, n, a in calls]
    run = Run.objects.create(
        thread=thread, assistant=thread.assistant, model="offline", tools=thread.assistant.tools, status="requires_action",
        expires_at=timezone.now() + timedelta(minutes=10),
        required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls]}},
    )
    RunStep.objects.create(run=run, type=RunStep.TOOL_CALLS, step_details={"type": "tool_calls", "tool_calls": entries})
    return run


def submit_url(run):
    return reverse("functions:submit_tool_outputs", args=[run.thread_id, run.id])


@pytest.fixture
def no_dispatch(monkeypatch):
    started = []
    monkeypatch.setattr("chat.engine.dispatch.dispatch", started.append)
    return started


@pytest.fixture
def quiz_run(quiz_thread):
    return waiting_run(quiz_thread, ("call_q", "display_quiz", json.dumps(QUIZ)))


def test_the_thread_page_shows_the_quiz_as_an_accessible_form(alice_client, quiz_run):
    response = alice_client.get(reverse("chat:thread", args=[quiz_run.thread_id]))
    html = response.content.decode()
    assert 'id="pending-action"' in html
    assert "Polygons &lt;b&gt;quiz&lt;/b&gt;" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert html.count('type="radio" name="c0.q0"') == 3
    assert "<legend>What is the measure of each interior angle of a regular pentagon?</legend>" in html
    assert '<label for="f-c0-q1">What is the sum of the interior angles of a hexagon?</label>' in html
    assert '<textarea id="f-c0-q1" name="c0.q1"' in html
    assertContains(response, "Submit answers")
    assertContains(response, "Stop instead")


def test_submitting_the_quiz_sends_one_json_output_records_the_attempt_and_resumes(alice_client, alice, quiz_run, no_dispatch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(submit_url(quiz_run), {"c0.q0": "108 degrees", "c0.q1": "720 degrees"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    quiz_run.refresh_from_db()
    assert quiz_run.status == "queued" and no_dispatch == [quiz_run.id]
    step = quiz_run.steps.get()
    output = json.loads(step.step_details["tool_calls"][0]["function"]["output"])
    assert output == [
        {"question_text": QUIZ["questions"][0]["question_text"], "answer": "108 degrees"},
        {"question_text": QUIZ["questions"][1]["question_text"], "answer": "720 degrees"},
    ]
    attempt = QuizAttempt.objects.get()
    assert (attempt.user, attempt.run, attempt.thread_id, attempt.tool_call_id) == (alice, quiz_run, quiz_run.thread_id, "call_q")
    assert attempt.title == QUIZ["title"] and attempt.questions == QUIZ["questions"] and attempt.answers == output
    assert attempt.assistant_id == quiz_run.assistant_id and attempt.submitted_at is not None
    # The answers stay visible as the step's output; the form is gone.
    panel = live.render_run_panel(quiz_run.thread)
    assert "your answers" in panel and "720 degrees" in panel
    assert 'name="c0.q0"' not in panel


def test_a_partial_submission_is_refused_and_keeps_what_was_typed(alice_client, quiz_run):
    response = alice_client.post(submit_url(quiz_run), {"c0.q1": "720 degrees"})
    assert response.status_code == 400
    assertContains(response, "question 1 still needs an answer", status_code=400)
    assertContains(response, ">720 degrees</textarea>", status_code=400)
    quiz_run.refresh_from_db()
    assert quiz_run.status == "requires_action" and not QuizAttempt.objects.exists()


def test_a_choice_that_was_not_offered_is_refused(alice_client, quiz_run):
    response = alice_client.post(submit_url(quiz_run), {"c0.q0": "90 degrees", "c0.q1": "720"})
    assertContains(response, "Choose one of the answers shown", status_code=400)


def test_a_second_submission_is_refused_clearly(alice_client, quiz_run, no_dispatch):
    answers = {"c0.q0": "108 degrees", "c0.q1": "720"}
    alice_client.post(submit_url(quiz_run), answers)
    response = alice_client.post(submit_url(quiz_run), answers, headers={"HX-Request": "true"})
    assertContains(response, "not waiting for answers any more (it is queued)")
    assert QuizAttempt.objects.count() == 1


def test_a_stranger_gets_404_and_submits_nothing(bob_client, quiz_run):
    response = bob_client.post(submit_url(quiz_run), {"c0.q0": "108 degrees", "c0.q1": "720"})
    assert response.status_code == 404
    quiz_run.refresh_from_db()
    assert quiz_run.status == "requires_action" and not QuizAttempt.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(client, quiz_run):
    response = client.post(submit_url(quiz_run), {"c0.q0": "108 degrees"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_parallel_calls_get_one_form_each_and_are_answered_together(alice_client, quiz_thread, quiz_tutor, no_dispatch):
    quiz_tutor.tools = [*quiz_tutor.tools, {"type": "function", "function": WEATHER}]
    quiz_tutor.save()
    run = waiting_run(quiz_thread, ("c_w", "get_weather", '{"city": "Paris", "unit": "celsius"}'), ("c_q", "display_quiz", json.dumps(QUIZ)))
    page = alice_client.get(reverse("chat:thread", args=[quiz_thread.id])).content.decode()
    assert 'value="Paris"' in page and '<option value="celsius" selected>' in page and "The city name" in page
    response = alice_client.post(submit_url(run), {
        "c0.city": "Paris", "c0.unit": "fahrenheit", "c0.days": "", "c1.q0": "72 degrees", "c1.q1": "540",
    })
    assert response.status_code == 302
    entries = {e["id"]: e["function"]["output"] for e in run.steps.get().step_details["tool_calls"]}
    assert json.loads(entries["c_w"]) == {"city": "Paris", "unit": "fahrenheit"}
    assert json.loads(entries["c_q"])[0]["answer"] == "72 degrees"


def test_a_generated_form_checks_values_against_the_schema(alice_client, quiz_thread, quiz_tutor):
    quiz_tutor.tools = [{"type": "function", "function": WEATHER}]
    quiz_tutor.save()
    run = waiting_run(quiz_thread, ("c_w", "get_weather", '{"city": "Paris"}'))
    response = alice_client.post(submit_url(run), {"c0.city": "", "c0.days": "30"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in html and "30 is greater than the maximum of 7" in html
    response = alice_client.post(submit_url(run), {"c0.city": "Rome", "c0.days": "two"})
    assertContains(response, "Enter a whole number.", status_code=400)
    run.refresh_from_db()
    assert run.status == "requires_action"


def test_the_raw_json_editor_covers_schemas_a_form_cannot_express(alice_client, quiz_thread, quiz_tutor, no_dispatch):
    schema = {"type": "object", "properties": {"shape": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
              "points": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "number"}}}}}, "required": ["shape"]}
    quiz_tutor.tools = [{"type": "function", "function": {"name": "draw", "parameters": schema}}]
    quiz_tutor.save()
    run = waiting_run(quiz_thread, ("c_d", "draw", '{"shape": 3}'))
    page = alice_client.get(reverse("chat:thread", args=[quiz_thread.id])).content.decode()
    assert "too complex for form fields" in page and 'name="c0.shape"' in page and 'name="c0.__raw__"' in page
    response = alice_client.post(submit_url(run), {"c0.shape": "", "c0.points": "", "c0.__raw__": '{"shape": []}'})
    assertContains(response, "At shape", status_code=400)
    response = alice_client.post(submit_url(run), {"c0.shape": '"circle"', "c0.points": '[{"x": 1.5}]', "c0.__raw__": ""})
    assert response.status_code == 302
    assert json.loads(run.steps.get().step_details["tool_calls"][0]["function"]["output"]) == {"shape": "circle", "points": [{"x": 1.5}]}


def test_nested_objects_booleans_and_arrays_become_fields(alice_client, quiz_thread, quiz_tutor, no_dispatch):
    schema = {"type": "object", "properties": {
        "student": {"type": "object", "description": "Who", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name"]},
        "passed": {"type": "boolean"},
        "scores": {"type": "array", "items": {"type": "number"}},
        "tags": {"type": "array", "items": {"enum": ["algebra", "geometry"]}},
    }, "required": ["student"]}
    quiz_tutor.tools = [{"type": "function", "function": {"name": "record", "parameters": schema}}]
    quiz_tutor.save()
    run = waiting_run(quiz_thread, ("c_r", "record", "{}"))
    page = alice_client.get(reverse("chat:thread", args=[quiz_thread.id])).content.decode()
    assert "<legend>Student" in page and 'type="checkbox" id="f-c0-passed"' in page and "One value per line." in page
    response = alice_client.post(submit_url(run), {
        "c0.student.name": "Ada", "c0.student.age": "12", "c0.passed": "on", "c0.scores": "9.5\n7", "c0.tags": ["geometry"],
    })
    assert response.status_code == 302
    output = json.loads(run.steps.get().step_details["tool_calls"][0]["function"]["output"])
    assert output == {"student": {"name": "Ada", "age": 12}, "passed": True, "scores": [9.5, 7], "tags": ["geometry"]}


def test_an_expired_run_shows_the_form_disabled_with_a_note(alice_client, quiz_run):
    Run.objects.filter(pk=quiz_run.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    recovery.recover()
    page = alice_client.get(reverse("chat:thread", args=[quiz_run.thread_id])).content.decode()
    assert "This quiz expired" in page and "<fieldset class=\"tool-outputs__calls\" disabled>" in page
    assert "Submit answers" not in page
    response = alice_client.post(submit_url(quiz_run), {"c0.q0": "108 degrees", "c0.q1": "720"})
    assertContains(response, "it is expired", status_code=409)


def test_cancelling_instead_of_answering_disables_the_form(alice_client, quiz_run):
    response = alice_client.post(reverse("chat:run_cancel", args=[quiz_run.thread_id, quiz_run.id]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="pending-action" class="pending-action" hx-swap-oob="true"' in html
    assert "You cancelled this quiz" in html and "disabled" in html
    quiz_run.refresh_from_db()
    assert quiz_run.status == "cancelled"


def test_the_live_run_panel_carries_the_forms_out_of_band(quiz_run):
    html = live.render_run_panel(quiz_run.thread)
    assert 'id="pending-action" class="pending-action" hx-swap-oob="true"' in html and 'name="c0.q1"' in html


def test_a_thread_with_no_pending_calls_has_an_empty_pending_area(alice_client, thread):
    response = alice_client.get(reverse("chat:thread", args=[thread.id]))
    assertContains(response, 'id="pending-action"')
    assertNotContains(response, "tool-outputs")


def test_calls_sent_back_for_bad_arguments_are_explained_next_to_the_form(alice_client, quiz_run):
    step = quiz_run.steps.get()
    step.step_details["tool_calls"].append({"id": "c_bad", "type": "function", "function": {
        "name": "display_quiz", "arguments": "{", "output": json.dumps({"error": "The arguments for display_quiz are not valid JSON (x).", "invalid_arguments": True})}})
    step.save()
    page = alice_client.get(reverse("chat:thread", args=[quiz_run.thread_id])).content.decode()
    assert "was sent back to it: The arguments for display_quiz are not valid JSON" in page
    assert "Sent back to the assistant:" in page  # and in the step itself


def test_cancel_run_keeps_the_calls_visible_for_the_disabled_form(quiz_run):
    cancel_run(quiz_run)
    html = live.render_run_panel(quiz_run.thread)
    assert "You cancelled this quiz" in html and 'name="c0.q0"' in html


def test_a_waiting_quiz_is_stopped_from_one_button_its_own(alice_client, quiz_run):
    """Not three at once (the quiz's, the composer's and the run panel's): the quiz's "Stop instead"."""
    html = alice_client.get(reverse("chat:thread", args=[quiz_run.thread_id])).content.decode()
    cancel_url = reverse("chat:run_cancel", args=[quiz_run.thread_id, quiz_run.id])
    stops = re.findall(r'<button[^>]*(?:hx-post|formaction)="' + re.escape(cancel_url) + r'"[^>]*>([^<]*)</button>', html)
    stops += re.findall(r'<form[^>]*action="' + re.escape(cancel_url) + r'"[^<]*>.*?<button[^>]*>([^<]*)</button>', html, re.S)
    assert stops == ["Stop instead"], stops
    assertContains(alice_client.get(reverse("chat:thread", args=[quiz_run.thread_id])), "Waiting for your answers")
