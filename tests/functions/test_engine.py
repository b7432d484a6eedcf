"""The engine side of function calling: pausing, bad arguments, cancel and expiry."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chat.engine import executor, recovery
from chat.engine.runs import InvalidToolOutputs, cancel_run, submit_tool_outputs
from chat.models import Message, Run, RunStep
from chat.services.messages import post_message
from tests.engine.scripted import ScriptedProvider, call_turn, text_turn, use
from tests.functions.conftest import WEATHER

pytestmark = [pytest.mark.django_db(transaction=True)]


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
    answers = [{"question_text": q["question_text"], "answer": a} for q, a in zip(quiz["questions"], ["72 degrees", "I don't know"])]
    await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": call["id"], "output": json.dumps(answers)}], start=False)
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "completed"
    grading = await sync_to_async(lambda: Message.objects.filter(run=run).order_by("seq").last().text)()
    assert "Not quite" in grading and "108 degrees" in grading and "“72 degrees”" in grading
