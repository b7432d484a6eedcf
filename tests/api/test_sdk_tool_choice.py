"""tool_choice, parallel_tool_calls and tool-call ids through the official SDK, answered by
the offline model on a live server."""

from __future__ import annotations

import re

import pytest

from tests.api.test_sdk import WEATHER, make_tutor

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current local time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def start(sdk, text, tools=(WEATHER,), **options):
    assistant = make_tutor(sdk, tools=list(tools))
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": text}])
    run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, **options)
    return thread, run


def answer(sdk, thread, run, output="22°C and sunny"):
    calls = run.required_action.submit_tool_outputs.tool_calls
    return sdk.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": c.id, "output": output} for c in calls]
    )


def tool_steps(sdk, thread, run):
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc").data
    return [s for s in steps if s.type == "tool_calls"]


def test_tool_choice_none_answers_in_text_and_says_a_tool_was_needed(sdk):
    thread, run = start(sdk, "What is the weather in Paris?", tool_choice="none")
    assert run.status == "completed" and run.tool_choice == "none"
    assert tool_steps(sdk, thread, run) == []
    text = sdk.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0].content[0].text.value
    assert "get_weather" in text and "tool_choice" in text


def test_tool_choice_none_still_answers_what_needs_no_tool(sdk):
    thread, run = start(sdk, "Solve 3x + 11 = 14", tool_choice="none")
    assert run.status == "completed"
    assert "x = 1" in sdk.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0].content[0].text.value


def test_tool_choice_required_calls_a_tool_even_for_a_greeting(sdk):
    thread, run = start(sdk, "Hello!", tool_choice="required")
    assert run.status == "requires_action"
    assert [c.function.name for c in run.required_action.submit_tool_outputs.tool_calls] == ["get_weather"]
    # Once it has called one, the model may answer.
    assert answer(sdk, thread, run).status == "completed"


def test_a_named_function_is_the_one_called(sdk):
    thread, run = start(
        sdk, "What is the weather in Paris?", tools=(WEATHER, CLOCK), tool_choice={"type": "function", "function": {"name": "get_time"}}
    )
    assert run.status == "requires_action"
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, c.function.arguments) for c in calls] == [("get_time", '{"city": "Paris"}')]


def test_parallel_calls_share_a_step_unless_parallel_tool_calls_is_false(sdk):
    thread, run = start(sdk, "What is the weather in Paris and Oslo?")
    assert [c.function.arguments for c in run.required_action.submit_tool_outputs.tool_calls] == [
        '{"city": "Paris"}',
        '{"city": "Oslo"}',
    ]

    thread, run = start(sdk, "What is the weather in Paris and Oslo?", parallel_tool_calls=False)
    asked = []
    while run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        assert len(calls) == 1
        asked.append(calls[0].function.arguments)
        run = answer(sdk, thread, run)
    assert run.status == "completed" and run.parallel_tool_calls is False
    assert asked == ['{"city": "Paris"}', '{"city": "Oslo"}']
    assert [len(s.step_details.tool_calls) for s in tool_steps(sdk, thread, run)] == [1, 1]


def test_tool_call_ids_are_unique_across_runs_threads_and_users(sdk, bob_sdk):
    seen = []
    thread, run = start(sdk, "What is the weather in Paris and Oslo?")
    seen += [c.id for c in run.required_action.submit_tool_outputs.tool_calls]
    answer(sdk, thread, run)
    sdk.beta.threads.messages.create(thread_id=thread.id, role="user", content="What is the weather in Paris and Oslo?")
    again = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=run.assistant_id)
    seen += [c.id for c in again.required_action.submit_tool_outputs.tool_calls]
    for client in (sdk, bob_sdk):
        _, other = start(client, "What is the weather in Paris and Oslo?")
        seen += [c.id for c in other.required_action.submit_tool_outputs.tool_calls]
    assert len(seen) == 8 and len(set(seen)) == 8
    assert all(re.fullmatch(r"call_[A-Za-z0-9]{24}", call_id) for call_id in seen)
