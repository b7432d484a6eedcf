"""The pending forms arrive over the thread's socket the moment the run pauses, and turn
into a disabled form with a note when it expires."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chat.engine import dispatch, recovery
from chat.models import Run
from chat.services.messages import post_message
from tests.test_consumers import connect, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_the_quiz_form_arrives_live_and_is_disabled_when_the_run_expires(alice, quiz_thread, quiz_tutor):
    communicator, connected, _ = await connect(quiz_thread.id, alice)
    assert connected
    await communicator.receive_from()  # the snapshot
    _, run = await sync_to_async(post_message)(quiz_thread, "Make a quiz for me", quiz_tutor, start=False)
    dispatch.dispatch(run.id)
    frames = await receive_until(communicator, r'name="c0\.q1"')
    html = frames[-1]
    assert 'id="pending-action" class="pending-action" hx-swap-oob="true"' in html
    assert "Waiting for your answer" in "".join(frames) and 'type="radio" name="c0.q0"' in html
    await sync_to_async(Run.objects.filter(pk=run.pk).update)(expires_at=timezone.now() - timedelta(seconds=1))
    await recovery.sweep()
    frames = await receive_until(communicator, r"This quiz expired")
    assert "disabled" in frames[-1] and "Submit answers" not in frames[-1]
    await communicator.disconnect()
