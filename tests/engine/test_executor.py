import asyncio
import os
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chat.engine import dispatch, executor, recovery
from chat.engine.runs import (
    InvalidToolOutputs,
    cancel_run,
    create_run,
    submit_tool_outputs,
)
from chat.models import Message, Run, RunStep
from chat.providers.base import Finish, ProviderError, Usage
from chat.services.messages import post_message
from tests.engine.scripted import ScriptedProvider, call_turn, text_turn, use

pytestmark = [pytest.mark.django_db(transaction=True)]

WALKTHROUGH = "I need to solve the equation `3x + 11 = 14`. Can you help me?"


@sync_to_async
def ask(thread, tutor, text="Hello", **run_fields):
    if run_fields:
        Message.objects.create(thread=thread, role="user", content=Message.text_content(text))
        return None, create_run(thread, tutor, start=False, **run_fields)
    return post_message(thread, text, tutor, start=False)


@sync_to_async
def reload(obj):
    obj.refresh_from_db()
    return obj


@sync_to_async
def answer_of(run) -> Message:
    return Message.objects.filter(run=run, role="assistant").order_by("seq").last()


@sync_to_async
def steps_of(run) -> list[RunStep]:
    return list(RunStep.objects.filter(run=run).order_by("created_at"))


async def test_the_offline_tutor_answers_the_walkthrough_equation(thread, tutor):
    _, run = await ask(thread, tutor, WALKTHROUGH)
    seen = []
    await executor.execute(run.id, listeners=[seen.append])
    run = await reload(run)
    answer = await answer_of(run)
    assert run.status == "completed"
    assert "x = 1" in answer.text
    assert answer.status == "completed" and answer.assistant_id == tutor.id
    assert run.usage["completion_tokens"] > 5 and run.usage["total_tokens"] == sum(
        run.usage[k] for k in ("prompt_tokens", "completion_tokens")
    )
    steps = await steps_of(run)
    assert [(s.type, s.status) for s in steps] == [("message_creation", "completed")]
    assert steps[0].step_details["message_creation"]["message_id"] == answer.id
    assert steps[0].usage["completion_tokens"] == run.usage["completion_tokens"]
    kinds = [e["type"] for e in seen]
    assert kinds[0] == "run.status" and kinds[-1] == "run.status"
    assert kinds.index("message.created") < kinds.index("message.delta") < kinds.index("message.completed")
    deltas = [e for e in seen if e["type"] == "message.delta"]
    # In pieces: with a layer that takes a round trip per send (Redis), the text produced
    # during one send rides the next, so a delta may carry several tokens
    # (test_coalescing: an idle layer gets each token as its own delta).
    assert len(deltas) > 1, "the answer streams in pieces"
    offset = 0
    for delta in deltas:  # contiguous offsets: nothing lost, nothing repeated
        assert delta["offset"] == offset
        offset += len(delta["text"])
    assert "".join(d["text"] for d in deltas) == answer.text


async def test_the_prompt_holds_instructions_and_the_whole_conversation(monkeypatch, thread, tutor):
    provider = ScriptedProvider(text_turn("First."), text_turn("Second."))
    use(monkeypatch, provider)
    _, run = await ask(thread, tutor, "one")
    await executor.execute(run.id)
    _, run = await ask(thread, tutor, "two")
    await executor.execute(run.id)
    messages = provider.requests[1].messages
    assert messages[0] == {"role": "system", "content": tutor.instructions}
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", "one"), ("assistant", "First."), ("user", "two")
    ]


async def test_truncation_keeps_only_the_last_messages(monkeypatch, thread, tutor):
    provider = ScriptedProvider(text_turn("ok"))
    use(monkeypatch, provider)
    for text in ["a", "b", "c"]:
        await sync_to_async(Message.objects.create)(thread=thread, role="user", content=Message.text_content(text))
    run = await sync_to_async(create_run)(
        thread, tutor, start=False, truncation_strategy={"type": "last_messages", "last_messages": 2}
    )
    await executor.execute(run.id)
    assert [m["content"] for m in provider.requests[0].messages[1:]] == ["b", "c"]


async def test_reaching_max_completion_tokens_ends_incomplete_with_the_partial_answer(thread, tutor):
    _, run = await ask(thread, tutor, WALKTHROUGH, max_completion_tokens=4)
    await executor.execute(run.id)
    run = await reload(run)
    answer = await answer_of(run)
    assert run.status == "incomplete"
    assert run.incomplete_details == {"reason": "max_completion_tokens"}
    assert run.usage["completion_tokens"] == 4
    assert answer.status == "incomplete" and answer.text and answer.incomplete_details == {"reason": "max_tokens"}


async def test_a_prompt_over_max_prompt_tokens_ends_incomplete(thread, tutor):
    _, run = await ask(thread, tutor, "x" * 4000, max_prompt_tokens=50)
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "incomplete"
    assert run.incomplete_details == {"reason": "max_prompt_tokens"}


async def test_a_provider_error_fails_the_run_and_keeps_the_partial_answer(monkeypatch, thread, tutor):
    use(monkeypatch, ScriptedProvider(["Half an ", "answer", ProviderError("upstream exploded", "server_error")]))
    _, run = await ask(thread, tutor)
    await executor.execute(run.id)
    run = await reload(run)
    answer = await answer_of(run)
    assert run.status == "failed" and run.failed_at is not None
    assert run.last_error == {"code": "server_error", "message": "upstream exploded"}
    assert answer.text == "Half an answer" and answer.status == "incomplete"
    assert [s.status for s in await steps_of(run)] == ["failed"]


async def test_a_stream_that_ends_without_finishing_fails_the_run(monkeypatch, thread, tutor):
    use(monkeypatch, ScriptedProvider(["Cut off", Usage(1, 1)]))
    _, run = await ask(thread, tutor)
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "failed"
    assert "ended before" in run.last_error["message"]
    assert (await answer_of(run)).text == "Cut off"


async def test_a_crash_in_our_own_code_fails_the_run_cleanly(monkeypatch, thread, tutor):
    use(monkeypatch, ScriptedProvider(["x", RuntimeError("bug")]))
    _, run = await ask(thread, tutor)
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "failed" and run.last_error["code"] == "server_error"


async def test_an_unknown_remote_model_without_a_server_fails_with_a_clear_error(thread, tutor):
    _, run = await ask(thread, tutor, "hi", model="gpt-4o")
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "failed"
    assert run.last_error["code"] == "invalid_prompt" and "OPENAI_BASE_URL" in run.last_error["message"]


async def test_cancelling_mid_stream_keeps_what_was_written(monkeypatch, thread, tutor):
    provider = ScriptedProvider(text_turn(*["word "] * 200), delay=0.01)
    use(monkeypatch, provider)
    _, run = await ask(thread, tutor)
    dispatch.dispatch(run.id)
    await asyncio.wait_for(provider.started.wait(), 5)
    await asyncio.sleep(0.1)
    run = await reload(run)
    assert await sync_to_async(cancel_run)(run)
    await dispatch.wait_idle()
    run = await reload(run)
    answer = await answer_of(run)
    assert run.status == "cancelled" and run.cancelled_at is not None
    assert answer.status == "incomplete" and answer.incomplete_details == {"reason": "run_cancelled"}
    assert 0 < answer.text.count("word") < 200
    assert [s.status for s in await steps_of(run)] == ["cancelled"]


async def test_answers_are_saved_while_they_stream_and_a_cancel_from_another_process_stops_them(monkeypatch, thread, tutor):
    provider = ScriptedProvider(text_turn(*["word "] * 200), delay=0.01)
    use(monkeypatch, provider)
    _, run = await ask(thread, tutor)
    dispatch.dispatch(run.id)
    await asyncio.wait_for(provider.started.wait(), 5)
    await asyncio.sleep(0.3)  # several RUN_SAVE_INTERVALs (0.05 s in tests)
    saved = await sync_to_async(Message.objects.get)(run_id=run.id)
    assert saved.status == "in_progress" and saved.text.startswith("word ")
    # Another process can only write the status: its interrupt() does not reach this loop.
    await sync_to_async(Run.objects.filter(pk=run.id).update)(status="cancelling")
    await dispatch.wait_idle()
    run = await reload(run)
    answer = await answer_of(run)
    assert run.status == "cancelled"
    assert answer.status == "incomplete" and answer.incomplete_details == {"reason": "run_cancelled"}
    assert saved.text.count("word") <= answer.text.count("word") < 200


async def test_cancelling_a_queued_run_cancels_it_at_once(thread, tutor):
    _, run = await ask(thread, tutor)
    assert await sync_to_async(cancel_run)(run)
    run = await reload(run)
    assert run.status == "cancelled"
    await executor.execute(run.id)  # a late worker must not resurrect it
    assert (await reload(run)).status == "cancelled"


async def test_a_function_call_pauses_the_run_until_outputs_arrive(monkeypatch, thread, tutor):
    tutor.tools = [{"type": "function", "function": {"name": "get_grade", "parameters": {"type": "object"}}}]
    await sync_to_async(tutor.save)()
    provider = ScriptedProvider(
        call_turn(("call_1", "get_grade", '{"student": "alice"}'), ("call_2", "get_grade", '{"student": "bob"}')),
        text_turn("Alice got an A."),
    )
    use(monkeypatch, provider)
    _, run = await ask(thread, tutor, "grades?")
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "requires_action" and run.expires_at > timezone.now()
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("call_1", "get_grade", '{"student": "alice"}'),
        ("call_2", "get_grade", '{"student": "bob"}'),
    ]
    with pytest.raises(InvalidToolOutputs, match="missing call_2"):
        await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": "call_1", "output": "A"}])
    with pytest.raises(InvalidToolOutputs, match="only once"):
        await sync_to_async(submit_tool_outputs)(
            run, [{"tool_call_id": "call_1", "output": "A"}, {"tool_call_id": "call_1", "output": "B"}]
        )
    outputs = [{"tool_call_id": "call_1", "output": "A"}, {"tool_call_id": "call_2", "output": "B"}]
    await sync_to_async(submit_tool_outputs)(run, outputs, start=False)
    assert (await reload(run)).status == "queued"
    with pytest.raises(InvalidToolOutputs):
        await sync_to_async(submit_tool_outputs)(run, outputs)  # a second submission is refused
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "completed" and run.required_action is None
    tail = provider.requests[1].messages[-3:]
    assert tail[0]["role"] == "assistant" and [c["id"] for c in tail[0]["tool_calls"]] == ["call_1", "call_2"]
    assert tail[1:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": "A"},
        {"role": "tool", "tool_call_id": "call_2", "content": "B"},
    ]
    steps = await steps_of(run)
    assert [(s.type, s.status) for s in steps] == [("tool_calls", "completed"), ("message_creation", "completed")]
    assert steps[0].step_details["tool_calls"][1]["function"]["output"] == "B"


async def test_a_call_to_a_tool_that_does_not_exist_is_answered_with_an_error(monkeypatch, thread, tutor):
    provider = ScriptedProvider(call_turn(("call_x", "launch_rockets", "{}")), text_turn("Sorry."))
    use(monkeypatch, provider)
    _, run = await ask(thread, tutor)
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "completed"
    assert "no tool named" in provider.requests[1].messages[-1]["content"]


async def test_orphaned_runs_are_failed_and_expired_runs_expire(thread, tutor, alice):
    from chat.models import Thread

    stale = timezone.now() - timedelta(minutes=5)
    orphan = await sync_to_async(Run.objects.create)(
        thread=thread, assistant=tutor, model="offline", status="in_progress", worker="dead:1", heartbeat_at=stale
    )
    partial = await sync_to_async(Message.objects.create)(
        thread=thread, role="assistant", run=orphan, status="in_progress", content=Message.text_content("so far")
    )
    other = await sync_to_async(Thread.objects.create)(owner=alice)
    waiting = await sync_to_async(Run.objects.create)(
        thread=other, assistant=tutor, model="offline", status="requires_action", expires_at=stale
    )
    await recovery.sweep()
    orphan, waiting, partial = await reload(orphan), await reload(waiting), await reload(partial)
    assert orphan.status == "failed" and "server stopped" in orphan.last_error["message"]
    assert partial.status == "incomplete" and partial.text == "so far"
    assert waiting.status == "expired"


async def test_a_live_worker_keeps_its_run_even_from_a_process_that_starts(thread, tutor):
    """A second process starting on the same database must not fail the first one's runs."""
    fresh = await sync_to_async(Run.objects.create)(
        thread=thread, assistant=tutor, model="offline", status="in_progress", worker="other-host:2:abcd",
        heartbeat_at=timezone.now(),
    )
    await recovery.sweep()
    assert (await reload(fresh)).status == "in_progress"
    await recovery.sweep(startup=True)
    assert (await reload(fresh)).status == "in_progress"


async def test_a_run_whose_process_on_this_machine_is_gone_is_taken_without_waiting(alice, tutor):
    import subprocess

    from chat.models import Thread

    host = dispatch.WORKER_ID.partition(":")[0]
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid no longer exists
    dead, alive = [
        await sync_to_async(Run.objects.create)(
            thread=await sync_to_async(Thread.objects.create)(owner=alice), assistant=tutor, model="offline",
            status="in_progress", worker=f"{host}:{pid}:abcd",
            heartbeat_at=timezone.now(),
        )
        for pid in (gone.pid, os.getppid())
    ]
    await recovery.sweep()
    assert (await reload(dead)).status == "failed"
    assert (await reload(alive)).status == "in_progress"


async def test_runs_executing_longer_than_the_heartbeat_timeout_are_not_taken_by_another_process(
    monkeypatch, settings, alice, tutor
):
    """One heartbeat for all of this process's runs keeps every one of them alive."""
    from chat.models import Thread

    settings.RUN_HEARTBEAT_TIMEOUT = 0.6
    provider = ScriptedProvider(text_turn(*["tick "] * 12), text_turn(*["tock "] * 12), delay=0.15)
    use(monkeypatch, provider)
    runs = []
    for _ in range(2):
        other = await sync_to_async(Thread.objects.create)(owner=alice)
        runs.append((await ask(other, tutor))[1])
    executing = [asyncio.create_task(executor.execute(run.id)) for run in runs]
    await asyncio.sleep(1.2)  # two heartbeat timeouts into the runs
    monkeypatch.setattr(dispatch, "WORKER_ID", "another-process:1")  # its sweep sees our runs as foreign
    await recovery.sweep()
    monkeypatch.undo()
    await asyncio.gather(*executing)
    assert [(await reload(run)).status for run in runs] == ["completed", "completed"]


async def test_startup_recovery_runs_queued_runs_nobody_started(thread, tutor):
    _, run = await ask(thread, tutor, WALKTHROUGH)
    await recovery.sweep(startup=True)
    await dispatch.wait_idle()
    assert (await reload(run)).status == "completed"


async def test_a_finish_reason_of_length_without_a_budget_also_ends_incomplete(monkeypatch, thread, tutor):
    use(monkeypatch, ScriptedProvider(["Too", " long", Usage(3, 2), Finish("length")]))
    _, run = await ask(thread, tutor)
    await executor.execute(run.id)
    run = await reload(run)
    assert run.status == "incomplete" and (await answer_of(run)).text == "Too long"


async def test_a_cancel_from_another_process_after_the_last_save_still_ends_the_answer_cancelled(monkeypatch, settings, thread, tutor):
    settings.RUN_SAVE_INTERVAL = 600  # no periodic save sees it: only the answer's end can
    _, run = await ask(thread, tutor)

    class CancelledElsewhere(ScriptedProvider):
        async def stream(self, request):
            async for item in super().stream(request):
                if isinstance(item, Finish):  # another process cancels as the model finishes
                    await sync_to_async(Run.objects.filter(pk=run.id).update)(status="cancelling")
                yield item

    use(monkeypatch, CancelledElsewhere(text_turn("All ", "done.")))
    await executor.execute(run.id)
    run = await reload(run)
    answer = await answer_of(run)
    assert run.status == "cancelled" and run.usage is None  # the turn's usage is not counted
    assert answer.status == "incomplete" and answer.incomplete_details == {"reason": "run_cancelled"}
    assert answer.text == "All done."
    assert [s.status for s in await steps_of(run)] == ["cancelled"]


async def test_a_conversation_moves_to_the_top_when_its_run_ends(monkeypatch, thread, tutor):
    use(monkeypatch, ScriptedProvider(text_turn("Done.")))
    _, run = await ask(thread, tutor)
    await executor.execute(run.id)
    run, thread = await reload(run), await reload(thread)
    assert run.status == "completed" and thread.updated_at >= run.completed_at


async def test_a_run_queued_again_after_tool_outputs_waits_its_turn_before_a_sweep_resends_it(thread, tutor):
    """The sweep counts a queued run's wait from when it went into the queue: one created
    long ago and queued again just now by its tool outputs was sent to the workers twice."""
    long_ago = timezone.now() - timedelta(minutes=5)
    run = await sync_to_async(Run.objects.create)(
        thread=thread, assistant=tutor, model="offline", status="requires_action", created_at=long_ago,
        queued_at=long_ago, expires_at=timezone.now() + timedelta(minutes=5),
        required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": []}},
    )
    await sync_to_async(run.transition)("queued", expect="requires_action", required_action=None, expires_at=None)
    assert run.id not in await sync_to_async(recovery.unclaimed_queued)(older_than=10)
    assert run.id in await sync_to_async(recovery.unclaimed_queued)(older_than=0)


async def test_a_second_delivery_of_a_run_another_execution_holds_announces_nothing(monkeypatch, thread, tutor):
    """Its executing process numbers the run's events; an unnumbered status from a
    duplicate delivery was one status too many for readers counting them."""
    held = await sync_to_async(Run.objects.create)(
        thread=thread, assistant=tutor, model="offline", status="in_progress", worker="other-host:2:abcd",
        heartbeat_at=timezone.now(),
    )
    announced = []

    async def run_status(self, run, **fields):
        announced.append(run.status)

    monkeypatch.setattr(executor.events.Publisher, "run_status", run_status)
    assert (await executor.execute(held.id)).status == "in_progress"
    assert announced == []
    assert (await reload(held)).worker == "other-host:2:abcd"
