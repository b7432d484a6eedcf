"""Writing a quiz on a topic: one multiple-choice question and one or two to answer in the
student's own words, with numbers drawn from a seed (the conversation), so different
students get different numbers and the same request the same quiz. Every question is one
``solving.solve_question`` can work out again from its text."""

from __future__ import annotations

import hashlib
import random
import re
from fractions import Fraction

import sympy as sp

from chat.functions.quizzes.solving import X, degrees, math_text, pair_text, roots_text
from chat.functions.quizzes.topics import POLYGONS

MULTIPLE_CHOICE, FREE_RESPONSE = "MULTIPLE_CHOICE", "FREE_RESPONSE"


def _seed(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _choices(correct, distractors, fmt) -> list[str]:
    values = sorted({correct, *distractors}, key=float)
    return [fmt(v) for v in values]


def _shuffled(rng: random.Random, correct: str, *distractors: str) -> list[str]:
    choices = list(dict.fromkeys((correct, *distractors)))
    rng.shuffle(choices)
    return choices


def _nonzero(rng: random.Random, low: int, high: int, *besides: int) -> int:
    return rng.choice([n for n in range(low, high + 1) if n and n not in besides])


def _linear_text(a: int, b: int, c: int) -> str:
    """a·x + b·y = c as written by hand: "3x + y = 7", "x - 2y = -7"."""
    return f"{math_text(a * X + b * sp.Symbol('y'))} = {c}"


def write_quiz(topic: str, seed_text: str) -> dict:
    """Arguments for display_quiz on ``topic`` (a key of topics.TOPIC_NAMES)."""
    seed = _seed(seed_text)
    writer = {
        "geometry": _geometry,
        "algebra": _algebra,
        "quadratics": _quadratics,
        "systems of equations": _systems,
        "derivatives": _derivatives,
    }.get(topic, _arithmetic)
    return writer(seed, seed_text)


def _geometry(seed: int, seed_text: str) -> dict:
    names = ["pentagon", "hexagon", "octagon", "decagon"]
    # The polygon the conversation was about comes first, so the quiz stays on topic.
    mentioned = [name for name in POLYGONS if re.search(rf"\b{name}s?\b", seed_text, re.I) and POLYGONS[name] > 4]
    first = mentioned[-1] if mentioned else names[seed % 4]
    second = [name for name in names if name != first][seed % 3]
    n = POLYGONS[first]
    interior = Fraction((n - 2) * 180, n)
    questions = [
        {
            "question_text": f"What is the measure of each interior angle of a regular {first}?",
            "question_type": MULTIPLE_CHOICE,
            "choices": _choices(
                interior, [Fraction(360, n), Fraction((n - 2) * 180), Fraction((n - 1) * 180, n + 1)], degrees
            ),
        },
        {
            "question_text": f"What is the sum of the interior angles of a {second}? Explain how you found it.",
            "question_type": FREE_RESPONSE,
        },
    ]
    return {"title": "Geometry quiz: angles of polygons", "questions": questions}


def _algebra(seed: int, seed_text: str) -> dict:
    a, x, b = 2 + seed % 5, 1 + (seed // 5) % 6, 3 + (seed // 30) % 9
    c = a * x + b
    a2, x2, b2 = 3 + (seed // 7) % 4, 2 + (seed // 11) % 5, 1 + (seed // 13) % 8
    questions = [
        {
            "question_text": f"Solve {a}x + {b} = {c}. What is x?",
            "question_type": MULTIPLE_CHOICE,
            "choices": _choices(x, [x + 1, -x, Fraction(c + b, a)], lambda v: f"x = {sp.nsimplify(v)}"),
        },
        {
            "question_text": f"Solve {a2}x - {b2} = {a2 * x2 - b2} for x, and show your steps.",
            "question_type": FREE_RESPONSE,
        },
    ]
    return {"title": "Algebra quiz: linear equations", "questions": questions}


def _quadratics(seed: int, seed_text: str) -> dict:
    """A difference of squares to choose the roots of (its classic slip: only the positive
    root), a trinomial with two integer roots, and a perfect square with its double root."""
    rng = random.Random(seed)
    k = rng.randint(2, 9)
    r1 = _nonzero(rng, -6, 6)
    r2 = _nonzero(rng, -6, 6, r1, -r1)
    d = _nonzero(rng, -7, 7)
    every = "Give every value of x that works."
    questions = [
        {
            "question_text": f"Which values of x solve {math_text(X**2 - k * k)} = 0?",
            "question_type": MULTIPLE_CHOICE,
            "choices": _shuffled(rng, roots_text((-k, k)), f"x = {k}", f"x = {k * k}", roots_text((-k * k, k * k))),
        },
        {
            "question_text": f"Solve {math_text(sp.expand((X - r1) * (X - r2)))} = 0. {every}",
            "question_type": FREE_RESPONSE,
        },
        {"question_text": f"Solve {math_text(sp.expand((X - d) ** 2))} = 0. {every}", "question_type": FREE_RESPONSE},
    ]
    return {"title": "Algebra quiz: quadratic equations", "questions": questions}


def _systems(seed: int, seed_text: str) -> dict:
    """A pair to choose (its slips: x and y swapped, the right-hand sides taken for the
    answer) and a pair to solve by elimination, each with an integer solution."""
    rng = random.Random(seed)
    x = _nonzero(rng, -5, 6)
    y = _nonzero(rng, -5, 6, x)
    x2, y2 = _nonzero(rng, -4, 5), _nonzero(rng, -4, 5)
    a1, b2 = rng.randint(2, 4), -rng.randint(1, 3)
    questions = [
        {
            "question_text": f"Which pair solves {_linear_text(1, 1, x + y)} and {_linear_text(1, -1, x - y)}?",
            "question_type": MULTIPLE_CHOICE,
            "choices": _shuffled(
                rng, pair_text(x, y), pair_text(y, x), pair_text(x + y, x - y), pair_text(x + 1, y + 1)
            ),
        },
        {
            "question_text": f"Solve the simultaneous equations {_linear_text(a1, 1, a1 * x2 + y2)} and "
            f"{_linear_text(1, b2, x2 + b2 * y2)}. Give x and y.",
            "question_type": FREE_RESPONSE,
        },
    ]
    return {"title": "Algebra quiz: systems of linear equations", "questions": questions}


def _derivatives(seed: int, seed_text: str) -> dict:
    """A polynomial (the power rule) to choose the derivative of, its wrong choices the
    usual slips; then a sine, cosine or power of a linear expression (the chain rule) and a
    product of a power and a sine or cosine (the product rule) to differentiate."""
    rng = random.Random(seed)
    a, b, c, d = rng.randint(2, 5), _nonzero(rng, -6, 6), rng.randint(1, 9), rng.randint(1, 9)
    polynomial = a * X**3 + b * X**2 + c * X + d
    right = sp.diff(polynomial, X)
    slips = (
        3 * a * X**3 + 2 * b * X**2 + c * X,
        a * X**2 + b * X + c,
        right + d,
    )  # power kept, not multiplied, constant kept
    k, m, n = rng.randint(2, 5), _nonzero(rng, -5, 5), rng.randint(2, 4)
    trig = rng.choice((sp.sin, sp.cos))
    chain = rng.choice((trig(k * X), trig(k * X + m), (k * X + m) ** n))
    product = X ** rng.randint(1, 3) * rng.choice((sp.sin, sp.cos))(X)
    with_respect = "with respect to x."
    questions = [
        {
            "question_text": f"What is the derivative of {math_text(polynomial)}?",
            "question_type": MULTIPLE_CHOICE,
            "choices": _shuffled(rng, math_text(right), *(math_text(slip) for slip in slips)),
        },
        {"question_text": f"Differentiate {math_text(chain)} {with_respect}", "question_type": FREE_RESPONSE},
        {"question_text": f"Differentiate {math_text(product)} {with_respect}", "question_type": FREE_RESPONSE},
    ]
    return {"title": "Calculus quiz: derivatives", "questions": questions}


def _arithmetic(seed: int, seed_text: str) -> dict:
    a, b = 6 + seed % 7, 4 + (seed // 7) % 6
    p, q, r = 2 + (seed // 3) % 8, 3 + (seed // 5) % 5, 2 + (seed // 9) % 4
    questions = [
        {
            "question_text": f"What is {a} × {b}?",
            "question_type": MULTIPLE_CHOICE,
            "choices": _choices(a * b, [a * b + a, a * b - b, a + b], lambda v: str(v)),
        },
        {
            "question_text": f"What is {p} + {q} × {r}? Remember the order of operations.",
            "question_type": FREE_RESPONSE,
        },
    ]
    return {"title": "Arithmetic quiz", "questions": questions}
