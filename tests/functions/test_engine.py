"""The engine side of function calling: pausing, bad arguments, cancel and expiry."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chat.engine import executor, recovery
from chat.engine.runs import InvalidToolOutputs, cancel_run, submit_tool_outputs
from chat.functions import quizzes
from chat.functions.models import QuizAttempt
from chat.models import Message, Run, RunStep
from chat.providers.base import Finish, Usage
from chat.providers.offline.model import OfflineProvider
from chat.services.messages import post_message
from tests.engine.scripted import ScriptedProvider, call_turn, text_turn, use
from tests.functions.conftest import WEATHER

pytestmark = [pytest.mark.django_db(transaction=True)]

QUIZ_ONLY = {"name": "display_quiz", "parameters": {"type": "object", "properties": {"questions": {"type": "array"}}}}


@sync_to_async
def ask(thread, assistant, text):
    return post_message(thread, text, assistant, start=False)[1]


@sync_to_async
def reload(obj):
    obj.refresh_from_db()
    return obj


@sync_to_async
def tool_step(run) -> RunStep:
    return RunStep.objects.get(run=run, type=RunStep.TOOL_CALLS)


@sync_to_async
def give_functions(assistant, *definitions):
    assistant.tools = [{"type": "function", "function": d} for d in definitions]
    assistant.save()


async def test_parallel_calls_pause_the_run_with_every_call_listed(monkeypatch, thread, tutor, quiz_definition):
    await give_functions(tutor, WEATHER, quiz_definition)
    quiz = json.dumps({"title": "T", "questions": [{"question_text": "2+2?"}]})
    use(monkeypatch, ScriptedProvider(call_turn(("call_a", "get_weather", '{"city": "Paris"}'), ("call_b", "display_quiz", quiz))))
    run = await ask(thread, tutor, "weather and a quiz")
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "requires_action"
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [("call_a", "get_weather"), ("call_b", "display_quiz")]
    step = await tool_step(run)
    assert step.status == "in_progress"
    assert [e["function"]["output"] for e in step.step_details["tool_calls"]] == [None, None]


async def test_arguments_that_are_not_json_go_back_to_the_model_as_an_error(monkeypatch, thread, tutor):
    await give_functions(tutor, WEATHER)
    provider = ScriptedProvider(call_turn(("call_bad", "get_weather", '{"city": "Par')), text_turn("Sorry, let me retry."))
    use(monkeypatch, provider)
    run = await ask(thread, tutor, "weather?")
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "completed"  # nothing left to wait for: the model got the error and answered
    step = await tool_step(run)
    output = json.loads(step.step_details["tool_calls"][0]["function"]["output"])
    assert "not valid JSON" in output["error"] and output["invalid_arguments"] is True
    assert step.status == "completed"
    assert "not valid JSON" in provider.requests[1].messages[-1]["content"]


async def test_arguments_off_schema_are_refused_while_valid_calls_in_the_same_turn_still_pause(monkeypatch, thread, tutor):
    await give_functions(tutor, WEATHER)
    use(monkeypatch, ScriptedProvider(
        call_turn(("call_ok", "get_weather", '{"city": "Oslo"}'), ("call_off", "get_weather", '{"unit": "kelvin"}')),
        text_turn("Done."),
    ))
    run = await ask(thread, tutor, "weather?")
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "requires_action"
    assert [c["id"] for c in run.required_action["submit_tool_outputs"]["tool_calls"]] == ["call_ok"]
    step = await tool_step(run)
    entries = {e["id"]: e["function"]["output"] for e in step.step_details["tool_calls"]}
    assert entries["call_ok"] is None
    assert "do not match its parameters" in json.loads(entries["call_off"])["error"]
    await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": "call_ok", "output": "12 °C"}], start=False)
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "completed"
    step = await reload(step)
    entries = {e["id"]: e["function"]["output"] for e in step.step_details["tool_calls"]}
    assert entries["call_ok"] == "12 °C" and "error" in entries["call_off"]


async def test_a_partial_or_repeated_submission_is_refused(monkeypatch, thread, tutor):
    await give_functions(tutor, WEATHER)
    use(monkeypatch, ScriptedProvider(call_turn(("c1", "get_weather", '{"city": "A"}'), ("c2", "get_weather", '{"city": "B"}'))))
    run = await ask(thread, tutor, "weather?")
    await executor.execute(run.id)
    run = await reload(run)
    with pytest.raises(InvalidToolOutputs, match="missing c2"):
        await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": "c1", "output": "sun"}])
    assert (await reload(run)).status == "requires_action"


async def test_cancelling_while_waiting_cancels_the_run_and_its_step(monkeypatch, thread, tutor):
    await give_functions(tutor, WEATHER)
    use(monkeypatch, ScriptedProvider(call_turn(("c1", "get_weather", '{"city": "A"}'))))
    run = await ask(thread, tutor, "weather?")
    await executor.execute(run.id)
    run = await reload(run)
    assert await sync_to_async(cancel_run)(run)
    run = await reload(run)
    assert run.status == "cancelled"
    assert (await tool_step(run)).status == "cancelled"
    with pytest.raises(InvalidToolOutputs):
        await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": "c1", "output": "sun"}])


async def test_a_run_left_waiting_expires_after_the_configured_time(monkeypatch, settings, thread, tutor):
    settings.RUN_REQUIRES_ACTION_TIMEOUT = 60
    await give_functions(tutor, WEATHER)
    use(monkeypatch, ScriptedProvider(call_turn(("c1", "get_weather", '{"city": "A"}'))))
    run = await ask(thread, tutor, "weather?")
    before = timezone.now()
    await executor.execute(run.id)
    run = await reload(run)
    assert timedelta(seconds=55) < run.expires_at - before < timedelta(seconds=65)
    await recovery.sweep()
    assert (await reload(run)).status == "requires_action"  # not yet
    await sync_to_async(Run.objects.filter(pk=run.pk).update)(expires_at=timezone.now() - timedelta(seconds=1))
    await recovery.sweep()
    run = await reload(run)
    assert run.status == "expired"
    assert (await tool_step(run)).status == "expired"
    with pytest.raises(InvalidToolOutputs):
        await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": "c1", "output": "sun"}])


async def test_the_offline_tutor_sets_a_quiz_and_grades_the_answers(quiz_thread, quiz_tutor):
    await sync_to_async(Message.objects.create)(
        thread=quiz_thread, role="user", content=Message.text_content("What is the interior angle of a regular pentagon?")
    )
    run = await ask(quiz_thread, quiz_tutor, "Make a quiz for me")
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "requires_action"
    (call,) = run.required_action["submit_tool_outputs"]["tool_calls"]
    quiz = json.loads(call["function"]["arguments"])
    kinds = [q["question_type"] for q in quiz["questions"]]
    assert "MULTIPLE_CHOICE" in kinds and "FREE_RESPONSE" in kinds
    assert "pentagon" in quiz["questions"][0]["question_text"]
    answers = [{"question_text": q["question_text"], "answer": a} for q, a in zip(quiz["questions"], ["72 degrees", "I don't know"], strict=False)]
    await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": call["id"], "output": json.dumps(answers)}], start=False)
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "completed"
    grading = await sync_to_async(lambda: Message.objects.filter(run=run).order_by("seq").last().text)()
    assert "Not quite" in grading and "108 degrees" in grading and "“72 degrees”" in grading
    # The attempt was recorded at submission and completed by the grading: the score the
    # model reported, not one read from its prose.
    attempt = await sync_to_async(QuizAttempt.objects.get)(run=run)
    assert attempt.answers == answers and attempt.questions == quiz["questions"] and attempt.tool_call_id == call["id"]
    assert attempt.feedback == grading and attempt.graded_at is not None
    assert (attempt.score, attempt.max_score) == (0, 2)


async def test_right_answers_score_full_marks(quiz_thread, quiz_tutor):
    run = await ask(quiz_thread, quiz_tutor, "Give me an algebra quiz: solve equations for x")
    await executor.execute(run.id)
    run = await reload(run)
    (call,) = run.required_action["submit_tool_outputs"]["tool_calls"]
    quiz = json.loads(call["function"]["arguments"])
    # Work each answer out from the question's own text, as a student would.
    solved = [quizzes.solve_question(q["question_text"]) for q in quiz["questions"]]
    answers = [s.shown for s in solved]
    await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": call["id"], "output": json.dumps(answers)}], start=False)
    await executor.execute(run.id)
    attempt = await sync_to_async(QuizAttempt.objects.get)(run=run)
    assert (attempt.score, attempt.max_score) == (2, 2) and "Well done" in attempt.feedback


async def test_the_offline_model_grades_any_quiz_function_it_is_answered_through(monkeypatch, thread, tutor):
    """A tutor's own quiz… function (set by a real model here, scripted): the offline grading
    scores the questions it can work out and reports the score structurally."""
    await give_functions(tutor, {"name": "quiz_polygons", "parameters": {"type": "object", "properties": {"questions": {"type": "array"}}}})
    quiz = {"title": "Polygons", "questions": [
        {"question_text": "What is the sum of the interior angles of a pentagon?"},
        {"question_text": "What is the exterior angle of a regular hexagon?"},
        {"question_text": "Which polygon do you like best?"},
    ]}
    use(monkeypatch, ScriptedProvider(call_turn(("call_p", "quiz_polygons", json.dumps(quiz)))))
    run = await ask(thread, tutor, "quiz me on polygons")
    await executor.execute(run.id)
    run = await reload(run)
    await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": "call_p", "output": json.dumps(["540 degrees", "72", "hexagon"])}], start=False)
    monkeypatch.setattr("chat.engine.executor.get_provider", lambda model: OfflineProvider())
    await executor.execute(run.id)
    attempt = await sync_to_async(QuizAttempt.objects.get)(run=run)
    assert (attempt.score, attempt.max_score) == (1, 2)  # 540 right, 72 wrong (60), the third not checkable
    assert "can't check this one by rule" in attempt.feedback and attempt.function_name == "quiz_polygons"


async def test_a_model_that_grades_in_prose_only_leaves_the_score_empty(monkeypatch, thread, tutor):
    """A score is what the model reports structurally: prose saying "2 of 2" is feedback only."""
    await give_functions(tutor, {"name": "quiz_fractions", "parameters": {"type": "object", "properties": {}}})
    quiz = {"title": "Fractions", "questions": [{"question_text": "What is 1/2 + 1/4?"}]}
    use(monkeypatch, ScriptedProvider(
        call_turn(("call_f", "quiz_fractions", json.dumps(quiz))), text_turn("You got 2 of 2 right. ", "Score: 10/10"),
    ))
    run = await ask(thread, tutor, "quiz me on fractions")
    await executor.execute(run.id)
    run = await reload(run)
    await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": "call_f", "output": '{"answers": ["3/4"]}'}], start=False)
    attempt = await sync_to_async(QuizAttempt.objects.get)(run=run)
    assert attempt.graded_at is None and attempt.function_name == "quiz_fractions" and attempt.title == "Fractions"
    assert attempt.answers == [{"question_text": "What is 1/2 + 1/4?", "answer": "3/4"}]
    await executor.execute(run.id)
    await sync_to_async(attempt.refresh_from_db)()
    assert attempt.feedback == "You got 2 of 2 right. Score: 10/10" and attempt.graded_at is not None
    assert attempt.score is None and attempt.max_score is None


async def test_a_function_that_is_not_a_quiz_records_nothing(monkeypatch, thread, tutor):
    await give_functions(tutor, WEATHER)
    use(monkeypatch, ScriptedProvider(call_turn(("call_w", "get_weather", '{"city": "Oslo"}')), text_turn("Sunny.")))
    run = await ask(thread, tutor, "weather in Oslo")
    await executor.execute(run.id)
    run = await reload(run)
    await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": "call_w", "output": "sunny"}], start=False)
    await executor.execute(run.id)
    assert not await sync_to_async(QuizAttempt.objects.exists)()


async def test_a_reported_score_that_makes_no_sense_is_not_stored(monkeypatch, thread, tutor):
    from chat.providers.base import Grade

    await give_functions(tutor, QUIZ_ONLY)
    quiz = {"title": "Q", "questions": [{"question_text": "What is 2 + 2?"}]}
    use(monkeypatch, ScriptedProvider(
        call_turn(("call_g", "display_quiz", json.dumps(quiz))), ["Great.", Grade("call_g", 5e9, 1e10), Usage(5, 1), Finish("stop")],
    ))
    run = await ask(thread, tutor, "quiz")
    await executor.execute(run.id)
    await sync_to_async(submit_tool_outputs)(await reload(run), [{"tool_call_id": "call_g", "output": '["4"]'}], start=False)
    await executor.execute(run.id)
    attempt = await sync_to_async(QuizAttempt.objects.get)(run=run)
    assert attempt.feedback == "Great." and attempt.score is None and attempt.max_score is None
