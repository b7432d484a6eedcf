"""The thread page's socket: the class's tutors watch a student's run live, read-only;
everyone else is refused like a stranger."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chat.engine import dispatch
from chat.services.messages import post_message
from tests.engine.scripted import ScriptedProvider, text_turn, use
from tests.test_consumers import connect, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_a_tutor_watching_sees_the_student_s_answer_stream_in(monkeypatch, people, sam_thread, math):
    use(monkeypatch, ScriptedProvider(text_turn("Subtract ", "11 from ", "both sides."), delay=0.02))
    communicator, connected, _ = await connect(sam_thread.id, people["cole"])
    assert connected
    snapshot = await communicator.receive_from()
    assert 'id="run-status"' in snapshot
    _, run = await sync_to_async(post_message)(sam_thread, "And then?", math, start=False)
    dispatch.dispatch(run.id)
    html = "".join(await receive_until(communicator, r"Completed"))
    assert "In progress" in html and "both sides." in html
    # The student's new message shows too, labelled with their name, before the answer.
    assert 'aria-label="sam"' in html and "And then?" in html
    assert html.index("And then?") < html.index("both sides.")
    assert f"/runs/{run.id}/cancel/" not in html  # read-only: no Cancel button pushed to the tutor
    await communicator.disconnect()


async def test_the_student_s_own_socket_still_offers_cancel(monkeypatch, people, sam_thread, math):
    use(monkeypatch, ScriptedProvider(text_turn("One ", "moment."), delay=0.05))
    communicator, connected, _ = await connect(sam_thread.id, people["sam"])
    assert connected
    await communicator.receive_from()
    _, run = await sync_to_async(post_message)(sam_thread, "And then?", math, start=False)
    dispatch.dispatch(run.id)
    html = "".join(await receive_until(communicator, r"Completed"))
    assert f"/runs/{run.id}/cancel/" in html
    await communicator.disconnect()


@pytest.mark.parametrize("who", ["sue", "otto", "bea", "olga"])
async def test_everyone_else_is_refused(people, class_b, sam_thread, who):
    communicator, connected, code = await connect(sam_thread.id, people[who])
    assert not connected and code == 4404
    await communicator.disconnect()
