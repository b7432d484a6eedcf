"""The demo class seeding, the admin pages for classes, and the join code's alphabet."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from chat.classes.models import JOIN_CODE_ALPHABET, Classroom, Membership, Publication, new_join_code
from chat.models import Assistant
from chat.services.assistants import functions_of
from tests.fixtures import DISPLAY_QUIZ_JSON

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seeding_makes_a_tutor_teaching_the_demo_class_with_the_math_tutor_and_a_student():
    output = seed()
    assert "tutor / tutor-password" in output and "student / student-password" in output
    classroom = Classroom.objects.get(name="Demo class")
    assert Membership.objects.get(classroom=classroom, user__username="tutor").role == Membership.Role.TUTOR
    assert Membership.objects.get(classroom=classroom, user__username="student").role == Membership.Role.STUDENT
    [publication] = Publication.objects.filter(classroom=classroom)
    assert publication.assistant.name == "Math Tutor" and publication.assistant.owner.username == "tutor"
    assert User.objects.get(username="tutor").check_password("tutor-password")
    # A student who asks the class's Math Tutor for a quiz gets the walkthrough's one.
    assert functions_of(publication.assistant) == [json.loads(DISPLAY_QUIZ_JSON.read_text())]
    assert User.objects.get(username="student").check_password("student-password")


def test_seeding_twice_changes_nothing_and_keeps_a_changed_password(django_user_model):
    seed()
    student = django_user_model.objects.get(username="student")
    student.set_password("my-own-password-9")
    student.save()
    output = seed()
    assert "(existing user; password unchanged)" in output
    assert User.objects.get(username="student").check_password("my-own-password-9")
    assert Classroom.objects.filter(name="Demo class").count() == 1
    assert Publication.objects.count() == 1 and Membership.objects.count() == 2
    assert Assistant.objects.filter(owner__username="tutor").count() == 1


def test_the_demo_student_gets_no_math_tutor_copy_of_their_own(client):
    seed()
    client.force_login(User.objects.get(username="student"))
    page = client.get(reverse("chat:threads")).content.decode()
    assert "Math Tutor · Demo class" in page
    assert not Assistant.objects.filter(owner__username="student").exists()


def test_join_codes_avoid_look_alike_characters():
    codes = {new_join_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 8 and set(c) <= set(JOIN_CODE_ALPHABET) for c in codes)
    assert not set("0O1IL") & set(JOIN_CODE_ALPHABET)


def test_the_admin_lists_classes_memberships_and_publications_with_owners(client, django_user_model, class_a, class_b):
    root = django_user_model.objects.create_superuser("root", password="root-pass-1")
    client.force_login(root)
    for name in ("classroom", "membership", "publication", "classthread", "quizgrade"):
        assert client.get(reverse(f"admin:classes_{name}_changelist")).status_code == 200
    publications = client.get(reverse("admin:classes_publication_changelist")).content.decode()
    # Two "Math Tutor"s, told apart by their owners.
    assert "Math Tutor (owner: tess)" in publications and "Math Tutor (owner: bea)" in publications
    change = client.get(reverse("admin:classes_publication_change", args=[Publication.objects.first().pk])).content.decode()
    assert "Math Tutor (owner: tess)" in change and "Math Tutor (owner: bea)" in change
    classes = client.get(reverse("admin:classes_classroom_changelist")).content.decode()
    assert "tess, cole" in classes or "cole, tess" in classes
    assert client.get(reverse("admin:classes_classroom_change", args=[class_a.pk])).status_code == 200
    assert client.get(reverse("admin:classes_membership_changelist") + "?role=student").status_code == 200


def test_the_thread_and_run_lists_name_each_assistant_s_owner(client, django_user_model, people, class_a, class_b, sam_thread):
    from chat.models import Assistant, Run, Thread

    beas = Assistant.objects.get(owner=people["bea"])
    Thread.objects.create(owner=people["otto"], assistant=beas)
    Run.objects.create(thread=sam_thread, assistant=sam_thread.assistant, model="offline")
    root = django_user_model.objects.create_superuser("root", password="root-pass-1")
    client.force_login(root)
    threads = client.get(reverse("admin:chat_thread_changelist")).content.decode()
    assert "Math Tutor (owner: tess)" in threads and "Math Tutor (owner: bea)" in threads
    assert "Math Tutor (owner: tess)" in client.get(reverse("admin:chat_run_changelist")).content.decode()


def test_the_admin_shows_quiz_attempts_with_their_recorded_grading(client, django_user_model, people, class_a, sam_thread):
    from django.utils import timezone

    from chat.classes import gradebook
    from chat.engine import states
    from chat.functions.models import QuizAttempt
    from chat.models import Run

    run = Run.objects.create(thread=sam_thread, assistant=sam_thread.assistant, model="offline", status=states.COMPLETED)
    attempt = QuizAttempt.objects.create(
        run=run, thread=sam_thread, classroom=class_a, assistant=sam_thread.assistant, user=people["sam"], tool_call_id="call_a", title="Angles",
        score=1, max_score=2, feedback="You got 1 of 2 right.", graded_at=timezone.now(),
    )
    gradebook.override(class_a, attempt, 2, "Fine.", people["tess"])
    root = django_user_model.objects.create_superuser("root", password="root-pass-1")
    client.force_login(root)
    attempts = client.get(reverse("admin:functions_quizattempt_changelist")).content.decode()
    assert "Angles" in attempts and "1/2" in attempts and "Math Tutor (owner: tess)" in attempts and "Algebra 1" in attempts
    assert client.get(reverse("admin:functions_quizattempt_changelist") + "?function_name=display_quiz").status_code == 200
    assert "You got 1 of 2 right." in client.get(reverse("admin:functions_quizattempt_change", args=[attempt.pk])).content.decode()
    grades = client.get(reverse("admin:classes_quizgrade_changelist")).content.decode()
    assert "Angles" in grades and "1/2" in grades and "2.00" in grades
