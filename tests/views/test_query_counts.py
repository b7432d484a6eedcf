"""A conversation's page costs the same number of queries however long it is: the files
attached to its messages and the tool work shown above its answers are read for the whole
page at once, not per message."""

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chat import live
from chat.files import store_file
from chat.models import Message, Run, RunStep, Thread

pytestmark = pytest.mark.django_db


def conversation(alice, tutor, turns: int) -> Thread:
    """``turns`` questions, each with a file attached, and their answers, each after a tool call."""
    thread = Thread.objects.create(owner=alice, assistant=tutor, title="Long")
    for turn in range(turns):
        file = store_file(alice, f"notes-{turn}.txt", ContentFile(b"notes"), purpose="assistants")
        Message.objects.create(
            thread=thread, role="user", content=Message.text_content(f"Question {turn}"),
            attachments=[{"file_id": file.id, "tools": [{"type": "file_search"}]}],
        )
        run = Run.objects.create(thread=thread, assistant=tutor, model="offline", status="completed")
        call = {"id": f"call_{turn}", "type": "function", "function": {"name": "lookup", "arguments": "{}", "output": "ok"}}
        RunStep.objects.create(run=run, type="tool_calls", status="completed",
                               step_details={"type": "tool_calls", "tool_calls": [call]})
        Message.objects.create(thread=thread, role="assistant", assistant=tutor, run=run,
                               content=Message.text_content(f"Answer {turn}"))
    return thread


def queries_for_page(client, thread) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("chat:thread", args=[thread.id]))
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_the_thread_page_reads_a_fixed_number_of_queries(alice_client, alice, tutor):
    short, long = conversation(alice, tutor, 5), conversation(alice, tutor, 40)  # 10 and 80 messages
    short_count, short_page = queries_for_page(alice_client, short)
    long_count, long_page = queries_for_page(alice_client, long)
    # what the queries are for is on the page: each question's file and each answer's tool call
    assert "notes-4.txt" in short_page and "notes-39.txt" in long_page and "notes-15.txt" in long_page and "notes-14.txt" not in long_page
    assert long_page.count("file-chip--") == 25 and long_page.count("tool-work--function") == 25
    assert short_count == long_count, (short_count, long_count)


def test_a_message_rendered_alone_reads_its_files_and_steps(alice, tutor, django_assert_max_num_queries):
    thread = conversation(alice, tutor, 1)
    question, answer = thread.messages.order_by("seq")
    with django_assert_max_num_queries(3):
        html = live.render_message(question)
    assert "notes-0.txt" in html
    assert "tool-work--function" in live.render_message(answer)


def test_a_file_of_another_user_attached_by_id_is_not_shown(alice_client, alice, bob, tutor):
    thread = conversation(alice, tutor, 2)
    theirs = store_file(bob, "bobs-secret.txt", ContentFile(b"secret"), purpose="assistants")
    question = thread.messages.filter(role="user").first()
    question.attachments = [*question.attachments, {"file_id": theirs.id, "tools": []}]
    question.save()
    _, page = queries_for_page(alice_client, thread)
    assert "notes-0.txt" in page and "notes-1.txt" in page and "bobs-secret.txt" not in page
