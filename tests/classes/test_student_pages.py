"""Per-student pages for tutors (conversations, quizzes, usage) and a student's own grades."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.classes import gradebook
from tests.classes.test_gradebook import attempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(people, class_a, sam_thread):
    from chat.classes.services import start_class_thread
    from chat.models import Assistant

    sams = attempt(sam_thread, people["sam"], ["x = 4", "2", "no idea"], feedback="Sam's *feedback*")
    sue_thread = start_class_thread(people["sue"], class_a, sam_thread.assistant)
    sue_thread.title = "Sue's secret homework"
    sue_thread.save(update_fields=["title"])
    sues = attempt(sue_thread, people["sue"], ["x = 9", "9", "sue-answer"], title="Sue's quiz", feedback="Sue's feedback")
    private = Assistant.objects.create(owner=people["sam"], name="Diary", model="offline")
    from chat.models import Thread

    Thread.objects.create(owner=people["sam"], assistant=private, title="Sam's private diary")
    gradebook.override(class_a, sams, 2, "Well reasoned, Sam.", people["cole"])
    return {"sam": sams, "sue": sues}


@pytest.mark.parametrize("tutor", ["tess", "cole"])
def test_a_tutor_sees_one_student_s_work(client_of, people, class_a, work, tutor):
    url = reverse("classes:student", args=[class_a.pk, people["sam"].pk])
    html = client_of(tutor).get(url).content.decode()
    assert "<h1>sam</h1>" in html and "Sam&#x27;s algebra" in html and "Linear equations" in html
    assert ">2/2<" in html  # the override counts
    assert reverse("classes:attempt", args=[class_a.pk, work["sam"].pk]) in html
    # Nothing of Sue, nor of Sam's private conversations.
    assert "Sue" not in html and "private diary" not in html
    assert "Runs" in html and "Tokens" in html and "Today (UTC)" in html


def test_the_roster_and_the_gradebook_link_to_the_student_pages(client_of, people, class_a, work):
    url = reverse("classes:student", args=[class_a.pk, people["sam"].pk])
    assert url in client_of("tess").get(reverse("classes:detail", args=[class_a.pk])).content.decode()
    assert url in client_of("tess").get(reverse("classes:gradebook", args=[class_a.pk])).content.decode()


@pytest.mark.parametrize("who", ["sam", "sue", "otto", "bea", "olga"])
def test_only_the_class_s_tutors_see_a_student_page(client_of, people, class_a, work, who):
    assert client_of(who).get(reverse("classes:student", args=[class_a.pk, people["sam"].pk])).status_code == 404


@pytest.mark.parametrize("whom", ["tess", "cole", "otto", "olga"])
def test_a_page_for_someone_who_is_not_a_student_of_the_class_is_404(client_of, people, class_a, work, whom):
    assert client_of("tess").get(reverse("classes:student", args=[class_a.pk, people[whom].pk])).status_code == 404


def test_a_student_sees_their_own_grades_and_nothing_of_others(client_of, class_a, work):
    response = client_of("sam").get(reverse("classes:my_grades", args=[class_a.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Linear equations" in html and ">2/2<" in html and "Well reasoned, Sam." in html
    assert "Sam's <em>feedback</em>" in html and "x = 4" in html
    assert "Sue" not in html and "sue-answer" not in html
    assert "<time datetime=" in html and "data-local-time>" in html  # shown in the reader's own time
    sues = client_of("sue").get(reverse("classes:my_grades", args=[class_a.pk])).content.decode()
    assert "Sue&#x27;s quiz" in sues and "Linear equations" not in sues and "Well reasoned" not in sues


def test_the_class_page_links_a_student_to_their_grades(client_of, class_a):
    assert reverse("classes:my_grades", args=[class_a.pk]) in client_of("sam").get(reverse("classes:detail", args=[class_a.pk])).content.decode()


@pytest.mark.parametrize("who", ["tess", "cole", "otto", "bea", "olga"])
def test_only_students_of_the_class_have_a_grades_page(client_of, class_a, work, who):
    assert client_of(who).get(reverse("classes:my_grades", args=[class_a.pk])).status_code == 404


def test_a_student_who_left_loses_the_tutor_pages_entry(client_of, people, class_a, work):
    from chat.classes import services

    services.leave(class_a, people["sam"])
    assert client_of("tess").get(reverse("classes:student", args=[class_a.pk, people["sam"].pk])).status_code == 404
    assert client_of("sam").get(reverse("classes:my_grades", args=[class_a.pk])).status_code == 404
