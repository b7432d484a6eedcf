"""What a class keeps when a student deletes a conversation or leaves: graded quizzes stay
in the gradebook (the attempt loses only its link to the conversation) and what the
student used today still counts towards the daily limits; the tutor's counts are those
of what is listed and said in thousands."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from chat.api.models import ApiKey
from chat.classes import gradebook, progress, services
from chat.classes.models import DeletedUsage
from chat.classes.quotas import quota_exceeded, usage_today
from chat.engine import states
from chat.functions.models import QuizAttempt
from chat.models import Message, Run
from chat.services.threads import delete_thread
from tests.classes.test_gradebook import attempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_quiz(people, class_a, sam_thread):
    """Sam answered a quiz wrong (0/2) and Tess commented on it."""
    failed = attempt(sam_thread, people["sam"], ["x = 9", "5"], title="Linear equations", score=0, max_score=2)
    gradebook.override(class_a, failed, None, "See me after class.", people["tess"])
    return failed


def ran(thread, tokens: int) -> Run:
    return Run.objects.create(
        thread=thread,
        assistant=thread.assistant,
        model="offline",
        status=states.COMPLETED,
        usage={"total_tokens": tokens},
    )


# --- 1. graded work outlives the conversation -------------------------------------------


def test_deleting_the_conversation_keeps_the_attempt_its_score_and_the_tutor_s_comment(
    class_a, sam_thread, failed_quiz
):
    delete_thread(sam_thread)
    kept = QuizAttempt.objects.get(pk=failed_quiz.pk)
    assert (kept.thread_id, kept.run_id, kept.classroom_id) == (None, None, class_a.pk)
    assert (kept.score, kept.max_score, kept.answers[0]["answer"]) == (0, 2, "x = 9")
    assert kept.grade.comment == "See me after class."
    titles, rows = gradebook.table(class_a)
    assert titles == ["Linear equations"] and [a.pk for a in rows[0]["cells"][0]] == [failed_quiz.pk]


def test_a_student_deleting_in_the_browser_leaves_the_gradebook_whole(client_of, class_a, sam_thread, failed_quiz):
    sam = client_of("sam")
    confirm = sam.get(reverse("chat:thread_delete", args=[sam_thread.id])).content.decode()
    assert "stay in the class's gradebook" in confirm and "still counts towards the class's daily limits" in confirm
    assert sam.post(reverse("chat:thread_delete", args=[sam_thread.id])).status_code == 302
    html = client_of("tess").get(reverse("classes:gradebook", args=[class_a.pk])).content.decode()
    assert "Linear equations" in html and ">0/2</a>" in html
    detail = client_of("tess").get(reverse("classes:attempt", args=[class_a.pk, failed_quiz.pk])).content.decode()
    assert "See me after class." in detail and "the student deleted the conversation" in detail
    grades = sam.get(reverse("classes:my_grades", args=[class_a.pk])).content.decode()
    assert "Linear equations" in grades and "conversation deleted (the grade is kept)" in grades


def test_a_student_deleting_through_v1_leaves_the_gradebook_whole(client, people, class_a, sam_thread, failed_quiz):
    key = ApiKey.issue(people["sam"], "tests")[1]
    response = client.delete(f"/v1/threads/{sam_thread.id}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200 and response.json()["deleted"] is True
    assert [a.pk for a in gradebook.class_attempts(class_a)] == [failed_quiz.pk]


def test_a_submitted_quiz_records_its_class(people, class_a, sam_thread):
    run = ran(sam_thread, 0)
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "display_quiz", "arguments": json.dumps({"title": "Q"})},
    }
    (made,) = QuizAttempt.record_submitted(run, [call], {"call_1": "x = 4"})
    assert QuizAttempt.objects.get(pk=made.pk).classroom_id == class_a.pk


# --- 2. deleting gives no usage back ------------------------------------------------------


def test_deleting_a_conversation_keeps_today_s_usage(people, class_a, math, sam_thread):
    ran(sam_thread, 300)
    ran(sam_thread, 200)
    other = services.start_class_thread(people["sam"], class_a, math)
    ran(other, 7)
    delete_thread(sam_thread)
    assert usage_today(class_a, people["sam"]) == (3, 507)
    (sam,) = [row for row in progress.roster(class_a) if row.membership.user == people["sam"]]
    assert (sam.runs, sam.tokens) == (3, 507)
    delete_thread(other)
    assert usage_today(class_a, people["sam"]) == (3, 507)
    assert DeletedUsage.objects.get().runs == 3


def test_deleting_the_only_conversation_keeps_the_student_s_last_activity(
    client_of, people, class_a, math, sam_thread, failed_quiz
):
    """The student's "last active" outlives the conversation, as its runs and grades do, on
    both pages that show it; deleting an older conversation afterwards does not move it back."""
    from datetime import timedelta

    from django.utils import timezone

    ran(sam_thread, 40)
    active = timezone.now() - timedelta(hours=2)
    Thread = type(sam_thread)
    Thread.objects.filter(pk=sam_thread.pk).update(updated_at=active)
    older = services.start_class_thread(people["sam"], class_a, math)
    Message.objects.create(thread=older, role="user", content=Message.text_content("hello"))
    Thread.objects.filter(pk=older.pk).update(updated_at=active - timedelta(days=3))
    delete_thread(Thread.objects.get(pk=sam_thread.pk))
    delete_thread(Thread.objects.get(pk=older.pk))
    (sam,) = [row for row in progress.roster(class_a) if row.membership.user == people["sam"]]
    assert (sam.conversations, sam.last_active) == (0, active)
    tess = client_of("tess")
    stamp = f'<time datetime="{timezone.localtime(active).isoformat()}">'
    page = tess.get(reverse("classes:student", args=[class_a.pk, people["sam"].pk])).content.decode()
    assert stamp in page and "never" not in page
    assert stamp in tess.get(reverse("classes:detail", args=[class_a.pk])).content.decode()


def test_a_private_conversation_leaves_no_class_usage_and_takes_its_quizzes_along(people):
    from chat.models import Assistant, Thread

    diary = Assistant.objects.create(owner=people["sam"], name="Diary", model="offline")
    thread = Thread.objects.create(owner=people["sam"], assistant=diary)
    ran(thread, 40)
    own_quiz = attempt(thread, people["sam"], ["x = 4"], title="Practice", score=1, max_score=1)
    delete_thread(thread)
    assert not DeletedUsage.objects.exists()
    assert not QuizAttempt.objects.filter(pk=own_quiz.pk).exists()  # no class has a claim on it


def test_a_student_at_the_limit_cannot_delete_their_way_to_more(client_of, people, class_a, math, sam_thread):
    class_a.runs_per_day = 1
    class_a.save()
    ran(sam_thread, 10)
    sam = client_of("sam")
    sam.post(reverse("chat:thread_delete", args=[sam_thread.id]))
    fresh = services.start_class_thread(people["sam"], class_a, math)
    assert quota_exceeded(fresh) is not None
    response = sam.post(reverse("chat:message_create", args=[fresh.id]), {"text": "again", "assistant": math.pk})
    assert response.status_code == 400 and "today&#x27;s limit of 1 message" in response.content.decode()
    assert not Run.objects.filter(thread=fresh).exists()
    page = client_of("tess").get(reverse("classes:student", args=[class_a.pk, people["sam"].pk])).content.decode()
    assert "1 run of 1" in page


# --- 3. leaving -----------------------------------------------------------------------------


def test_leaving_asks_first_and_says_what_is_kept(client_of, people, class_a, sam_thread, failed_quiz):
    sam = client_of("sam")
    page = sam.get(reverse("classes:leave", args=[class_a.pk])).content.decode()
    assert "Leave “Algebra 1”?" in page and "stay in the class's gradebook" in page
    assert class_a.memberships.filter(user=people["sam"]).exists()  # asking left nobody
    assert sam.post(reverse("classes:leave", args=[class_a.pk])).status_code == 302
    assert not class_a.memberships.filter(user=people["sam"]).exists()


def test_after_leaving_the_conversation_says_so_and_the_grades_stay(
    client_of, people, class_a, sam_thread, failed_quiz
):
    services.leave(class_a, people["sam"])
    html = client_of("sam").get(reverse("chat:thread", args=[sam_thread.id])).content.decode()
    assert "Tutors of Algebra 1 can read this conversation" not in html
    assert "You left Algebra 1: its tutors can no longer read this conversation" in html
    assert "closed because you left the class" in html and "no longer available" not in html
    assert "<textarea" not in html
    # Its page is "Not found" for them now: the notice points to where they can join again.
    assert reverse("classes:detail", args=[class_a.pk]) + '"' not in html
    assert f'href="{reverse("classes:list")}#join">Join a class with its code</a>' in html
    book = client_of("tess").get(reverse("classes:gradebook", args=[class_a.pk])).content.decode()
    assert 'sam <span class="muted">(left the class)</span>' in book and ">0/2</a>" in book
    detail = client_of("tess").get(reverse("classes:attempt", args=[class_a.pk, failed_quiz.pk]))
    assert detail.status_code == 200 and "has left the class" in detail.content.decode()


# --- 4. a conversation closed while open ----------------------------------------------------


def test_sending_after_unpublishing_closes_the_composer_through_htmx(client_of, class_a, sam_thread, math):
    services.unpublish(class_a, math)
    response = client_of("sam").post(
        reverse("chat:message_create", args=[sam_thread.id]),
        {"text": "more?", "assistant": math.pk},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'id="composer"' in html
    assert "took its assistant out of the class" in html and "start a conversation of your own" not in html
    assert "<textarea" not in html and "data-send" not in html and "Answer again" not in html and "?edit" not in html
    assert "more?</blockquote>" in html


def test_v1_says_why_the_conversation_is_closed(client, people, class_a, sam_thread, math):
    services.unpublish(class_a, math)
    key = ApiKey.issue(people["sam"], "tests")[1]
    response = client.post(
        f"/v1/threads/{sam_thread.id}/runs",
        data=json.dumps({"assistant_id": math.id}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 400 and "took its assistant out of the class" in response.json()["error"]["message"]


def test_the_students_own_list_and_leave_page_show_only_conversations_holding_a_message(
    client_of, people, class_a, math, sam_thread
):
    """The rule the tutor's counts and the sidebar follow (Thread.objects.holding_messages)."""
    empty = services.start_class_thread(people["sam"], class_a, math)  # "Start a conversation", never asked in
    page = client_of("sam").get(reverse("classes:detail", args=[class_a.pk])).content.decode()
    mine = page.split('id="mine-title"', 1)[1]
    assert reverse("chat:thread", args=[sam_thread.id]) in mine
    assert reverse("chat:thread", args=[empty.id]) not in mine
    leave = client_of("sam").get(reverse("classes:leave", args=[class_a.pk])).content.decode()
    assert "Your 1 conversation in this class stays" in leave


# --- 5. the tutor's student page --------------------------------------------------------------


def test_the_student_page_counts_listed_conversations_and_groups_thousands(
    client_of, people, class_a, math, sam_thread
):
    services.start_class_thread(people["sam"], class_a, math)  # "Start a conversation", never used: not listed
    services.start_class_thread(people["sam"], class_a, math)
    ran(sam_thread, 534_639)
    (sam,) = [row for row in progress.roster(class_a) if row.membership.user == people["sam"]]
    assert sam.conversations == 1
    page = client_of("tess").get(reverse("classes:student", args=[class_a.pk, people["sam"].pk])).content.decode()
    assert "<dt>Conversations</dt><dd>1</dd>" in page and "534,639" in page and "534639" not in page
    assert "534,639" in client_of("tess").get(reverse("classes:detail", args=[class_a.pk])).content.decode()
    assert Message.objects.filter(thread__owner=people["sam"]).count() == 2
