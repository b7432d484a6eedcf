"""An SSE stream announces a message's step as completed only after the message itself,
even when the answer ends between the stream's reads of the rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from chat.api import streaming
from chat.models import Message, RunStep
from chat.services.messages import post_message

pytestmark = pytest.mark.django_db


def _answer_being_written(thread, tutor):
    _, run = post_message(thread, "go", tutor, start=False)
    message = Message.objects.create(
        thread_id=thread.id, role=Message.ASSISTANT, content=Message.text_content("Half"),
        status=Message.IN_PROGRESS, assistant_id=run.assistant_id, run=run,
    )
    step = RunStep.objects.create(
        run=run, type=RunStep.MESSAGE_CREATION,
        step_details={"type": "message_creation", "message_creation": {"message_id": message.id}},
    )
    return run, message, step


def _finish_after_first_read_of(tables, message, step):
    """An execute wrapper: right after the stream's first read of the steps or messages,
    the engine ends the answer as it does (the message, then its step)."""
    done = []

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not done and sql.lstrip().upper().startswith("SELECT") and any(f'FROM "{t}"' in sql for t in tables):
            done.append(sql)
            Message.objects.filter(pk=message.pk).update(
                content=Message.text_content("Half done."), status=Message.COMPLETED, completed_at=timezone.now()
            )
            RunStep.objects.filter(pk=step.pk).update(status=RunStep.COMPLETED, completed_at=timezone.now())
        return result

    return wrapper


def test_a_step_is_never_announced_completed_before_its_message(thread, tutor):
    run, message, step = _answer_being_written(thread, tutor)
    tracker = streaming.RunEvents(run.id)
    tracker.opening(run)
    first, _ = tracker.reconcile()  # the answer so far: created, in progress, "Half"
    assert ("thread.message.delta" in [e for e, _ in first]) and "thread.run.step.completed" not in [e for e, _ in first]
    tables = (RunStep._meta.db_table, Message._meta.db_table)
    with connection.execute_wrapper(_finish_after_first_read_of(tables, message, step)):
        events, _ = tracker.reconcile()
    assert Message.objects.get(pk=message.pk).status == Message.COMPLETED
    names = [e for e, _ in events]
    if "thread.run.step.completed" in names:
        assert "thread.message.completed" in names
        assert names.index("thread.message.completed") < names.index("thread.run.step.completed"), names
    # Whatever this read missed, the next one finishes in order.
    later, _ = tracker.reconcile()
    names += [e for e, _ in later]
    assert names.count("thread.message.completed") == 1 and names.count("thread.run.step.completed") == 1
    assert names.index("thread.message.completed") < names.index("thread.run.step.completed"), names
