"""Review: a class's tutors read a student's class conversation, read-only, exactly as
rendered for the student; nobody else reads it, and private threads stay private."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.classes import services
from chat.classes.models import Membership
from chat.engine import states
from chat.models import Message, Run, Thread

pytestmark = pytest.mark.django_db


def page(client, thread) -> tuple[int, str]:
    response = client.get(reverse("chat:thread", args=[thread.id]))
    return response.status_code, response.content.decode()


def test_the_student_is_told_plainly_that_the_tutors_can_read_it(client_of, sam_thread):
    status, html = page(client_of("sam"), sam_thread)
    assert status == 200
    assert "Tutors of Algebra 1 can read this conversation." in html
    assert 'id="composer"' in html and "<textarea" in html


@pytest.mark.parametrize("who", ["tess", "cole"])
def test_the_class_s_tutors_read_it_read_only(client_of, sam_thread, who):
    status, html = page(client_of(who), sam_thread)
    assert status == 200
    assert "How do I solve 3x + 11 = 14?" in html and "Subtract 11 first." in html
    assert "You are reading sam's conversation in Algebra 1" in html
    assert "<textarea" not in html and "Conversation settings" not in html
    assert reverse("chat:message_create", args=[sam_thread.id]) not in html


def test_the_student_reads_you_where_the_tutor_reads_the_student_s_name(client_of, sam_thread):
    assert 'aria-label="You"' in page(client_of("sam"), sam_thread)[1]
    html = page(client_of("tess"), sam_thread)[1]
    assert 'aria-label="sam"' in html and 'aria-label="You"' not in html


def test_the_tutor_sees_no_cancel_button_while_the_student_does(client_of, sam_thread, math):
    run = Run.objects.create(thread=sam_thread, assistant=math, model="offline", status=states.IN_PROGRESS)
    cancel = reverse("chat:run_cancel", args=[sam_thread.id, run.id])
    assert cancel in page(client_of("sam"), sam_thread)[1]
    assert cancel not in page(client_of("tess"), sam_thread)[1]


@pytest.mark.parametrize("who", ["sue", "otto", "bea", "olga"])
def test_everyone_else_gets_404(client_of, class_b, sam_thread, who):
    assert page(client_of(who), sam_thread)[0] == 404


def test_a_student_s_private_conversation_stays_private(client_of, people, class_a):
    from chat.models import Assistant

    own = Assistant.objects.create(owner=people["sam"], name="Diary", model="offline")
    private = Thread.objects.create(owner=people["sam"], assistant=own)
    assert page(client_of("sam"), private)[0] == 200
    assert page(client_of("tess"), private)[0] == 404


def test_a_tutor_s_own_class_membership_does_not_open_another_tutor_s_threads(client_of, people, class_a, math):
    # Cole's own conversation with the Math Tutor is not a student's class thread.
    cole_thread = Thread.objects.create(owner=people["cole"], assistant=math)
    assert page(client_of("tess"), cole_thread)[0] == 404


def test_a_student_who_left_takes_their_conversations_with_them(client_of, people, class_a, sam_thread):
    Membership.objects.filter(classroom=class_a, user=people["sam"]).delete()
    assert page(client_of("tess"), sam_thread)[0] == 404
    status, html = page(client_of("sam"), sam_thread)
    assert status == 200 and "This conversation is closed" in html


WRITES = [
    ("chat:message_create", {"text": "hi", "assistant": "x"}),
    ("chat:thread_rename", {"title": "mine now"}),
    ("chat:thread_delete", {}),
]


@pytest.mark.parametrize("who", ["tess", "cole", "sue", "olga"])
@pytest.mark.parametrize("name,data", WRITES)
def test_nobody_but_the_student_writes_to_the_thread(client_of, sam_thread, math, who, name, data):
    data = {**data, "assistant": math.pk} if "assistant" in data else data
    assert client_of(who).post(reverse(name, args=[sam_thread.id]), data).status_code == 404
    sam_thread.refresh_from_db()
    assert sam_thread.title == "Sam's algebra" and sam_thread.messages.count() == 2


@pytest.mark.parametrize("who", ["tess", "olga"])
def test_nobody_but_the_student_cancels_or_answers_its_runs(client_of, sam_thread, math, who):
    run = Run.objects.create(thread=sam_thread, assistant=math, model="offline", status=states.REQUIRES_ACTION)
    client = client_of(who)
    assert client.post(reverse("chat:run_cancel", args=[sam_thread.id, run.id])).status_code == 404
    assert client.post(reverse("functions:submit_tool_outputs", args=[sam_thread.id, run.id])).status_code == 404
    run.refresh_from_db()
    assert run.status == states.REQUIRES_ACTION


def test_unpublishing_closes_the_composer_but_keeps_the_conversation_readable(client_of, class_a, sam_thread, math):
    services.unpublish(class_a, math)
    status, html = page(client_of("sam"), sam_thread)
    assert status == 200 and "Subtract 11 first." in html
    assert "<textarea" not in html and "This conversation is closed" in html
    response = client_of("sam").post(reverse("chat:message_create", args=[sam_thread.id]), {"text": "more?", "assistant": math.pk})
    html = response.content.decode()
    assert response.status_code == 400 and "the tutors of “Algebra 1” took its assistant out of the class" in html
    assert "<textarea" not in html and "Answer again" not in html  # no control that cannot work
    assert "Your message was not sent. Here it is, to copy:" in html and "more?</blockquote>" in html
    assert not Message.objects.filter(thread=sam_thread, content__0__text__value="more?").exists()
    assert page(client_of("tess"), sam_thread)[0] == 200


def test_archiving_closes_new_conversations_too(client_of, class_a, sam_thread):
    services.set_archived(class_a, True)
    assert "This conversation is closed" in page(client_of("sam"), sam_thread)[1]
    assert "Start a conversation" not in client_of("sam").get(reverse("classes:detail", args=[class_a.pk])).content.decode()


def test_a_class_thread_only_talks_to_the_class_s_assistants(client_of, people, class_a, sam_thread):
    from chat.models import Assistant

    own = Assistant.objects.create(owner=people["sam"], name="Diary", model="offline")
    response = client_of("sam").post(reverse("chat:message_create", args=[sam_thread.id]), {"text": "hi", "assistant": own.pk})
    assert response.status_code == 400
    assert not Run.objects.filter(thread=sam_thread).exists()


def test_the_tutor_s_class_page_lists_the_students_conversations(client_of, class_a, sam_thread):
    html = client_of("cole").get(reverse("classes:detail", args=[class_a.pk])).content.decode()
    assert reverse("chat:thread", args=[sam_thread.id]) in html and "Sam&#x27;s algebra" in html
