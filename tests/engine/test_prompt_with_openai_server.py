"""What a real model server receives: the run's tool_choice and parallel_tool_calls, the
thread's earlier tool calls and outputs, a prompt truncated to the model's context window,
and tool-call ids that are never repeated — checked on the requests a local server
speaking the Chat Completions wire format recorded."""

import json

import pytest
from asgiref.sync import sync_to_async

from chat import tokens
from chat.engine import executor
from chat.engine.prompt import answer_reserve
from chat.engine.runs import create_run, submit_tool_outputs
from chat.models import Message, Run, RunStep
from chat.services.messages import post_message

pytestmark = [pytest.mark.django_db(transaction=True)]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
MODEL = "llama3.2"


@pytest.fixture
def remote_tutor(settings, fake_openai, tutor):
    settings.OPENAI_BASE_URL = fake_openai.base_url
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MAX_RETRIES = 0
    tutor.model = MODEL
    tutor.tools = [WEATHER]
    tutor.save()
    return tutor


async def ask(thread, assistant, text, **overrides):
    if overrides:
        await sync_to_async(Message.objects.create)(thread=thread, role=Message.USER, content=Message.text_content(text))
        run = await sync_to_async(create_run)(thread, assistant, start=False, **overrides)
    else:
        _, run = await sync_to_async(post_message)(thread, text, assistant, start=False)
    await executor.execute(run.id)
    return await sync_to_async(Run.objects.get)(pk=run.id)


async def answer_calls(run, output="22°C and sunny"):
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": c["id"], "output": output} for c in calls], start=False)
    await executor.execute(run.id)
    return await sync_to_async(Run.objects.get)(pk=run.id)


def call_ids(run) -> list[str]:
    return [c["id"] for c in run.required_action["submit_tool_outputs"]["tool_calls"]]


# --- tool_choice and parallel_tool_calls ------------------------------------------------------


async def test_a_named_function_and_parallel_tool_calls_false_are_sent_to_the_server(fake_openai, thread, remote_tutor):
    choice = {"type": "function", "function": {"name": "get_weather"}}
    await ask(thread, remote_tutor, "Weather in Paris?", tool_choice=choice, parallel_tool_calls=False)
    sent = fake_openai.chat_requests[0]
    assert sent["tool_choice"] == choice
    assert sent["parallel_tool_calls"] is False


@pytest.mark.parametrize("choice", ["none", "auto", "required"])
async def test_a_string_tool_choice_is_sent_as_it_is(fake_openai, thread, remote_tutor, choice):
    await ask(thread, remote_tutor, "Weather in Paris?", tool_choice=choice)
    assert fake_openai.chat_requests[0]["tool_choice"] == choice
    assert "parallel_tool_calls" not in fake_openai.chat_requests[0]  # the default is not spelt out


async def test_a_forced_hosted_tool_is_named_as_the_function_the_server_sees(fake_openai, thread, remote_tutor):
    remote_tutor.tools = [WEATHER, {"type": "code_interpreter"}]
    await sync_to_async(remote_tutor.save)()
    await ask(thread, remote_tutor, "What is 2**100?", tool_choice={"type": "code_interpreter"})
    sent = fake_openai.chat_requests[0]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "code_interpreter"}}
    assert "code_interpreter" in [t["function"]["name"] for t in sent["tools"]]


async def test_required_holds_until_the_model_has_called_a_tool_then_it_may_answer(fake_openai, thread, remote_tutor):
    fake_openai.script(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    fake_openai.script(text="It is 22°C and sunny in Paris.")
    run = await ask(thread, remote_tutor, "Weather in Paris?", tool_choice="required")
    run = await answer_calls(run)
    assert run.status == "completed"
    assert [r["tool_choice"] for r in fake_openai.chat_requests] == ["required", "auto"]


async def test_extra_calls_from_a_server_that_ignores_parallel_tool_calls_false_are_dropped(fake_openai, thread, remote_tutor):
    fake_openai.script(
        tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather", "arguments": {"city": "Oslo"}}]
    )
    run = await ask(thread, remote_tutor, "Weather in Paris and Oslo?", parallel_tool_calls=False)
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"city": "Paris"}]


# --- tool-call ids ----------------------------------------------------------------------------


async def test_a_repeated_or_empty_tool_call_id_from_the_server_is_replaced_and_used_consistently(
    fake_openai, thread, remote_tutor
):
    fake_openai.script(
        tool_calls=[
            {"id": "call_0", "name": "get_weather", "arguments": {"city": "Paris"}},
            {"id": "call_0", "name": "get_weather", "arguments": {"city": "Oslo"}},
            {"id": "", "name": "get_weather", "arguments": {"city": "Rome"}},
        ]
    )
    fake_openai.script(text="Sunny everywhere.")
    first = await ask(thread, remote_tutor, "Weather in Paris, Oslo and Rome?")
    ids = call_ids(first)
    assert ids[0] == "call_0" and len(set(ids)) == 3 and all(i.startswith("call_") and len(i) == 29 for i in ids[1:])
    first = await answer_calls(first)
    # The next turn shows the server the calls under the ids the outputs answer.
    resumed = fake_openai.chat_requests[1]["messages"]
    shown = next(m for m in resumed if m.get("tool_calls"))
    assert [c["id"] for c in shown["tool_calls"]] == ids
    assert [m["tool_call_id"] for m in resumed if m["role"] == "tool"] == ids

    # A later run whose server numbers its calls from call_0 again gets a fresh id too.
    fake_openai.script(tool_calls=[{"id": "call_0", "name": "get_weather", "arguments": {"city": "Lima"}}])
    second = await ask(thread, remote_tutor, "And in Lima?")
    assert call_ids(second)[0] not in ids
    steps = await sync_to_async(list)(RunStep.objects.filter(run__thread=thread, type="tool_calls"))
    every_id = [entry["id"] for step in steps for entry in step.step_details["tool_calls"]]
    assert len(every_id) == len(set(every_id)) == 4


# --- earlier runs in the prompt ---------------------------------------------------------------


async def test_earlier_runs_tool_calls_and_outputs_are_in_a_later_runs_prompt_in_order(fake_openai, thread, remote_tutor):
    fake_openai.script(tool_calls=[{"id": "call_paris", "name": "get_weather", "arguments": {"city": "Paris"}}])
    fake_openai.script(text="It is 22°C and sunny in Paris.")
    first = await ask(thread, remote_tutor, "Weather in Paris?")
    await answer_calls(first)
    fake_openai.script(text="Yes, take sunglasses.")
    await ask(thread, remote_tutor, "Should I take sunglasses?")
    sent = fake_openai.chat_requests[-1]["messages"]
    assert sent == [
        {"role": "system", "content": remote_tutor.instructions},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_paris", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_paris", "content": "22°C and sunny"},
        {"role": "assistant", "content": "It is 22°C and sunny in Paris."},
        {"role": "user", "content": "Should I take sunglasses?"},
    ]


async def test_a_cancelled_earlier_call_is_shown_with_a_note_instead_of_no_output(fake_openai, thread, remote_tutor):
    from chat.engine.runs import cancel_run

    fake_openai.script(tool_calls=[{"id": "call_x", "name": "get_weather", "arguments": {"city": "Paris"}}])
    first = await ask(thread, remote_tutor, "Weather in Paris?")
    await sync_to_async(cancel_run)(first)
    fake_openai.script(text="Hello.")
    await ask(thread, remote_tutor, "Never mind. Hello!")
    sent = fake_openai.chat_requests[-1]["messages"]
    output = next(m for m in sent if m["role"] == "tool")
    assert output["tool_call_id"] == "call_x" and "no output" in output["content"]


# --- truncation to the context window --------------------------------------------------------


def prompt_size(request) -> int:
    return tokens.prompt_tokens(request["messages"], MODEL, request.get("tools"))


async def test_truncation_drops_the_oldest_turns_to_fit_a_small_configured_window(
    settings, fake_openai, thread, remote_tutor
):
    settings.MODEL_CONTEXT_WINDOWS = {"llama3*": 1200, "*": 100000}
    padding = " ".join(["photosynthesis"] * 60)
    for turn in range(4):
        fake_openai.script(tool_calls=[{"id": f"call_{turn}", "name": "get_weather", "arguments": {"city": f"City{turn}"}}])
        fake_openai.script(text=f"Answer {turn}: {padding}")
        run = await ask(thread, remote_tutor, f"Question {turn}: {padding}")
        await answer_calls(run, output=f"Output {turn}: {padding}")
    fake_openai.script(text="Done.")
    await ask(thread, remote_tutor, "The last question")
    sent = fake_openai.chat_requests[-1]
    messages = sent["messages"]
    assert prompt_size(sent) <= 1200 - answer_reserve(1200, None)
    assert messages[0] == {"role": "system", "content": remote_tutor.instructions}
    assert messages[-1] == {"role": "user", "content": "The last question"}
    assert not any("Question 0" in (m.get("content") or "") for m in messages)  # the oldest went first
    assert any("Answer 3" in (m.get("content") or "") for m in messages)  # the newest stayed
    # No tool call is separated from its output.
    calls = [c["id"] for m in messages for c in m.get("tool_calls") or ()]
    outputs = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    assert calls == outputs
    for index, message in enumerate(messages):
        if message["role"] == "tool":
            assert messages[index - 1]["role"] == "tool" or messages[index - 1].get("tool_calls")


async def test_max_prompt_tokens_is_counted_with_the_same_tokenizer(settings, fake_openai, thread, remote_tutor):
    # Numbers cost more tokens than a characters/4 estimate says.
    padding = " ".join(f"{n * 7919:07d}" for n in range(80))
    for turn in range(3):
        fake_openai.script(text=f"Answer {turn}: {padding}")
        await ask(thread, remote_tutor, f"Question {turn}: {padding}")
    fake_openai.script(text="Done.")
    await ask(thread, remote_tutor, "The last question", max_prompt_tokens=400)
    sent = fake_openai.chat_requests[-1]
    assert prompt_size(sent) <= 400
    assert sent["messages"][-1]["content"] == "The last question" and len(sent["messages"]) < 8


async def test_a_message_too_long_for_the_window_fails_the_run_with_invalid_prompt(settings, fake_openai, thread, remote_tutor):
    settings.MODEL_CONTEXT_WINDOWS = {MODEL: 600}
    run = await ask(thread, remote_tutor, " ".join(["mitochondria"] * 800))
    assert run.status == "failed" and run.last_error["code"] == "invalid_prompt"
    assert "context window" in run.last_error["message"]
    assert fake_openai.chat_requests == []


async def test_last_messages_counts_thread_messages_and_keeps_the_tool_calls_between_them(fake_openai, thread, remote_tutor):
    for city in ("Paris", "Oslo"):
        fake_openai.script(tool_calls=[{"id": f"call_{city}", "name": "get_weather", "arguments": {"city": city}}])
        fake_openai.script(text=f"Sunny in {city}.")
        run = await ask(thread, remote_tutor, f"Weather in {city}?")
        await answer_calls(run)
    fake_openai.script(text="Done.")
    await ask(thread, remote_tutor, "Thanks!", truncation_strategy={"type": "last_messages", "last_messages": 3})
    sent = fake_openai.chat_requests[-1]["messages"]
    assert [(m["role"], m.get("content")) for m in sent] == [
        ("system", remote_tutor.instructions),
        ("user", "Weather in Oslo?"),
        ("assistant", None),
        ("tool", "22°C and sunny"),
        ("assistant", "Sunny in Oslo."),
        ("user", "Thanks!"),
    ]
    assert sent[2]["tool_calls"][0]["id"] == "call_Oslo"
