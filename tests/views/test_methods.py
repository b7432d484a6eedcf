"""A form's URL opened with a GET (a failed form's page left in the address bar, or in the
history) goes back to the page the form lives on; any other wrong method gets the site's
405 page, not the browser's own error for an empty one."""

from __future__ import annotations

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from chat.classes import services as classes
from chat.classes.models import Membership

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def classroom(alice, bob):
    """Taught by bob, taken by alice."""
    classroom = classes.create_classroom(bob, "Algebra 1")
    Membership.objects.create(classroom=classroom, user=alice, role=Membership.Role.STUDENT)
    return classroom


def test_a_failed_create_class_opened_again_is_the_create_class_form(alice_client):
    response = alice_client.post(reverse("classes:create"), {"name": ""})
    assert response.status_code == 400
    assertRedirects(alice_client.get(reverse("classes:create")), reverse("classes:list") + "#create")


def test_the_new_conversation_url_opened_is_the_conversation_list(alice_client):
    assertRedirects(alice_client.get(reverse("chat:thread_create")), reverse("chat:threads"))


def test_a_thread_form_url_opened_is_the_thread_page_and_the_editor_for_an_edit(alice_client, thread):
    page = reverse("chat:thread", args=[thread.id])
    assertRedirects(alice_client.get(reverse("chat:message_edit", args=[thread.id])), page + "?edit")
    assertRedirects(alice_client.get(reverse("chat:message_create", args=[thread.id])), page)


def test_someone_elses_thread_form_url_opened_is_not_found(bob_client, thread):
    assert bob_client.get(reverse("chat:message_edit", args=[thread.id])).status_code == 404
    assert bob_client.get(reverse("chat:message_create", args=[thread.id])).status_code == 404


def test_a_class_form_url_opened_by_a_member_is_the_class_page(alice_client, classroom):
    page = reverse("classes:detail", args=[classroom.pk])
    assertRedirects(alice_client.get(reverse("classes:start", args=[classroom.pk])), page)
    # Leaving is asked first: its URL opened is the question, and leaves nobody.
    assertContains(alice_client.get(reverse("classes:leave", args=[classroom.pk])), "Leave the class")
    assert classroom.memberships.count() == 2


def test_a_class_form_url_opened_by_a_stranger_or_for_a_tutor_only_form_by_a_student_is_not_found(
    alice_client, classroom, django_user_model, client
):
    client.force_login(django_user_model.objects.create_user("carol", password="pw-carol-123"))
    for name in ("start", "leave", "limits"):
        assert client.get(reverse(f"classes:{name}", args=[classroom.pk])).status_code == 404
    assert alice_client.get(reverse("classes:limits", args=[classroom.pk])).status_code == 404


def test_a_form_url_opened_logged_out_goes_to_log_in_and_back_to_it(client):
    assertRedirects(
        client.get(reverse("classes:create")), reverse("login") + "?next=/classes/new/", fetch_redirect_response=False
    )


def test_a_form_url_posted_to_logged_out_goes_to_log_in_and_asked_otherwise_is_the_sites_405_page(client):
    assert client.post(reverse("classes:create"), {"name": "x"})["Location"].startswith(reverse("login"))
    response = client.put(reverse("classes:create"))
    assertContains(response, "Not a page to open", status_code=405)
    assert response["Allow"] == "POST"


def test_a_page_asked_with_a_method_it_does_not_take_is_the_sites_405_page(alice_client, thread):
    response = alice_client.put(reverse("chat:threads"))
    assertContains(response, "Not a page to open", status_code=405)
    assert response["Allow"] == "GET"
    assertContains(
        alice_client.delete(reverse("chat:message_edit", args=[thread.id])), "Not a page to open", status_code=405
    )
