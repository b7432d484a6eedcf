import json

import pytest

from chat.models import Assistant, Thread
from tests.fixtures import DISPLAY_QUIZ_JSON


@pytest.fixture
def quiz_definition() -> dict:
    return json.loads(DISPLAY_QUIZ_JSON.read_text())


@pytest.fixture
def quiz_tutor(alice, quiz_definition) -> Assistant:
    return Assistant.objects.create(
        owner=alice, name="Quiz Tutor", model="offline", instructions="You are a personal math tutor.",
        tools=[{"type": "function", "function": quiz_definition}],
    )


@pytest.fixture
def quiz_thread(alice, quiz_tutor) -> Thread:
    return Thread.objects.create(owner=alice, assistant=quiz_tutor, title="Geometry")


WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city"],
    },
}
