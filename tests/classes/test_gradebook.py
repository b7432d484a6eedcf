"""The gradebook: students × quizzes with the score and feedback the grading recorded on
each attempt (tests/functions/test_engine.py proves the recording), tutors' overrides,
and a CSV a spreadsheet opens without running anything a student typed."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chat.classes import gradebook
from chat.classes.models import ClassThread, Membership, QuizGrade
from chat.engine import states
from chat.functions.models import QuizAttempt
from chat.models import Run, Thread

pytestmark = pytest.mark.django_db

QUESTIONS = [
    {"question_text": "Solve 2x = 8 for x.", "question_type": "FREE_RESPONSE"},
    {"question_text": "Solve 3x + 11 = 14 for x.", "question_type": "FREE_RESPONSE"},
    {"question_text": "Why do you like algebra?", "question_type": "FREE_RESPONSE"},
]


def attempt(thread, user, answers: list[str], title: str = "Linear equations", score=1, max_score=2, feedback="**Correct!** 2x = 8 so x = 4.") -> QuizAttempt:
    """An attempt as the engine leaves it once the run graded it."""
    run = Run.objects.create(thread=thread, assistant=thread.assistant, model="offline", status=states.COMPLETED)
    classroom_id = ClassThread.objects.filter(thread=thread).values_list("classroom_id", flat=True).first()
    return QuizAttempt.objects.create(
        run=run, thread=thread, classroom_id=classroom_id, assistant=thread.assistant, user=user, tool_call_id=f"call_{run.id}", title=title,
        questions=QUESTIONS, answers=[{"question_text": q["question_text"], "answer": a} for q, a in zip(QUESTIONS, answers, strict=False)],
        score=score, max_score=max_score, feedback=feedback, graded_at=timezone.now(),
    )


@pytest.fixture
def sams_attempt(people, sam_thread):
    return attempt(sam_thread, people["sam"], ["x = 4", "2", "=HYPERLINK(\"http://evil\")"])


def test_the_gradebook_shows_the_recorded_score(client_of, class_a, sams_attempt):
    html = client_of("tess").get(reverse("classes:gradebook", args=[class_a.pk])).content.decode()
    assert "Linear equations" in html and ">1/2</a>" in html
    assert not QuizGrade.objects.exists()  # looking does not write


def test_the_gradebook_never_regrades(client_of, people, class_a, sam_thread):
    """The score is the one recorded at grading time, even where rules today would disagree."""
    attempt(sam_thread, people["sam"], ["wrong", "wrong", "wrong"], score=3, max_score=3, title="Kind grader")
    attempt(sam_thread, people["sam"], ["x = 4", "1", "yes"], score=None, max_score=None, title="Prose only")
    html = client_of("tess").get(reverse("classes:gradebook", args=[class_a.pk])).content.decode()
    assert ">3/3</a>" in html and ">—</a>" in html


def test_private_quizzes_and_other_classes_stay_out(client_of, people, class_a, class_b, sams_attempt):
    from chat.models import Assistant

    diary = Assistant.objects.create(owner=people["sam"], name="Diary", model="offline")
    attempt(Thread.objects.create(owner=people["sam"], assistant=diary), people["sam"], ["1", "1", "1"], title="Private quiz")
    html = client_of("tess").get(reverse("classes:gradebook", args=[class_a.pk])).content.decode()
    assert "Private quiz" not in html
    assert "Linear equations" not in client_of("bea").get(reverse("classes:gradebook", args=[class_b.pk])).content.decode()


def test_a_tutor_overrides_a_score_with_a_comment(client_of, people, class_a, sams_attempt):
    url = reverse("classes:attempt", args=[class_a.pk, sams_attempt.pk])
    page = client_of("cole").get(url).content.decode()
    assert "Solve 2x = 8 for x." in page and "x = 4" in page and "The model's score: 1/2" in page
    assert "<strong>Correct!</strong> 2x = 8 so x = 4." in page  # the feedback, rendered as the student saw it
    assert "data-local-time>" in page  # submitted at, in the reader's own time
    assert client_of("cole").post(url, {"score": "1.5", "comment": "Good working shown."}).status_code == 302
    grade = QuizGrade.objects.get(attempt=sams_attempt)
    assert str(grade.override_score) == "1.50" and grade.comment == "Good working shown." and grade.graded_by == people["cole"]
    assert "1.5/2" in client_of("tess").get(reverse("classes:gradebook", args=[class_a.pk])).content.decode()


def test_a_bad_override_is_a_form_error(client_of, class_a, sams_attempt):
    url = reverse("classes:attempt", args=[class_a.pk, sams_attempt.pk])
    response = client_of("tess").post(url, {"score": "-3", "comment": "x"})
    assert response.status_code == 400
    assert not QuizGrade.objects.filter(attempt=sams_attempt).exists()


def test_a_score_above_the_quiz_s_maximum_is_refused_and_nothing_is_lost(client_of, class_a, sams_attempt):
    url = reverse("classes:attempt", args=[class_a.pk, sams_attempt.pk])
    response = client_of("tess").post(url, {"score": "5", "comment": "Great work."})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This quiz is out of 2: the score can be at most 2." in page
    assert "Great work." in page  # the comment typed stays in the form
    assert not QuizGrade.objects.filter(attempt=sams_attempt).exists()
    assert client_of("tess").post(url, {"score": "2", "comment": ""}).status_code == 302  # the maximum itself is fine


def test_the_csv_has_one_row_per_attempt_and_no_formulas(client_of, people, class_a, sam_thread, sams_attempt):
    attempt(sam_thread, people["sam"], ["4", "1", "ok"])
    response = client_of("tess").get(reverse("classes:gradebook_csv", args=[class_a.pk]))
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 2 and {r["student"] for r in rows} == {"sam"}
    assert [(r["model_score"], r["max_score"], r["score"]) for r in rows] == [("1", "2", "1")] * 2
    assert rows[0]["feedback"] == "**Correct!** 2x = 8 so x = 4."
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value


def test_feedback_and_comments_that_are_formulas_are_neutralised(client_of, people, class_a, sam_thread):
    mine = attempt(sam_thread, people["sam"], ["4", "1", "x"], feedback="+cmd|'/c calc'!A1")
    client_of("tess").post(reverse("classes:attempt", args=[class_a.pk, mine.pk]), {"score": "", "comment": "@SUM(A1:A9)"})
    (row,) = csv.DictReader(io.StringIO(client_of("tess").get(reverse("classes:gradebook_csv", args=[class_a.pk])).content.decode()))
    assert row["feedback"] == "'+cmd|'/c calc'!A1" and row["comment"] == "'@SUM(A1:A9)" and row["score"] == "1"


def test_a_title_that_is_a_formula_is_neutralised(client_of, people, class_a, sam_thread):
    attempt(sam_thread, people["sam"], ["4", "1", "x"], title="=cmd|'/c calc'!A1")
    rows = list(csv.DictReader(io.StringIO(client_of("tess").get(reverse("classes:gradebook_csv", args=[class_a.pk])).content.decode())))
    assert rows[0]["quiz"] == "'=cmd|'/c calc'!A1"


@pytest.mark.parametrize("who", ["sam", "sue", "otto", "bea", "olga"])
def test_only_the_class_s_tutors_see_the_gradebook(client_of, class_a, class_b, sams_attempt, who):
    client = client_of(who)
    assert client.get(reverse("classes:gradebook", args=[class_a.pk])).status_code == 404
    assert client.get(reverse("classes:gradebook_csv", args=[class_a.pk])).status_code == 404
    url = reverse("classes:attempt", args=[class_a.pk, sams_attempt.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"score": "9"}).status_code == 404


def test_an_attempt_of_another_class_is_404_through_mine(client_of, people, class_a, class_b):
    from chat.classes.services import start_class_thread
    from chat.models import Assistant

    otto_thread = start_class_thread(people["otto"], class_b, Assistant.objects.get(owner=people["bea"]))
    other = attempt(otto_thread, people["otto"], ["1", "1", "1"])
    assert client_of("tess").get(reverse("classes:attempt", args=[class_a.pk, other.pk])).status_code == 404
    assert client_of("tess").get(f"/classes/{class_a.pk}/attempts/abc/").status_code == 404


def test_the_gradebook_reads_the_class_s_students_once(people, class_a, sams_attempt):
    with CaptureQueriesContext(connection) as queries:
        titles, rows = gradebook.table(class_a)
    assert titles == ["Linear equations"] and [row["student"] for row in rows][0] == people["sam"]
    assert sum(Membership._meta.db_table in query["sql"] for query in queries.captured_queries) == 1
