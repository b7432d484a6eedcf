"""The engine end to end through the real openai SDK and a local server speaking the wire format."""

import pytest
from asgiref.sync import sync_to_async

from chat.engine import executor
from chat.models import Message, Run
from chat.services.messages import post_message

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def remote_tutor(settings, fake_openai, tutor):
    settings.OPENAI_BASE_URL = fake_openai.base_url
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MAX_RETRIES = 1
    tutor.model = "llama3.2"
    tutor.save()
    return tutor


async def run_once(thread, assistant, text="Solve 3x + 11 = 14"):
    _, run = await sync_to_async(post_message)(thread, text, assistant, start=False)
    await executor.execute(run.id)
    return await sync_to_async(Run.objects.get)(pk=run.id)


async def test_a_remote_model_streams_its_answer_into_the_thread(fake_openai, thread, remote_tutor):
    fake_openai.script(text="Subtract 11, then divide by 3: x = 1.", usage={"prompt_tokens": 31, "completion_tokens": 12})
    run = await run_once(thread, remote_tutor)
    answer = await sync_to_async(Message.objects.get)(run=run)
    assert run.status == "completed"
    assert answer.text == "Subtract 11, then divide by 3: x = 1."
    assert run.usage == {"prompt_tokens": 31, "completion_tokens": 12, "total_tokens": 43}
    sent = fake_openai.chat_requests[0]
    assert sent["model"] == "llama3.2" and sent["stream"] is True
    assert sent["messages"][0] == {"role": "system", "content": remote_tutor.instructions}
    assert sent["messages"][-1] == {"role": "user", "content": "Solve 3x + 11 = 14"}


async def test_a_server_error_fails_the_run_with_last_error(fake_openai, thread, remote_tutor):
    fake_openai.script(status=500, message="GPU on fire", times=None)
    run = await run_once(thread, remote_tutor)
    assert run.status == "failed"
    assert run.last_error["code"] == "server_error"


async def test_a_malformed_stream_fails_the_run_and_keeps_the_partial_text(fake_openai, thread, remote_tutor):
    fake_openai.script(text="Partial answer here and more", drop_after=3)
    run = await run_once(thread, remote_tutor)
    answer = await sync_to_async(Message.objects.get)(run=run)
    assert run.status == "failed" and "malformed" in run.last_error["message"]
    assert answer.text and "Partial answer here and more".startswith(answer.text) and answer.status == "incomplete"


async def test_a_rate_limited_model_fails_with_rate_limit_exceeded(fake_openai, thread, remote_tutor):
    fake_openai.script(status=429, message="slow down", times=None)
    run = await run_once(thread, remote_tutor)
    assert run.status == "failed" and run.last_error["code"] == "rate_limit_exceeded"
    assert len(fake_openai.chat_requests) == 2  # one retry


async def test_parallel_function_calls_from_a_remote_model_pause_the_run(fake_openai, thread, remote_tutor):
    remote_tutor.tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
    ]
    await sync_to_async(remote_tutor.save)()
    fake_openai.script(
        tool_calls=[
            {"name": "get_weather", "arguments": {"city": "Paris"}},
            {"name": "get_weather", "arguments": {"city": "Oslo"}},
        ]
    )
    run = await run_once(thread, remote_tutor, "Weather in Paris and Oslo?")
    assert run.status == "requires_action"
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == ['{"city": "Paris"}', '{"city": "Oslo"}'] or [
        c["function"]["arguments"].replace(" ", "") for c in calls
    ] == ['{"city":"Paris"}', '{"city":"Oslo"}']
    assert fake_openai.chat_requests[0]["tools"][0]["function"]["name"] == "get_weather"
