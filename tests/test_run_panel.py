"""The run panel a thread's socket keeps up to date (chat.live.RunPanel): each event reads
only the rows it names, and what it renders is exactly what render_run_panel() renders
from the latest run — or nothing, when nothing the panel shows changed."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import live
from chat.engine import states
from chat.engine.runs import cancel_run
from chat.models import Run, RunStep

pytestmark = pytest.mark.django_db


def new_run(thread, tutor, status=states.IN_PROGRESS) -> Run:
    return Run.objects.create(thread=thread, assistant=tutor, model="offline", status=status)


def message_step(run, status=RunStep.IN_PROGRESS) -> RunStep:
    details = {"type": "message_creation", "message_creation": {"message_id": "msg_1"}}
    return RunStep.objects.create(run=run, type=RunStep.MESSAGE_CREATION, status=status, step_details=details)


def update(panel, *, runs=(), steps=()) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as captured:
        html = panel.update(runs, steps)
    return html, len(captured)


def test_each_event_reads_only_the_rows_it_names_and_renders_the_whole_panel(thread, tutor):
    earlier = new_run(thread, tutor, states.COMPLETED)
    panel = live.RunPanel(thread)
    assert panel.render() == live.render_run_panel(thread)

    run = new_run(thread, tutor)  # a new run: it and its steps are read
    html, queries = update(panel, runs=[run.id])
    assert html == live.render_run_panel(thread) and "In progress" in html and queries == 2

    step = message_step(run)  # a step: that step only
    html, queries = update(panel, steps=[step.id])
    assert html == live.render_run_panel(thread) and "Wrote a message" in html and queries == 1

    step.status = RunStep.COMPLETED
    step.save()
    html, queries = update(panel, steps=[step.id])
    assert html == live.render_run_panel(thread) and queries == 1

    Run.objects.filter(pk=run.pk).update(status=states.COMPLETED, usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})
    html, queries = update(panel, runs=[run.id])  # no step open: the steps shown are current
    assert html == live.render_run_panel(thread) and "7 tokens" in html and queries == 1

    assert update(panel, runs=[run.id]) == ("", 1)  # nothing changed: nothing rendered
    assert update(panel, runs=[earlier.id]) == ("", 1)  # an older run's late event


def test_a_cancelled_run_shows_the_steps_it_closed(thread, tutor):
    run = new_run(thread, tutor, states.REQUIRES_ACTION)
    step = message_step(run)
    panel = live.RunPanel(thread)
    panel.render()
    assert cancel_run(run)  # closes the open step, announces only the run
    html, _ = update(panel, runs=[run.id])
    assert html == live.render_run_panel(thread)
    assert f'id="step-{step.id}" class="step step--cancelled"' in html


def test_a_step_of_a_run_not_shown_yet_shows_the_latest_run(thread, tutor):
    new_run(thread, tutor, states.COMPLETED)
    panel = live.RunPanel(thread)
    panel.render()
    step = message_step(new_run(thread, tutor))
    html, _ = update(panel, steps=[step.id])
    assert html == live.render_run_panel(thread) and "In progress" in html
