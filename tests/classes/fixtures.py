"""Who is asking, in every class test: Tess teaches class A with her co-tutor Cole;
Sam and Sue are students of A; Otto is a student of class B (taught by Bea); Olga is
an outsider. Tess's Math Tutor is published to A."""

from __future__ import annotations

import pytest
from django.test import Client

from chat.classes import services
from chat.classes.models import Membership
from chat.models import Assistant


@pytest.fixture
def people(django_user_model):
    names = ["tess", "cole", "sam", "sue", "otto", "bea", "olga"]
    return {n: django_user_model.objects.create_user(n, password=f"{n}-password-1") for n in names}


@pytest.fixture
def math(people) -> Assistant:
    return Assistant.objects.create(
        owner=people["tess"], name="Math Tutor", description="Helps with algebra.", model="offline",
        instructions="SECRET-INSTRUCTIONS: answer briefly.",
    )


@pytest.fixture
def class_a(people, math):
    classroom = services.create_classroom(people["tess"], "Algebra 1", "Equations and graphs.")
    services.add_tutor(classroom, "cole")
    for name in ("sam", "sue"):
        Membership.objects.create(classroom=classroom, user=people[name], role=Membership.Role.STUDENT)
    services.publish(classroom, math)
    return classroom


@pytest.fixture
def class_b(people):
    classroom = services.create_classroom(people["bea"], "Geometry", "")
    Membership.objects.create(classroom=classroom, user=people["otto"], role=Membership.Role.STUDENT)
    bea_tutor = Assistant.objects.create(owner=people["bea"], name="Math Tutor", model="offline", instructions="B's secret")
    services.publish(classroom, bea_tutor)
    return classroom


@pytest.fixture
def client_of(people):
    """client_of("sam") is a browser logged in as Sam; client_of(None) is anonymous."""
    def make(name: str | None) -> Client:
        client = Client()
        if name is not None:
            client.force_login(people[name])
        return client

    return make


@pytest.fixture
def sam_thread(people, class_a, math):
    """Sam's conversation with the class's Math Tutor, with one exchange in it."""
    from chat.models import Message

    thread = services.start_class_thread(people["sam"], class_a, math)
    thread.title = "Sam's algebra"
    thread.save(update_fields=["title"])
    Message.objects.create(thread=thread, role="user", content=Message.text_content("How do I solve 3x + 11 = 14?"))
    Message.objects.create(thread=thread, role="assistant", assistant=math, content=Message.text_content("Subtract 11 first."))
    return thread
