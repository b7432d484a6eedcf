"""The offline model with functions: it sets quizzes, grades them by working the answers
out again, and calls other functions when asked for what they do."""

import json

import pytest

from chat.functions import quizzes
from chat.functions.schema import argument_error
from chat.providers.base import ModelRequest
from chat.providers.offline.model import compose
from tests.functions.conftest import WEATHER


def request(messages, *definitions):
    return ModelRequest(model="offline", messages=messages, tools=[{"type": "function", "function": d} for d in definitions])


@pytest.mark.parametrize(
    "history, topic",
    [
        ("What's the interior angle of a regular octagon?", "octagon"),
        ("I need to solve the equation `3x + 11 = 14`.", "Solve"),
        ("Hello", "What is"),
    ],
)
def test_asked_for_a_quiz_it_calls_display_quiz_on_the_threads_topic(quiz_definition, history, topic):
    reply = compose(request([{"role": "user", "content": history}, {"role": "user", "content": "Make a quiz for me"}], quiz_definition))
    ((name, arguments),) = reply.tool_calls
    assert name == "display_quiz" and argument_error(quiz_definition, arguments) is None
    quiz = json.loads(arguments)
    assert topic in quiz["questions"][0]["question_text"]
    assert {q["question_type"] for q in quiz["questions"]} == {"MULTIPLE_CHOICE", "FREE_RESPONSE"}
    for question in quiz["questions"]:  # every question it writes, it can also grade
        assert quizzes.solve_question(question["question_text"]) is not None
    mc = quiz["questions"][0]
    assert quizzes.solve_question(mc["question_text"]).shown in mc["choices"]


def test_without_display_quiz_a_quiz_request_is_not_a_function_call():
    assert not compose(request([{"role": "user", "content": "Make a quiz for me"}], WEATHER)).tool_calls


@pytest.mark.parametrize("asked", ["quiz me on derivatives", "Give me a quiz on 2x + 3 = 7", "test me on fractions"])
def test_an_assistant_with_no_functions_says_it_has_no_quiz_function(asked):
    reply = compose(request([{"role": "user", "content": asked}]))
    assert not reply.tool_calls
    assert reply.text.startswith("I can't give a quiz in this conversation") and "`display_quiz`" in reply.text


@pytest.mark.parametrize(
    "question, answer, correct",
    [
        ("What is the measure of each interior angle of a regular pentagon?", "108 degrees", True),
        ("What is the measure of each interior angle of a regular pentagon?", "72 degrees", False),
        ("What is the sum of the interior angles of a hexagon?", "It's 720°", True),
        ("What is the exterior angle of a regular octagon?", "45", True),
        ("Solve 3x + 11 = 14. What is x?", "x = 1", True),
        ("Solve 2x - 5 = 9 for x", "x = 8", False),
        ("What is 7 × 8?", "56", True),
        ("What is 9 + 4 × 3?", "39", False),
        ("What is your favourite colour?", "blue", None),
        # The last "x = N" is the answer, not the numbers of a check after it.
        ("Solve 2x + 1 = 7. What is x?", "x = 3 (check: 2·3+1 = 7)", True),
        ("Solve 2x + 1 = 7. What is x?", "x = 7 (check: 2·7+1 = 15)", False),
        ("Solve 2x + 1 = 7. What is x?", "2x = 6, so x = 3; check 2*3 + 1 = 7", True),
        ("Solve 2x - 5 = 9 for x", "2x = 14, x = 14/2 = 7 (check: 2·7 − 5 = 9)", True),
        ("What is 9 + 4 × 3?", "4 × 3 = 12, then 9 + 12 = 21", True),
        # Only the unknown's assignment counts: here "n = 5" is a step, 540 the answer.
        ("What is the sum of the interior angles of a pentagon?", "n = 5, (n − 2) × 180 = 540", True),
    ],
)
def test_grading_works_each_answer_out_from_the_question(question, answer, correct):
    assert quizzes.grade({"question_text": question}, answer)[0] is correct


def test_the_graded_reply_explains_each_answer(quiz_definition):
    quiz = {"title": "Polygons", "questions": [
        {"question_text": "What is the measure of each interior angle of a regular pentagon?", "question_type": "MULTIPLE_CHOICE", "choices": ["72 degrees", "108 degrees"]},
        {"question_text": "What is the sum of the interior angles of a hexagon?", "question_type": "FREE_RESPONSE"},
    ]}
    messages = [
        {"role": "user", "content": "Make a quiz for me"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "display_quiz", "arguments": json.dumps(quiz)}}]},
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps(["108 degrees", "540"])},
    ]
    text = compose(request(messages, quiz_definition)).text
    assert "**Polygons**" in text
    assert "Correct!" in text and "(5 − 2) × 180° = 540°" in text
    assert "Not quite**: the answer is 720 degrees" in text
    assert "You got 1 of 2 right" in text


def test_it_calls_another_function_when_asked_for_what_it_does_with_valid_arguments():
    reply = compose(request([{"role": "user", "content": "What's the weather in Paris for 3 days, in fahrenheit?"}], WEATHER))
    ((name, arguments),) = reply.tool_calls
    assert name == "get_weather" and argument_error(WEATHER, arguments) is None
    assert json.loads(arguments)["city"] == "Paris"


def test_it_does_not_call_a_function_for_an_unrelated_question():
    reply = compose(request([{"role": "user", "content": "Solve 3x + 11 = 14"}], WEATHER))
    assert not reply.tool_calls and "x = 1" in reply.text


def test_arguments_satisfy_nested_schemas_with_formats_ranges_and_arrays():
    booking = {"name": "book_tutoring_session", "description": "Book a tutoring session with a teacher", "parameters": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "teacher": {"type": "string"}, "date": {"type": "string", "format": "date"},
            "minutes": {"type": "integer", "minimum": 15, "maximum": 120},
            "topics": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "contact": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}, "required": ["email"]},
            "urgent": {"type": "boolean"}, "level": {"enum": [1, 2, 3]},
        },
        "required": ["teacher", "date", "minutes", "topics", "contact", "urgent", "level"],
    }}
    reply = compose(request([{"role": "user", "content": "Please book a tutoring session with Mr Smith for 500 minutes"}], booking))
    ((name, arguments),) = reply.tool_calls
    assert name == "book_tutoring_session" and argument_error(booking, arguments) is None
    values = json.loads(arguments)
    assert values["teacher"] == "Mr Smith" and values["minutes"] == 120


@pytest.mark.parametrize("huge", [
    {"type": "string", "minLength": 10**12},
    {"type": "array", "minItems": 10**12},
    {"type": "array", "minItems": 1000, "items": {"type": "array", "minItems": 1000, "items": {"type": "string", "minLength": 1000}}},
])
def test_a_schema_asking_for_huge_arguments_gets_an_empty_call_instead_of_exhausting_memory(huge):
    notes = {"name": "save_notes", "description": "Save notes", "parameters": {"type": "object", "properties": {"notes": huge}, "required": ["notes"]}}
    reply = compose(request([{"role": "user", "content": "Please save notes"}], notes))
    assert reply.tool_calls == (("save_notes", "{}"),)


@pytest.mark.parametrize(
    "question, rule",
    [
        ("What is 10 × 4?", None),
        ("What is 12 - 5?", None),
        ("What is -3 × 4?", None),
        ("What is 9 + 4 × 3?", "multiplication and division come before addition and subtraction"),
        ("What is (2 + 3) × 4?", "brackets first"),
    ],
)
def test_the_order_of_operations_is_explained_only_where_it_decides_the_result(question, rule):
    why = quizzes.solve_question(question).why
    if rule is None:
        assert "(" not in why and "come before" not in why
    else:
        assert rule in why
