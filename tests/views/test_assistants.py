import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from chat.models import Assistant, Message, Run, Thread
from chat.services.messages import post_message

pytestmark = pytest.mark.django_db


def test_a_user_creates_an_assistant(alice_client, alice):
    response = alice_client.post(
        reverse("chat:assistant_create"),
        {"name": "Physics <b>&", "model": "offline", "instructions": "Be brief.", "description": ""},
    )
    assistant = Assistant.objects.get(name="Physics <b>&")
    assert assistant.owner == alice and assistant.id.startswith("asst_")
    # The next step of setting it up: its own page, with its Files and Functions in view.
    assertRedirects(response, reverse("chat:assistant_edit", args=[assistant.id]), fetch_redirect_response=False)
    page = alice_client.get(response["Location"])
    assertContains(page, "Created the assistant “Physics &lt;b&gt;&amp;”")
    assertContains(page, f'href="/assistants/{assistant.id}/files/">Files <span class="visually-hidden">of Physics &lt;b&gt;&amp;</span>')
    assertContains(page, f'href="/assistants/{assistant.id}/functions/">Functions <span class="visually-hidden">of Physics &lt;b&gt;&amp;</span>')


def test_saving_an_existing_assistant_still_returns_to_the_list(alice_client, tutor):
    response = alice_client.post(reverse("chat:assistant_edit", args=[tutor.id]), {"name": "Renamed", "model": "offline"})
    assertRedirects(response, reverse("chat:assistants"))


def test_an_unknown_model_is_rejected_with_the_list_of_available_models(alice_client):
    response = alice_client.post(reverse("chat:assistant_create"), {"name": "X", "model": "gpt-17"})
    assertContains(response, "Unknown model &#x27;gpt-17&#x27;. Available models: offline.", status_code=400)
    assert not Assistant.objects.exists()


def test_configured_remote_models_are_offered(alice_client, settings):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.OPENAI_MODELS = ["llama3.2", "qwen2.5"]
    response = alice_client.post(reverse("chat:assistant_create"), {"name": "X", "model": "nope"})
    assertContains(response, "Available models: offline, llama3.2, qwen2.5.", status_code=400)
    response = alice_client.post(reverse("chat:assistant_create"), {"name": "X", "model": "qwen2.5"})
    assert response.status_code == 302


def test_the_owner_edits_an_assistant(alice_client, tutor):
    alice_client.post(
        reverse("chat:assistant_edit", args=[tutor.id]),
        {"name": "Algebra Tutor", "model": "offline", "instructions": "Short answers.", "temperature": "0.5"},
    )
    tutor.refresh_from_db()
    assert (tutor.name, tutor.instructions, tutor.temperature) == ("Algebra Tutor", "Short answers.", 0.5)


def test_out_of_range_sampling_is_rejected(alice_client, tutor):
    response = alice_client.post(
        reverse("chat:assistant_edit", args=[tutor.id]), {"name": "T", "model": "offline", "temperature": "3"}
    )
    assertContains(response, "Temperature must be between 0 and 2.", status_code=400)


def test_assistant_names_are_escaped(alice_client, alice):
    Assistant.objects.create(owner=alice, name="<img src=x onerror=alert(1)>", model="offline")
    response = alice_client.get(reverse("chat:assistants"))
    assert b"<img src=x" not in response.content
    assertContains(response, "&lt;img src=x onerror=alert(1)&gt;")


@pytest.mark.parametrize(("method", "name"), [("get", "chat:assistant_edit"), ("post", "chat:assistant_edit"), ("post", "chat:assistant_delete")])
def test_a_stranger_gets_404_for_someone_elses_assistant(bob_client, tutor, method, name):
    response = getattr(bob_client, method)(reverse(name, args=[tutor.id]), {"name": "Hacked", "model": "offline"})
    assert response.status_code == 404
    tutor.refresh_from_db()
    assert tutor.name == "Math Tutor"


def test_the_assistant_list_shows_only_my_assistants(bob_client, bob, tutor):
    Assistant.objects.create(owner=bob, name="Bob's Helper", model="offline")
    tutor.name = "Alice's Private Tutor"
    tutor.save()
    response = bob_client.get(reverse("chat:assistants"))
    assertContains(response, "Bob&#x27;s Helper")
    assert b"Private Tutor" not in response.content


def test_the_assistant_list_links_each_assistant_to_its_pages(alice_client, alice, tutor):
    other = Assistant.objects.create(owner=alice, name="Physics Tutor", model="offline")
    response = alice_client.get(reverse("chat:assistants"))
    pages = ("chat:assistant_edit", "functions:function_list", "retrieval:assistant_files", "chat:assistant_delete")
    for assistant in (tutor, other):
        for name in pages:
            assertContains(response, f'href="{reverse(name, args=[assistant.id])}"')
    assertContains(response, f'Files <span class="visually-hidden">of {other.name}</span>')


def test_deleting_an_assistant_asks_first_and_names_the_conversations_that_become_read_only(alice_client, alice, tutor):
    thread = Thread.objects.create(owner=alice, assistant=tutor, title="Algebra")
    post_message(thread, "Hello", tutor, start=False)
    confirm = alice_client.get(reverse("chat:assistant_delete", args=[tutor.id]))
    assertContains(confirm, "1 conversation with it will be kept but become read-only")
    assert Assistant.objects.filter(pk=tutor.pk).exists()
    done = alice_client.post(reverse("chat:assistant_delete", args=[tutor.id]), follow=True)
    assertContains(done, "Deleted the assistant “Math Tutor”. Its conversations are kept, read-only.")
    assert not Assistant.objects.filter(pk=tutor.pk).exists()


def test_a_conversation_of_a_deleted_assistant_is_read_only_and_does_not_switch_assistant(alice_client, alice, tutor):
    other = Assistant.objects.create(owner=alice, name="Physics Tutor", model="offline")
    thread = Thread.objects.create(owner=alice, assistant=tutor, title="Algebra")
    post_message(thread, "Hello", tutor, start=False)
    Run.objects.filter(thread=thread).update(status="completed")
    alice_client.post(reverse("chat:assistant_delete", args=[tutor.id]))

    page = alice_client.get(reverse("chat:thread", args=[thread.id]))
    assertContains(page, "the conversation is read-only")
    assertNotContains(page, "data-send")  # no Send (its composer keeps only an empty, hidden slot for pushes)
    refused = alice_client.post(reverse("chat:message_create", args=[thread.id]), {"text": "Still there?", "assistant": other.id})
    assert refused.status_code == 400
    assert Message.objects.filter(thread=thread).count() == 1
    assert not Run.objects.filter(thread=thread, assistant=other).exists()
