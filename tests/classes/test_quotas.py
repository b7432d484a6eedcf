"""Daily limits per student: over the limit, sending is refused with when it resets, and
the draft stays in the composer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chat.classes.quotas import day_bounds, quota_exceeded, usage_today
from chat.engine import states
from chat.models import Assistant, Run, Thread

pytestmark = pytest.mark.django_db


def ran(thread, tokens: int, *, days_ago: int = 0) -> Run:
    run = Run.objects.create(thread=thread, assistant=thread.assistant, model="offline", status=states.COMPLETED, usage={"total_tokens": tokens})
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return run


def send(client, thread, text: str, assistant, **headers):
    return client.post(reverse("chat:message_create", args=[thread.id]), {"text": text, "assistant": assistant.pk}, **headers)


def test_a_class_without_limits_never_refuses(sam_thread, math):
    ran(sam_thread, 10_000)
    assert quota_exceeded(sam_thread) is None


def test_only_today_s_runs_in_this_class_count(people, class_a, sam_thread, math):
    ran(sam_thread, 30)
    ran(sam_thread, 500, days_ago=1)
    diary = Assistant.objects.create(owner=people["sam"], name="Diary", model="offline")
    ran(Thread.objects.create(owner=people["sam"], assistant=diary), 700)
    assert usage_today(class_a, people["sam"]) == (1, 30)


def test_over_the_run_limit_sending_is_refused_with_the_reset_time_and_the_draft_kept(client_of, class_a, sam_thread, math):
    class_a.runs_per_day = 1
    class_a.save()
    ran(sam_thread, 10)
    response = send(client_of("sam"), sam_thread, "Please check my homework", math)
    html = response.content.decode()
    assert response.status_code == 400
    assert "You have reached today&#x27;s limit of 1 message in Algebra 1" in html and "00:00 UTC" in html
    assert ">Please check my homework</textarea>" in html
    assert Run.objects.filter(thread=sam_thread).count() == 1


def test_over_the_limit_through_htmx_the_composer_shows_the_message(client_of, class_a, sam_thread, math):
    class_a.tokens_per_day = 100
    class_a.save()
    ran(sam_thread, 100)
    response = send(client_of("sam"), sam_thread, "one more", math, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "today&#x27;s limit of 100 tokens" in html and ">one more</textarea>" in html
    assert Run.objects.filter(thread=sam_thread).count() == 1


def test_under_the_limit_sending_works(client_of, class_a, sam_thread, math):
    class_a.runs_per_day, class_a.tokens_per_day = 2, 1000
    class_a.save()
    ran(sam_thread, 10)
    assert send(client_of("sam"), sam_thread, "next", math).status_code == 302
    assert Run.objects.filter(thread=sam_thread).count() == 2


def test_the_day_resets_at_midnight_utc():
    start, end = day_bounds()
    assert start <= timezone.now() < end and end - start == timedelta(days=1)
    assert (start.hour, start.minute, start.utcoffset()) == (0, 0, timedelta(0))


def test_a_tutor_sets_the_limits_and_empty_means_none(client_of, class_a):
    url = reverse("classes:limits", args=[class_a.pk])
    assert client_of("cole").post(url, {"runs_per_day": "20", "tokens_per_day": ""}).status_code == 302
    class_a.refresh_from_db()
    assert (class_a.runs_per_day, class_a.tokens_per_day) == (20, None)


def test_a_negative_limit_is_a_form_error(client_of, class_a):
    response = client_of("tess").post(reverse("classes:limits", args=[class_a.pk]), {"runs_per_day": "-1", "tokens_per_day": "abc"})
    assert response.status_code == 400
    class_a.refresh_from_db()
    assert class_a.runs_per_day is None


@pytest.mark.parametrize("who", ["sam", "otto", "olga"])
def test_only_tutors_set_limits(client_of, class_a, class_b, who):
    assert client_of(who).post(reverse("classes:limits", args=[class_a.pk]), {"runs_per_day": "0"}).status_code == 404
    class_a.refresh_from_db()
    assert class_a.runs_per_day is None
