"""Attacks on classes, replayed: a student probing a published assistant's private parts,
guessing at other classes, or using an old invite; each is a 404 with nothing revealed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.classes.models import Membership
from tests.classes.fixtures import class_a, class_b, client_of, math, people, sam_thread  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "chat:assistant_edit",
        "retrieval:assistant_files",
        "functions:function_list",
    ],
)
def test_a_student_cannot_open_a_published_assistant_s_owner_pages(client_of, class_a, math, url):
    response = client_of("sam").get(reverse(url, args=[math.id]))
    assert response.status_code == 404 and "SECRET-INSTRUCTIONS" not in response.content.decode()


def test_a_student_cannot_change_or_delete_a_published_assistant(client_of, class_a, math):
    sam = client_of("sam")
    assert sam.post(reverse("chat:assistant_edit", args=[math.id]), {"name": "Pwned", "model": "offline"}).status_code == 404
    assert sam.post(reverse("chat:assistant_delete", args=[math.id])).status_code == 404
    math.refresh_from_db()
    assert math.name == "Math Tutor"


def test_a_function_definition_of_a_published_assistant_is_404_for_a_student(client_of, class_a, math):
    math.tools = [{"type": "function", "function": {"name": "grade", "description": "SECRET", "parameters": {"type": "object", "properties": {}}}}]
    math.save()
    response = client_of("sam").get(reverse("functions:function_definition", args=[math.id, "grade"]))
    assert response.status_code == 404


def test_the_student_s_pages_never_carry_the_instructions(client_of, sam_thread, class_a):
    for url in (reverse("chat:thread", args=[sam_thread.id]), reverse("chat:threads"), reverse("classes:detail", args=[class_a.pk])):
        assert "SECRET-INSTRUCTIONS" not in client_of("sam").get(url).content.decode()


def test_a_tutor_of_class_b_probing_class_a_ids_gets_404_everywhere(client_of, class_a, class_b, sam_thread):
    bea = client_of("bea")
    for url in (
        reverse("classes:detail", args=[class_a.pk]),
        reverse("chat:thread", args=[sam_thread.id]),
        reverse("chat:thread", args=[sam_thread.id]) + "?before=999999999",
    ):
        assert bea.get(url).status_code == 404


def test_a_removed_student_cannot_rejoin_with_the_code_after_it_is_regenerated(client_of, people, class_a):
    old = class_a.join_code
    Membership.objects.filter(classroom=class_a, user=people["sue"]).delete()
    class_a.regenerate_join_code()
    client_of("sue").post(reverse("classes:join_link", args=[old]))
    assert not Membership.objects.filter(classroom=class_a, user=people["sue"]).exists()


def test_an_invite_link_enrols_nobody_on_a_cross_site_get(client_of, people, class_a):
    client_of("olga").get(reverse("classes:join_link", args=[class_a.join_code]))
    assert not Membership.objects.filter(user=people["olga"]).exists()


def test_a_forged_post_without_csrf_token_does_not_enrol(people, class_a):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people["olga"])
    response = browser.post(reverse("classes:join_link", args=[class_a.join_code]))
    assert response.status_code == 403
    assert not Membership.objects.filter(user=people["olga"]).exists()
