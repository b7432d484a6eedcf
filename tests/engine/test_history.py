"""The prompt's history leaves out a run whose answers were all removed (answered again,
question edited, deleted through /v1): its tool calls and outputs go with its answer.
A run that never answered keeps them."""

from __future__ import annotations

import pytest

from chat.api.models import ApiKey
from chat.engine.prompt import ThreadRows, history
from chat.models import Message, Run, RunStep
from chat.services import messages

pytestmark = [pytest.mark.django_db]

LOGS = "x = 7 (computed by the old run)"


def _tool_step(run: Run, call_id: str) -> RunStep:
    entry = {
        "id": call_id,
        "type": "code_interpreter",
        "code_interpreter": {"input": "print(14 - 7)", "outputs": [{"type": "logs", "logs": LOGS}]},
    }
    return RunStep.objects.create(
        run=run, type=RunStep.TOOL_CALLS, status=RunStep.COMPLETED, step_details={"type": "tool_calls", "tool_calls": [entry]}
    )


def _answer(run: Run, text: str) -> Message:
    message = Message.objects.create(
        thread_id=run.thread_id, role=Message.ASSISTANT, content=Message.text_content(text), assistant_id=run.assistant_id, run=run
    )
    RunStep.objects.create(
        run=run,
        type=RunStep.MESSAGE_CREATION,
        status=RunStep.COMPLETED,
        step_details={"type": "message_creation", "message_creation": {"message_id": message.id}},
    )
    return message


def _run_with_code(thread, tutor, question: str, *, answers: tuple[str, ...] = ("x = 7",), status=Run.Status.COMPLETED) -> Run:
    """A run that ran code for ``question``, then gave ``answers`` (none: it ended first)."""
    run = messages.start_run(thread, tutor, messages=[{"content": Message.text_content(question)}], start=False)
    _tool_step(run, f"call_{run.id[-6:]}")
    for text in answers:
        _answer(run, text)
    Run.objects.filter(pk=run.pk).update(status=status)
    return run


def _prompt(run: Run) -> list[dict]:
    return [m for unit in history(run, ThreadRows.read(run)) for m in unit.messages]


def _tool_outputs(prompt: list[dict]) -> list[str]:
    return [m["content"] for m in prompt if m["role"] == "tool"]


def test_answering_again_leaves_out_the_discarded_answers_tool_calls(thread, tutor):
    _run_with_code(thread, tutor, "Solve 2x = 14 with code.")
    again, removed = messages.regenerate_last_answer(thread, tutor)
    assert removed
    prompt = _prompt(again)
    assert _tool_outputs(prompt) == [] and not any(m.get("tool_calls") for m in prompt)
    assert [m["content"] for m in prompt] == ["Solve 2x = 14 with code."]


def test_an_edited_question_leaves_out_the_old_runs_tool_calls(thread, tutor):
    _run_with_code(thread, tutor, "Solve 2x = 14 with code.")
    _, edited, _ = messages.edit_last_question(thread, "Solve 3x = 21 with code.", tutor)
    assert [m["content"] for m in _prompt(edited)] == ["Solve 3x = 21 with code."]


def test_an_answer_deleted_through_the_api_takes_its_runs_tool_calls_with_it(client, alice, thread, tutor):
    first = _run_with_code(thread, tutor, "Solve 2x = 14 with code.")
    answer = Message.objects.get(run=first)
    key = ApiKey.issue(alice, "tests")[1]
    response = client.delete(f"/v1/threads/{thread.id}/messages/{answer.id}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    later = messages.start_run(thread, tutor, start=False)
    assert _tool_outputs(_prompt(later)) == []


def test_earlier_runs_that_kept_their_answers_keep_their_tool_calls(thread, tutor):
    _run_with_code(thread, tutor, "Solve 2x = 14 with code.")
    _run_with_code(thread, tutor, "Now 5x = 35.")
    again, _ = messages.regenerate_last_answer(thread, tutor)
    prompt = _prompt(again)
    assert _tool_outputs(prompt) == [LOGS]
    assert [m["role"] for m in prompt] == ["user", "assistant", "tool", "assistant", "user"]


def test_a_run_keeps_its_tool_calls_while_one_of_its_answers_remains(client, alice, thread, tutor):
    run = _run_with_code(thread, tutor, "Solve 2x = 14 with code.", answers=("First, x = 7.", "Check: 2 * 7 = 14."))
    first = Message.objects.filter(run=run).order_by("seq").first()
    key = ApiKey.issue(alice, "tests")[1]
    client.delete(f"/v1/threads/{thread.id}/messages/{first.id}", HTTP_AUTHORIZATION=f"Bearer {key}")
    later = messages.start_run(thread, tutor, start=False)
    assert _tool_outputs(_prompt(later)) == [LOGS]


def test_a_run_cancelled_before_answering_keeps_its_tool_calls(thread, tutor):
    _run_with_code(thread, tutor, "Solve 2x = 14 with code.", answers=(), status=Run.Status.CANCELLED)
    later = messages.start_run(thread, tutor, messages=[{"content": Message.text_content("Go on.")}], start=False)
    prompt = _prompt(later)
    assert _tool_outputs(prompt) == [LOGS]
    assert [m["role"] for m in prompt] == ["user", "assistant", "tool", "user"]
