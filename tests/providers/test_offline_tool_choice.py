"""The offline model follows tool_choice and parallel_tool_calls, for hosted tools too."""

import dataclasses
import json

import pytest

from chat import tools
from chat.providers.base import ModelRequest
from chat.providers.offline.model import compose

pytestmark = [pytest.mark.django_db]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def request(text, *run_tools, **options):
    return ModelRequest(
        model="offline",
        messages=[{"role": "user", "content": text}],
        tools=tools.model_schemas(list(run_tools)),
        enabled_tools=tuple(t["type"] for t in run_tools),
        **options,
    )


def forced(name):
    return {"type": "function", "function": {"name": name}}


def test_required_calls_the_tool_its_rules_pick():
    asked = request("Print the first 10 Fibonacci numbers", WEATHER, {"type": "code_interpreter"}, tool_choice="required")
    reply = compose(asked)
    assert [name for name, _ in reply.tool_calls] == ["code_interpreter"]
    assert "fib" in json.loads(reply.tool_calls[0][1])["code"]


def test_required_with_no_matching_rule_calls_the_first_tool():
    reply = compose(request("Solve 2x = 4", {"type": "code_interpreter"}, WEATHER, tool_choice="required"))
    name, arguments = reply.tool_calls[0]
    assert name == "code_interpreter" and "Solve 2x = 4" in json.loads(arguments)["code"]


def test_a_forced_file_search_searches_for_the_users_message_even_for_an_equation():
    reply = compose(request("Solve 2x = 4", {"type": "file_search"}, tool_choice=forced("file_search")))
    assert reply.tool_calls == (("file_search", json.dumps({"query": "Solve 2x = 4"})),)


def test_a_forced_function_gets_arguments_from_the_message():
    reply = compose(request("I'm off to Lisbon", WEATHER, {"type": "code_interpreter"}, tool_choice=forced("get_weather")))
    assert reply.tool_calls == (("get_weather", json.dumps({"city": "Lisbon"})),)


def test_none_never_calls_a_tool():
    asked = request("Print the first 10 Fibonacci numbers", {"type": "code_interpreter"}, tool_choice="none")
    reply = compose(asked)
    assert not reply.tool_calls and "code_interpreter" in reply.text
    assert compose(dataclasses.replace(asked, tool_choice="auto")).tool_calls


def test_parallel_tool_calls_false_makes_one_call_a_turn():
    asked = request("What is the weather in Paris, Rome and Oslo?", WEATHER)
    assert len(compose(asked).tool_calls) == 3
    assert compose(dataclasses.replace(asked, parallel_tool_calls=False)).tool_calls == (
        ("get_weather", json.dumps({"city": "Paris"})),
    )


def called(call_id):
    call = {"id": call_id, "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def test_after_a_call_it_reports_this_turns_output_not_an_earlier_runs():
    earlier = [
        {"role": "user", "content": "Run my tool"},
        called("call_a"),
        {"role": "tool", "tool_call_id": "call_a", "content": "OLD OUTPUT"},
        {"role": "assistant", "content": "Done."},
    ]
    latest = [
        {"role": "user", "content": "Again"},
        called("call_b"),
        {"role": "tool", "tool_call_id": "call_b", "content": "NEW OUTPUT"},
    ]
    text = compose(ModelRequest(model="offline", messages=earlier + latest)).text
    assert "NEW OUTPUT" in text and "OLD OUTPUT" not in text


@pytest.mark.parametrize("text", ["thanks!", "Thank you so much 🙂", "ok", "great, thanks!", "bye", "hello there!"])
def test_small_talk_gets_a_short_reply_and_no_search_or_code(text):
    reply = compose(request(text, {"type": "file_search"}, {"type": "code_interpreter"}, WEATHER))
    assert not reply.tool_calls and len(reply.text) < 400 and "searched" not in reply.text


def test_small_talk_before_a_question_leaves_the_question_to_the_skills():
    reply = compose(request("thanks, now print the first 10 Fibonacci numbers", {"type": "code_interpreter"}))
    assert reply.tool_calls and reply.tool_calls[0][0] == "code_interpreter"


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("hello there, what is 2+2?", "**Answer:** 4"),
        ("hi, what is the limit of (1+1/n)^n as n goes to infinity?", "**Answer:** e ≈ 2.71828"),
        ("Good morning! Solve 3x + 11 = 14", "**Answer:** x = 1"),
    ],
)
def test_a_greeting_followed_by_a_question_gets_the_answer(text, result):
    reply = compose(request(text))
    assert result in reply.text and "I'm the built-in offline model" not in reply.text


def test_a_greeting_with_nothing_answerable_after_it_says_what_the_model_can_do():
    assert "I'm the built-in offline model" in compose(request("hello, are you there my friend")).text
