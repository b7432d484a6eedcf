"""The pending forms arrive over the thread's socket the moment the run pauses, and turn
into a disabled form with a note when it expires."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chat.engine import dispatch, recovery
from chat.models import Run, RunStep
from tests.test_consumers import receive_until, watch_a_run

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_the_quiz_form_arrives_live_and_is_disabled_when_the_run_expires(alice, quiz_thread, quiz_tutor):
    communicator, run = await watch_a_run(quiz_thread, alice, "Make a quiz for me", quiz_tutor)
    frames = await receive_until(communicator, r'name="c0\.q1"')
    html = frames[-1]
    assert 'id="pending-action" class="pending-action" hx-swap-oob="true"' in html
    assert "Waiting for your answer" in "".join(frames) and 'type="radio" name="c0.q0"' in html
    await sync_to_async(Run.objects.filter(pk=run.pk).update)(expires_at=timezone.now() - timedelta(seconds=1))
    await recovery.sweep()
    frames = await receive_until(communicator, r"This quiz expired")
    assert "disabled" in frames[-1] and "Submit answers" not in frames[-1]
    await communicator.disconnect()


async def test_the_runs_next_execution_numbers_its_events_on_so_no_socket_reads_it_again(monkeypatch, alice):
    """After the function's output is submitted the run executes again (here in the same
    process; in a cluster, on any worker): its events continue the run's numbers, so an
    open page sees no gap and reads nothing afresh."""
    from chat.consumers import ThreadConsumer
    from chat.engine.runs import submit_tool_outputs
    from chat.models import Assistant, Thread
    from tests.engine.scripted import ScriptedProvider, call_turn, text_turn, use
    from tests.functions.conftest import WEATHER

    catch_ups = []
    real_catch_up = ThreadConsumer._catch_up_after_gap

    async def counted(self):
        catch_ups.append(self)
        await real_catch_up(self)

    monkeypatch.setattr(ThreadConsumer, "_catch_up_after_gap", counted)
    provider = ScriptedProvider(call_turn(("call_1", "get_weather", '{"city": "Paris"}')), text_turn("Sunny ", "in ", "Paris."), delay=0.01)
    use(monkeypatch, provider)
    weather = await Assistant.objects.acreate(owner=alice, name="Weather", model="offline", tools=[{"type": "function", "function": WEATHER}])
    thread = await Thread.objects.acreate(owner=alice, assistant=weather, title="Weather")
    communicator, run = await watch_a_run(thread, alice, "Weather in Paris?", weather)
    await receive_until(communicator, r'id="run-status".*chip--requires_action')
    await dispatch.wait_idle()
    run = await Run.objects.aget(pk=run.pk)
    step = await RunStep.objects.aget(run_id=run.id, type=RunStep.TOOL_CALLS)
    await sync_to_async(submit_tool_outputs)(run, [{"tool_call_id": "call_1", "output": "sunny"}])
    frames = await receive_until(communicator, r'id="run-status".*chip--completed')
    await dispatch.wait_idle()
    assert "Sunny in Paris." in "".join(frames)
    assert catch_ups == []
    # The tool step the submit completed is announced by the next execution: the panel
    # shows it completed, not still in progress (the steps as last sent: a frame carries
    # only the parts of the panel that changed).
    steps_sent = [frame for frame in frames if 'id="steps"' in frame]
    assert f'id="step-{step.id}" class="step step--completed"' in steps_sent[-1]
    await communicator.disconnect()
