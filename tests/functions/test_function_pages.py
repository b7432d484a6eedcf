"""Tutors define function tools on an assistant's Functions page (and in the admin)."""

import json

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from chat.models import Assistant
from tests.admin_pages import admin_url

pytestmark = [pytest.mark.django_db]


def functions_url(assistant):
    return reverse("functions:function_list", args=[assistant.id])


def test_the_assistant_list_links_to_each_assistants_functions(alice_client, tutor):
    assertContains(alice_client.get(reverse("chat:assistants")), functions_url(tutor))


def test_pasting_the_walkthrough_definition_just_works(alice_client, tutor, quiz_definition):
    response = alice_client.post(functions_url(tutor), {"definition": json.dumps(quiz_definition, indent=2)})
    assert response.status_code == 302
    tutor.refresh_from_db()
    assert tutor.tools == [{"type": "function", "function": quiz_definition}]
    assertContains(alice_client.get(functions_url(tutor)), "display_quiz")


def test_a_function_can_be_added_field_by_field(alice_client, tutor):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}
    response = alice_client.post(functions_url(tutor), {
        "name": "get_weather", "description": "Weather for a city", "parameters": json.dumps(schema), "strict": "on",
    })
    assert response.status_code == 302
    tutor.refresh_from_db()
    assert tutor.tools[0]["function"] == {"name": "get_weather", "description": "Weather for a city", "parameters": schema, "strict": True}


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"name": "bad name", "parameters": "{}"}, "name", "Invalid function name"),
        ({"name": "f", "parameters": '{"type": "strng"}'}, "parameters", "Not a valid JSON Schema"),
        ({"name": "f", "parameters": "{not json"}, "parameters", "not valid JSON"),
        ({"definition": '{"name": "f", "parameters": {"type": 3}}'}, "definition", "Not a valid JSON Schema"),
        ({"definition": "[oops"}, "definition", "not valid JSON"),
        ({}, "name", "Give the function a name"),
    ],
)
def test_bad_definitions_show_the_error_at_the_offending_field(alice_client, tutor, data, field, message):
    response = alice_client.post(functions_url(tutor), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    tutor.refresh_from_db()
    assert tutor.tools == []


def test_names_are_unique_per_assistant(alice_client, tutor, quiz_definition):
    tutor.tools = [{"type": "function", "function": quiz_definition}]
    tutor.save()
    response = alice_client.post(functions_url(tutor), {"definition": json.dumps(quiz_definition)})
    assert response.status_code == 400 and "already has a function" in str(response.context["form"].errors)


def test_a_function_can_be_edited_and_removed_leaving_other_tools_alone(alice_client, tutor, quiz_definition):
    tutor.tools = [{"type": "code_interpreter"}, {"type": "function", "function": quiz_definition}]
    tutor.save()
    edit = reverse("functions:function_edit", args=[tutor.id, "display_quiz"])
    assertContains(alice_client.get(edit), "An array of questions")
    response = alice_client.post(edit, {"name": "show_quiz", "description": "Quiz!", "parameters": json.dumps(quiz_definition["parameters"])})
    assert response.status_code == 302
    tutor.refresh_from_db()
    assert tutor.tools[0] == {"type": "code_interpreter"}
    assert tutor.tools[1]["function"]["name"] == "show_quiz"
    alice_client.post(reverse("functions:function_delete", args=[tutor.id, "show_quiz"]))
    tutor.refresh_from_db()
    assert tutor.tools == [{"type": "code_interpreter"}]


def test_a_stranger_gets_404_for_someone_elses_functions(bob_client, tutor, quiz_definition):
    tutor.tools = [{"type": "function", "function": quiz_definition}]
    tutor.save()
    assert bob_client.get(functions_url(tutor)).status_code == 404
    assert bob_client.post(functions_url(tutor), {"definition": json.dumps({"name": "x"})}).status_code == 404
    assert bob_client.post(reverse("functions:function_delete", args=[tutor.id, "display_quiz"])).status_code == 404
    tutor.refresh_from_db()
    assert len(tutor.tools) == 1


def test_the_admin_validates_function_tools_and_keeps_server_tools(admin_client, alice, quiz_definition):
    url = reverse("admin:chat_assistant_add")
    data = {"owner": alice.pk, "name": "Quizzer", "model": "offline", "tool_resources": "{}", "metadata": "{}", "response_format": "null"}
    bad = [{"type": "function", "function": {"name": "f", "parameters": {"type": "strng"}}}]
    response = admin_client.post(url, {**data, "function_tools": json.dumps(bad)})
    assert response.status_code == 200
    assert "Not a valid JSON Schema" in str(response.context["adminform"].form.errors["function_tools"])
    response = admin_client.post(url, {**data, "function_tools": json.dumps([{"type": "function", "function": quiz_definition}])})
    assert response.status_code == 302
    assistant = Assistant.objects.get(name="Quizzer")
    assert assistant.tools == [{"type": "function", "function": quiz_definition}]
    change = admin_url("admin:chat_assistant_change", assistant.pk)
    assert "display_quiz" in admin_client.get(change).content.decode()
    response = admin_client.post(change, {**data, "function_tools": "[]"})
    assert response.status_code == 302
    assistant.refresh_from_db()
    assert assistant.tools == []


def test_the_assistant_edit_page_links_to_its_functions(alice_client, tutor):
    assertContains(alice_client.get(reverse("chat:assistant_edit", args=[tutor.id])), functions_url(tutor))
