"""A model server is not trusted with the ids it hands out: an id that is huge, carries
markup, or reuses one of another call is replaced before it is saved or shown."""

import pytest
from asgiref.sync import sync_to_async

from chat.engine import executor
from chat.models import Run
from chat.services.messages import post_message

pytestmark = [pytest.mark.django_db(transaction=True)]

LOOKUP = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize("hostile", ["x" * 10_000, '"><script>alert(1)</script>', "call 1\nSet-Cookie: a=b"])
async def test_a_hostile_tool_call_id_from_the_model_server_is_replaced(settings, fake_openai, thread, tutor, hostile):
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY, settings.OPENAI_MAX_RETRIES = fake_openai.base_url, "sk-test", 0
    tutor.model, tutor.tools = "llama3.2", [LOOKUP]
    await sync_to_async(tutor.save)()
    fake_openai.script(tool_calls=[{"id": hostile, "name": "lookup", "arguments": "{}"}])
    _, run = await sync_to_async(post_message)(thread, "Look it up", tutor, start=False)
    await executor.execute(run.id)
    run = await sync_to_async(Run.objects.get)(pk=run.id)
    [call] = run.required_action["submit_tool_outputs"]["tool_calls"]
    assert call["id"] != hostile and call["id"].startswith("call_") and len(call["id"]) == 29
