"""A turn whose quiz was submitted is a record: its grading showed the right answers, so
"Answer again" and "Edit last message" would put the same quiz back blank and take the
graded answer out of the conversation while the gradebook keeps both attempts. The rule
(``Thread.last_answer_is_record``) refuses both in the domain; the page does not offer them
and says how to try again: ask for another quiz."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.models import Message, RunStep
from chat.services import messages
from tests.classes.test_gradebook import attempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def graded(people, sam_thread):
    """Sam asked, got a quiz (through a function call, the only way one comes), answered it
    wrong and saw the grading."""
    graded = attempt(sam_thread, people["sam"], ["x = 9", "5"], score=0, max_score=2)
    call = {"id": graded.tool_call_id, "type": "function", "function": {"name": "display_quiz", "arguments": "{}", "output": "graded"}}
    RunStep.objects.create(
        run=graded.run, type=RunStep.TOOL_CALLS, status="completed", step_details={"type": "tool_calls", "tool_calls": [call]}
    )
    return graded


def test_answering_again_after_a_submitted_quiz_is_refused_and_removes_nothing(sam_thread, math, graded):
    before = list(sam_thread.messages.values_list("id", flat=True))
    with pytest.raises(messages.AnswerOnRecord, match="ask for another quiz"):
        messages.regenerate_last_answer(sam_thread, math)
    with pytest.raises(messages.AnswerOnRecord):
        messages.edit_last_question(sam_thread, "Give me an easier one", math)
    assert list(sam_thread.messages.values_list("id", flat=True)) == before
    assert not sam_thread.runs.exclude(pk=graded.run_id).exists()  # no run was queued


def test_the_page_offers_no_redo_and_says_how_to_try_again(client_of, sam_thread, graded):
    sam = client_of("sam")
    html = sam.get(reverse("chat:thread", args=[sam_thread.id])).content.decode()
    assert "Answer again</button>" not in html and "Edit last message" not in html
    assert "to try again, ask for another quiz" in html
    assert "composer--editing" not in sam.get(reverse("chat:thread", args=[sam_thread.id]) + "?edit").content.decode()


def test_the_browser_s_answer_again_says_why_it_was_refused(client_of, sam_thread, math, graded):
    response = client_of("sam").post(
        reverse("chat:answer_again", args=[sam_thread.id]), {"assistant": math.pk}, follow=True
    )
    assert "stays as the record of your attempt" in response.content.decode()
    assert sam_thread.messages.filter(role=Message.ASSISTANT).exists()


def test_a_new_question_after_the_quiz_can_be_answered_again(sam_thread, math, graded):
    Message.objects.create(thread=sam_thread, role="user", content=Message.text_content("Why is x = 4?"))
    assert not sam_thread.last_answer_is_record()
    run, _removed = messages.regenerate_last_answer(sam_thread, math)
    assert run.thread_id == sam_thread.id
