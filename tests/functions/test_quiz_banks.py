"""The quiz banks a maths tutor expects beyond arithmetic, linear equations and polygons:
quadratic equations, systems of two linear equations and derivatives. Each is written from
a seed, graded by working the question out again from its text, and read the way students
write their answers."""

import json

import pytest
from asgiref.sync import sync_to_async

from chat.engine import executor
from chat.engine.runs import submit_tool_outputs
from chat.functions import quizzes
from chat.functions.models import QuizAttempt
from chat.models import Message
from chat.providers.base import ModelRequest
from chat.providers.offline.model import compose
from chat.services.messages import post_message

NEW_TOPICS = ["quadratics", "systems of equations", "derivatives"]
QUADRATIC = "Solve x^2 - 5x + 6 = 0. Give every value of x that works."
SYSTEM = "Solve the simultaneous equations 2x + y = 3 and x - y = 3. Give x and y."
CUBE = "What is the derivative of x^3?"


@pytest.mark.parametrize("topic", NEW_TOPICS)
def test_a_quiz_is_the_same_for_the_same_seed_and_differs_between_seeds(topic):
    quiz = quizzes.write_quiz(topic, "Give me a quiz")
    assert quiz["title"].endswith(quizzes.TOPIC_NAMES[topic]) and quiz == quizzes.write_quiz(topic, "Give me a quiz")
    written = {json.dumps(quizzes.write_quiz(topic, f"student {n}")) for n in range(6)}
    assert len(written) > 1


@pytest.mark.parametrize("topic", NEW_TOPICS)
@pytest.mark.parametrize("seed", ["a", "Give me a quiz", "quiz me on this", "student 4"])
def test_every_question_written_can_be_worked_out_and_its_right_choice_is_the_only_one(topic, seed):
    quiz = quizzes.write_quiz(topic, seed)
    assert {q["question_type"] for q in quiz["questions"]} == {"MULTIPLE_CHOICE", "FREE_RESPONSE"}
    for question in quiz["questions"]:
        solution = quizzes.solve_question(question["question_text"])
        assert solution is not None, question
        assert quizzes.grade(question, solution.shown).correct
        if question["question_type"] == "MULTIPLE_CHOICE":
            assert solution.shown in question["choices"] and len(question["choices"]) == 4
            assert [quizzes.grade(question, choice).correct for choice in question["choices"]].count(True) == 1


def test_a_quadratics_quiz_has_a_difference_of_squares_and_a_double_root():
    for seed in ("a", "b", "c"):
        solutions = [
            quizzes.solve_question(q["question_text"]) for q in quizzes.write_quiz("quadratics", seed)["questions"]
        ]
        assert any("difference of two squares" in s.why and s.value == (-s.value[1], s.value[1]) for s in solutions)
        assert any(len(s.value) == 1 and "double root" in s.why for s in solutions)


@pytest.mark.parametrize(
    "question, answer, correct",
    [
        *(
            (QUADRATIC, answer, True)
            for answer in ["x = 2 or x = 3", "2, 3", "3 and 2", "x=2,x=3", "{2, 3}", "x = 3, x = 2"]
        ),
        (QUADRATIC, "(x - 2)(x - 3) = 0, so x = 2 or x = 3", True),
        *((QUADRATIC, answer, False) for answer in ["x = 2", "3", "x = 2 or x = 4", "x = -2 or x = -3", "x^2", ""]),
        ("Solve x^2 - 49 = 0.", "x = ±7", True),
        ("Solve x^2 - 49 = 0.", "x = 7", False),
        ("Solve x^2 + 6x + 9 = 0.", "x = -3", True),
        ("Solve x^2 + 6x + 9 = 0.", "-3, -3", True),
        ("Solve x^2 + 6x + 9 = 0.", "x = 3", False),
        *((SYSTEM, answer, True) for answer in ["x = 2, y = -1", "(2, -1)", "y=-1 and x=2", "x = 2 and y = −1"]),
        *((SYSTEM, answer, False) for answer in ["(-1, 2)", "x = 2", "x = 2, y = 1", "2"]),
        *((CUBE, answer, True) for answer in ["3x^2", "3*x**2", "3 x^2", "3x²", "f'(x) = 3x^2", "x^2 * 3"]),
        *((CUBE, answer, False) for answer in ["x^3", "3x^3", "3x^2 + y", "2x", "the derivative"]),
        ("Differentiate sin(3x) with respect to x.", "3cos(3x)", True),
        ("Differentiate sin(3x) with respect to x.", "cos(3x)", False),
        ("Differentiate x^2 sin(x) with respect to x.", "2x sin x + x^2 cos x", True),
        ("Differentiate x^2 sin(x) with respect to x.", "2x cos(x)", False),
        ("Differentiate x^3 sin(x) with respect to x.", "x^2(xcos(x) + 3sin(x))", True),  # "xcos" is x·cos
        ("Differentiate (2x + 1)^3 with respect to x.", "6(2x+1)^2", True),
        ("Differentiate (2x + 1)^3 with respect to x.", "24x^2 + 24x + 6", True),
        ("Differentiate (2x + 1)^3 with respect to x.", "3(2x+1)^2", False),
    ],
)
def test_each_form_a_student_writes_is_graded(question, answer, correct):
    assert quizzes.grade({"question_text": question}, answer).correct is correct


@pytest.mark.parametrize(
    "answer, said",
    [("x = 2", "You found x = 2 but missed x = 3."), ("x = 3 or x = 5", "Not a root: x = 5.")],
)
def test_the_feedback_on_roots_says_which_is_missing_or_wrong(answer, said):
    text = quizzes.grading({"questions": [{"question_text": QUADRATIC}]}, [answer]).text
    assert "the answer is x = 2 or x = 3" in text and said in text and "(x - 3)(x - 2)" in text


@pytest.mark.parametrize(
    "question, rule",
    [
        ("What is the derivative of 2x^3 - 5x^2 + 4x + 7?", "power rule"),
        ("Differentiate cos(4x + 1) with respect to x.", "chain rule"),
        ("Differentiate x^3 cos(x) with respect to x.", "product rule"),
    ],
)
def test_the_derivative_s_feedback_names_its_rule(question, rule):
    text = quizzes.grading({"questions": [{"question_text": question}]}, ["x^3"]).text
    assert "Not quite" in text and rule in text


HOSTILE = [
    "7" * 10_000,
    "x" * 10_000,
    "(" * 10_000,
    "__import__('os')",
    "__import__('os').system('true')",
    "x**99999999",
    "10^10^10",
    "(x+1)^999",
    "x = " + "9" * 500,
]


@pytest.mark.parametrize("answer", HOSTILE)
@pytest.mark.parametrize("question", [QUADRATIC, SYSTEM, CUBE])
def test_a_hostile_answer_is_graded_wrong_without_an_error(question, answer):
    graded = quizzes.grading({"questions": [{"question_text": question}]}, [answer])
    assert (graded.right, graded.checked) == (0, 1)
    assert "7777777777" not in graded.text  # a 10,000-character answer is not repeated back


def test_a_10000_digit_answer_to_a_linear_equation_is_wrong_rather_than_an_error():
    graded = quizzes.grading({"questions": [{"question_text": "Solve 2x + 1 = 7. What is x?"}]}, ["7" * 10_000])
    assert (graded.right, graded.checked) == (0, 1)


def _quiz(*history, ask="give me a quiz"):
    definition = {
        "name": "display_quiz",
        "parameters": {"type": "object", "properties": {"questions": {"type": "array"}}},
    }
    messages = [{"role": "user", "content": text} for text in (*history, ask)]
    reply = compose(
        ModelRequest(model="offline", messages=messages, tools=[{"type": "function", "function": definition}])
    )
    ((name, arguments),) = reply.tool_calls
    return reply.text, json.loads(arguments)["title"]


@pytest.mark.parametrize(
    "ask, title",
    [
        ("Give me a quiz on quadratics", "Algebra quiz: quadratic equations"),
        ("quiz me on factoring", "Algebra quiz: quadratic equations"),
        ("a quiz on quadratic equations please", "Algebra quiz: quadratic equations"),
        ("quiz me on systems", "Algebra quiz: systems of linear equations"),
        ("test me on simultaneous equations", "Algebra quiz: systems of linear equations"),
        ("quiz me on derivatives", "Calculus quiz: derivatives"),
        ("practice questions on differentiation", "Calculus quiz: derivatives"),
        ("a calculus quiz", "Calculus quiz: derivatives"),
    ],
)
def test_a_named_topic_gets_its_bank_whatever_came_before(ask, title):
    for history in ((), ("What is the interior angle of a regular decagon?",)):
        text, given = _quiz(*history, ask=ask)
        assert given == title and "no quiz on" not in text


@pytest.mark.parametrize(
    "history, title",
    [
        (("Solve x^2 - 5x + 6 = 0",), "Algebra quiz: quadratic equations"),
        (("How do I factorise x^2 + 7x + 12?",), "Algebra quiz: quadratic equations"),
        (("Solve x + y = 10 and x - y = 2",), "Algebra quiz: systems of linear equations"),
        (("differentiate x^3 sin x",), "Calculus quiz: derivatives"),
        (("what is the derivative of cos(2x)?", "thanks!"), "Calculus quiz: derivatives"),
    ],
)
def test_the_conversation_s_recent_topic_picks_the_bank(history, title):
    text, given = _quiz(*history)
    assert given == title and "no quiz on" not in text


def test_only_a_squared_unknown_or_the_word_makes_a_quadratics_quiz():
    assert _quiz("Solve x^2 + 3x = 10")[1] == "Algebra quiz: quadratic equations"
    assert _quiz("Solve 3x + 11 = 14")[1] == "Algebra quiz: linear equations"
    assert _quiz("factor 360 into primes")[1] == "Arithmetic quiz"
    assert _quiz("What is the interior angle of a regular decagon?", ask="test me on linear equations")[1] == (
        "Algebra quiz: linear equations"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "ask, title",
    [
        ("Give me a quiz on quadratics", "Algebra quiz: quadratic equations"),
        ("quiz me on simultaneous equations", "Algebra quiz: systems of linear equations"),
        ("quiz me on derivatives", "Calculus quiz: derivatives"),
    ],
)
async def test_a_bank_s_quiz_runs_end_to_end_and_the_attempt_is_recorded_with_its_score(
    quiz_thread, quiz_tutor, ask, title
):
    run = await sync_to_async(lambda: post_message(quiz_thread, ask, quiz_tutor, start=False)[1])()
    await executor.execute(run.id)
    await sync_to_async(run.refresh_from_db)()
    assert run.status == "requires_action"
    (call,) = run.required_action["submit_tool_outputs"]["tool_calls"]
    quiz = json.loads(call["function"]["arguments"])
    assert quiz["title"] == title
    # Every answer right but the last, written as a student would rather than as the key is.
    solved = [quizzes.solve_question(q["question_text"]) for q in quiz["questions"]]
    answers = [_as_a_student_writes(s) for s in solved[:-1]] + ["I don't know"]
    await sync_to_async(submit_tool_outputs)(
        run, [{"tool_call_id": call["id"], "output": json.dumps(answers)}], start=False
    )
    await executor.execute(run.id)
    await sync_to_async(run.refresh_from_db)()
    assert run.status == "completed"
    grading = await sync_to_async(lambda: Message.objects.filter(run=run).order_by("seq").last().text)()
    attempt = await sync_to_async(QuizAttempt.objects.get)(run=run)
    total = len(quiz["questions"])
    assert (attempt.score, attempt.max_score) == (total - 1, total) and attempt.title == title
    assert attempt.feedback == grading and grading.count("**Correct!**") == total - 1
    assert f"the answer is {solved[-1].shown}" in grading


def _as_a_student_writes(solution) -> str:
    if solution.form == "roots":
        return ", ".join(str(root) for root in reversed(solution.value))
    if solution.form == "pair":
        return f"y = {solution.value[1]} and x = {solution.value[0]}"
    return solution.shown.replace("^", "**")
