"""MODEL_CONTEXT_WINDOWS: parsed strictly, looked up by exact name, then prefix, then "*"."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from chat.engine.prompt import DEFAULT_CONTEXT_WINDOW, answer_reserve, context_window
from project.env import env_int_map


def test_windows_are_read_as_name_number_pairs(monkeypatch):
    monkeypatch.setenv("WINDOWS", " gpt-4o=128000, llama3*=8192 ,*=16384")
    assert env_int_map("WINDOWS", {}) == {"gpt-4o": 128000, "llama3*": 8192, "*": 16384}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("gpt-4o", "not of the form name=number"),
        ("gpt-4o=lots", "not a whole number"),
        ("=8192", "not of the form"),
        ("gpt-4o=100", "must be at least 256"),
        ("a=1000,a=2000", "given twice"),
    ],
)
def test_a_malformed_window_stops_start_up(monkeypatch, raw, problem):
    monkeypatch.setenv("WINDOWS", raw)
    with pytest.raises(ImproperlyConfigured, match=problem):
        env_int_map("WINDOWS", {}, minimum=256)


def test_a_model_gets_its_own_window_then_the_longest_prefix_then_the_default(settings):
    settings.MODEL_CONTEXT_WINDOWS = {"llama3": 8192, "llama*": 4096, "llama3.1*": 131072, "gpt-4o*": 64000, "*": 10000}
    assert context_window("llama3") == 8192
    assert context_window("llama3.1:8b") == 131072
    assert context_window("llama2") == 4096
    assert context_window("gpt-4o-mini") == 64000  # a setting overrides a known window
    assert context_window("gpt-4-turbo") == 128000  # known, and a longer prefix than any set
    assert context_window("qwen2.5") == 10000
    settings.MODEL_CONTEXT_WINDOWS = {}
    assert context_window("llama3.2") == DEFAULT_CONTEXT_WINDOW
    assert context_window("gpt-4o-mini") == 128000 and context_window("gpt-4") == 8192


def test_the_offline_model_has_no_window_unless_one_is_configured(settings):
    settings.MODEL_CONTEXT_WINDOWS = {"*": 4096}
    assert context_window("offline") > 10**9
    settings.MODEL_CONTEXT_WINDOWS = {"offline": 4096}
    assert context_window("offline") == 4096


def test_room_for_the_answer_is_the_completion_budget_up_to_half_the_window():
    assert answer_reserve(8192, None) == 2048
    assert answer_reserve(128000, None) == 4096
    assert answer_reserve(8192, 500) == 500
    assert answer_reserve(8192, 100000) == 4096


@pytest.mark.django_db(transaction=True)
async def test_the_offline_models_prompt_usage_stays_within_max_prompt_tokens(thread, tutor):
    from asgiref.sync import sync_to_async

    from chat.engine import executor
    from chat.engine.runs import create_run
    from chat.models import Message, Run
    from chat.services.messages import post_message

    for n in range(6):
        _, run = await sync_to_async(post_message)(thread, f"Solve {n}x + 3 = {n + 10} " + "please " * 40, tutor, start=False)
        await executor.execute(run.id)
    await sync_to_async(Message.objects.create)(thread=thread, role="user", content=Message.text_content("Solve 2x = 8"))
    run = await sync_to_async(create_run)(thread, tutor, start=False, max_prompt_tokens=300)
    await executor.execute(run.id)
    run = await sync_to_async(Run.objects.get)(pk=run.id)
    assert run.status == "completed"
    assert 0 < run.usage["prompt_tokens"] <= 300
