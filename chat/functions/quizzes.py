"""The offline tutor's quizzes: writing a short quiz on the thread's topic, and grading
a student's answers by working each question out again from its text (polygon angle
formulas, solving the equation, evaluating the arithmetic) — never from a stored key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from chat.functions.models import QUIZ_FUNCTION, is_quiz_function  # noqa: F401 (the skills' names)
from chat.providers.offline.mathparse import extract, parse
from chat.providers.offline.model import full_stop

MULTIPLE_CHOICE, FREE_RESPONSE = "MULTIPLE_CHOICE", "FREE_RESPONSE"

POLYGONS = {
    "triangle": 3, "quadrilateral": 4, "square": 4, "pentagon": 5, "hexagon": 6, "heptagon": 7,
    "octagon": 8, "nonagon": 9, "decagon": 10, "dodecagon": 12,
}
GEOMETRY_WORDS = re.compile(r"angle|polygon|triangle|pentagon|hexagon|octagon|geometr|shape|degree", re.I)
ALGEBRA_WORDS = re.compile(r"equation|solve|algebra|linear|\bx\b|variable", re.I)


def _seed(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _degrees(value: Fraction | sp.Expr) -> str:
    number = sp.nsimplify(value)
    text = str(number) if number.is_Integer else f"{float(number):.2f}".rstrip("0").rstrip(".")
    return f"{text} degrees"


def topic_of(texts: list[str]) -> str:
    return quiz_topic(texts)[0]


# Topics a conversation can be about that I have no quiz for: (name, words that show it).
# Each maps to the quiz I write instead (its nearest), and the reply says so.
SYSTEM_WORDS = re.compile(r"\bsystems? of (?:linear )?equations\b|\bsimultaneous equations\b", re.I)
CALCULUS_WORDS = re.compile(r"\b(?:calculus|derivatives?|differentiat\w*|integra\w*|antiderivatives?|limits?)\b", re.I)
PLOT_WORDS = re.compile(r"\b(?:plot|graph|chart|draw|sketch)\b", re.I)
TOPIC_NAMES = {"geometry": "angles of polygons", "algebra": "linear equations", "arithmetic": "arithmetic"}


def topic_of_message(text: str) -> str | None:
    """The topic one message is about: a quiz topic (geometry, algebra, arithmetic), one I
    have no quiz for ("systems of equations", "calculus", "graphs"), "other" for a message
    with no math (a question about a paper), or None for one that names no topic at all."""
    request = extract(text)
    equations = [c for c in request.candidates if c.count("=") == 1] if request else []
    if GEOMETRY_WORDS.search(text) and not PLOT_WORDS.search(text):
        return "geometry"
    if SYSTEM_WORDS.search(text) or len(equations) >= 2:
        return "systems of equations"
    if CALCULUS_WORDS.search(text) or request and request.intent in {"diff", "integrate", "limit"}:
        return "calculus"
    if PLOT_WORDS.search(text):
        return "graphs of functions"
    if equations or re.search(r"\b(?:equations?|algebra|solve for)\b", text, re.I):
        return "algebra"
    if request and request.candidates:
        return "arithmetic"
    return "other" if len(re.findall(r"[a-z]{3,}", text, re.I)) >= 3 else None


# A quiz request that names what it is on: "quiz me on X", "a quiz about X", "test me on X",
# "practice questions on X"; or "an X quiz", where X is taken only when it is a topic I
# know (else "a new quiz", "a harder quiz" would be topics).
NAMED_TOPIC = re.compile(
    r"\b(?:quiz(?:zes)?(?:\s+me)?|test\s+me|questions?(?:\s+to\s+test\s+me)?)\s+(?:on|about|in|covering)\s+"
    r"(?P<named>[^.?!;\n]+)",
    re.I,
)
TOPIC_BEFORE_QUIZ = re.compile(r"\b(?P<named>[a-z]+)\s+quiz", re.I)
# The words each quiz covers; a named topic with any other word is one I have no quiz on.
QUIZ_WORDS = {
    "geometry": set(
        "geometry angle angles polygon polygons interior exterior regular shape shapes degree degrees sum sums".split()
    )
    | set(POLYGONS)
    | {f"{name}s" for name in POLYGONS},
    "algebra": set("algebra equation equations linear solve solving variable variables unknown unknowns x".split()),
    "arithmetic": set(
        "arithmetic multiplication multiplying multiply times tables table addition adding subtraction subtracting "
        "order operations whole numbers number sums products mental".split()
    ),
}
# Words that name no topic: the request's own ("some", "practice") and those pointing back
# at the conversation ("this", "what we covered"), whose topic is in the messages before it.
NO_TOPIC_WORDS = frozenset(
    "a an the some my our me us you i we it this that these those what which just so far today's today "
    "talked talking discussed covered covering did done learned learning about above lesson conversation topic "
    "stuff material everything things thing basic basics simple easy hard short quick little math maths "
    "mathematics problems problem questions question practice skills level please now again more another "
    "and or of on in for with to".split()
)


def named_quiz_topic(text: str) -> tuple[str, str] | None:
    """(the quiz topic, a note) when ``text`` asks for a quiz and names its topic: that
    topic's quiz when I have one, else the nearest, and the note says I have none on what
    was named. None when it names no topic (then the conversation's is used)."""
    match = NAMED_TOPIC.search(text)
    before = None if match else TOPIC_BEFORE_QUIZ.search(text)
    if match is None and before is None:
        return None
    named = (match or before)["named"].strip(" ,:-'\"“”")
    words = [word for word in re.findall(r"[a-z']+", named.lower()) if word not in NO_TOPIC_WORDS]
    if not words:
        return None
    covering = [topic for topic, known in QUIZ_WORDS.items() if all(word in known for word in words)]
    if covering:
        return covering[0], ""
    topic = topic_of_message(named)
    if before and topic in (None, "other"):
        return None
    nearest = "algebra" if topic == "systems of equations" else topic if topic in TOPIC_NAMES else "arithmetic"
    named = named.split()
    while len(named) > 1 and named[-1].lower() in NO_TOPIC_WORDS:  # "logarithms please"
        named.pop()
    named = " ".join(named)
    if nearest == "arithmetic":
        return nearest, (
            f"I have no quiz on {named} yet, so this one is on arithmetic (I also write quizzes on "
            "linear equations and angles of polygons: just ask for one)."
        )
    return nearest, (
        f"I have no quiz on {named} yet, so this one is on {TOPIC_NAMES[nearest]}, the nearest topic I have a quiz for."
    )


def quiz_topic(texts: list[str], skip=lambda text: False) -> tuple[str, str]:
    """(the quiz topic, a note for the reply) from the conversation's most recent message
    that has a topic: a quiz request that names one (``named_quiz_topic``), else the last
    message about something (``skip`` passes over quiz requests, "why?" and the like). The
    note is empty when I have a quiz on that topic, else it says which quiz I write and why."""
    for text in reversed(texts):
        if named := named_quiz_topic(text):
            return named
        if skip(text):
            continue
        topic = topic_of_message(text)
        if topic in TOPIC_NAMES:
            return topic, ""
        if topic == "systems of equations":
            return "algebra", ("I have no quiz on systems of equations yet, so this one is on single linear "
                               "equations, the nearest topic I have a quiz for.")
        if topic is not None:
            what = "isn't about math" if topic == "other" else f"is about {topic}"
            return "arithmetic", (f"Our recent conversation {what}, and I only write quizzes on arithmetic, "
                                  "linear equations and angles of polygons, so this one is on arithmetic.")
    return "arithmetic", ("I found no topic in our conversation to quiz you on, so this one is on arithmetic "
                          "(I also write quizzes on linear equations and angles of polygons: just ask about one).")


def _choices(correct, distractors, fmt) -> list[str]:
    values = sorted({correct, *distractors}, key=float)
    return [fmt(v) for v in values]


def write_quiz(topic: str, seed_text: str) -> dict:
    """Arguments for display_quiz: one multiple-choice and one free-response question."""
    seed = _seed(seed_text)
    if topic == "geometry":
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
                "choices": _choices(interior, [Fraction(360, n), Fraction((n - 2) * 180), Fraction((n - 1) * 180, n + 1)], _degrees),
            },
            {
                "question_text": f"What is the sum of the interior angles of a {second}? Explain how you found it.",
                "question_type": FREE_RESPONSE,
            },
        ]
        return {"title": "Geometry quiz: angles of polygons", "questions": questions}
    if topic == "algebra":
        a, x, b = 2 + seed % 5, 1 + (seed // 5) % 6, 3 + (seed // 30) % 9
        c = a * x + b
        a2, x2, b2 = 3 + (seed // 7) % 4, 2 + (seed // 11) % 5, 1 + (seed // 13) % 8
        questions = [
            {
                "question_text": f"Solve {a}x + {b} = {c}. What is x?",
                "question_type": MULTIPLE_CHOICE,
                "choices": _choices(x, [x + 1, -x, Fraction(c + b, a)], lambda v: f"x = {sp.nsimplify(v)}"),
            },
            {"question_text": f"Solve {a2}x - {b2} = {a2 * x2 - b2} for x, and show your steps.", "question_type": FREE_RESPONSE},
        ]
        return {"title": "Algebra quiz: linear equations", "questions": questions}
    a, b = 6 + seed % 7, 4 + (seed // 7) % 6
    p, q, r = 2 + (seed // 3) % 8, 3 + (seed // 5) % 5, 2 + (seed // 9) % 4
    questions = [
        {
            "question_text": f"What is {a} × {b}?",
            "question_type": MULTIPLE_CHOICE,
            "choices": _choices(a * b, [a * b + a, a * b - b, a + b], lambda v: str(v)),
        },
        {"question_text": f"What is {p} + {q} × {r}? Remember the order of operations.", "question_type": FREE_RESPONSE},
    ]
    return {"title": "Arithmetic quiz", "questions": questions}


# --- grading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Solution:
    value: sp.Expr
    shown: str  # the answer as the tutor would write it
    why: str
    unknown: str | None = None  # the letter an equation is solved for ("x")


def _polygon(name: str) -> int | None:
    return POLYGONS.get(name.lower().rstrip("s"))


def _read_expression(text: str) -> sp.Expr:
    return parse(text.replace("×", "*").replace("÷", "/").replace("−", "-").strip(), evaluate=True)


def solve_question(question: str) -> Solution | None:
    """Work out a question's answer from its own text, or None when it is not one I can check."""
    if m := re.search(r"interior angle of a regular (\w+)", question, re.I):
        if n := _polygon(m[1]):
            total = (n - 2) * 180
            value = sp.Rational(total, n)
            return Solution(value, _degrees(value),
                            f"A regular {m[1]} has {n} equal angles that add up to ({n} − 2) × 180° = {total}°, so each is {total}° ÷ {n} = {_degrees(value)}.")
    if m := re.search(r"sum of the interior angles of an? (?:regular )?(\w+)", question, re.I):
        if n := _polygon(m[1]):
            total = (n - 2) * 180
            return Solution(sp.Integer(total), _degrees(total),
                            f"A {m[1]} splits into {n} − 2 = {n - 2} triangles of 180° each: ({n} − 2) × 180° = {total}°.")
    if m := re.search(r"exterior angle of a regular (\w+)", question, re.I):
        if n := _polygon(m[1]):
            value = sp.Rational(360, n)
            return Solution(value, _degrees(value), f"The exterior angles of any polygon add up to 360°, so each is 360° ÷ {n} = {_degrees(value)}.")
    if m := re.search(r"solve\s+(.+?=.+?)(?:\s+for\s+x|[.?]|$)", question, re.I):
        try:
            left, right = (_read_expression(side) for side in m[1].split("=", 1))
            x = sp.Symbol("x")
            roots = sp.solve(sp.Eq(left, right), x)
        except Exception:
            return None
        if len(roots) == 1:
            root = roots[0]
            difference = sp.expand(left - right)
            if sp.degree(difference, x) == 1:
                k, c = difference.coeff(x, 1), difference.coeff(x, 0)
                why = f"Move the numbers to one side: {k}x = {-c}; then divide both sides by {k}: x = {root}."
            else:
                why = f"Solving {m[1].strip()} gives x = {root}."
            return Solution(root, f"x = {root}", why + f" Check: putting x = {root} back in makes both sides equal.", unknown="x")
        return None
    if m := re.search(r"what is ([-\d\s+×x*/÷().−]+?)\s*\?", question, re.I):
        try:
            value = _read_expression(m[1].replace("x", "*") if "×" not in m[1] else m[1])
        except Exception:
            return None
        if value.is_number:
            return Solution(value, str(value), f"{m[1].strip()} = {value}{_order_of_operations(m[1])}.")
    return None


_TIMES = re.compile(r"[×x*/÷]")
_PLUS = re.compile(r"[\d)]\s*[-+−]")  # after an operand: a sum or difference, not a sign


def _order_of_operations(arithmetic: str) -> str:
    """The rule that decides the result, said only where it does: a product next to a sum."""
    if not (_TIMES.search(arithmetic) and _PLUS.search(arithmetic)):
        return ""
    if "(" in arithmetic:
        return " (brackets first, then multiplication and division before addition and subtraction)"
    return " (multiplication and division come before addition and subtraction)"


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?")
# "x = 3", not the "2x = 6" before it: the unknown alone, assigned a value.
ASSIGNMENT = r"(?<![\w.]){}\s*="
# Where an assignment's own chain ("x = 12 - 5 = 7") ends and a check or aside begins.
ASIDE = re.compile(r"[(\[;]|\bcheck|\bbecause\b|\bsince\b", re.I)


def number_in(answer: str, unknown: str | None = None) -> sp.Expr | None:
    """The number a student's answer gives ("108 degrees", "x = 1", "3/4"), or None;
    for an equation's ``unknown``, the value last assigned to it."""
    text = answer.replace("−", "-").replace(",", "")
    assignments = list(re.finditer(ASSIGNMENT.format(re.escape(unknown)), text)) if unknown else []
    if assignments:
        # The last "x = N" wins over the numbers of a check after it ("x = 3 (check: 2·3+1 = 7)").
        text = text[assignments[-1].start():]
        aside = ASIDE.search(text)
        text = text[: aside.start()] if aside else text
    # After the last "=" if there is one ("x = 12 - 5 = 7"), otherwise the first number.
    text = text.split("=")[-1] if "=" in text else text
    m = NUMBER.search(text)
    if m is None:
        return None
    return sp.nsimplify(m[0].replace(" ", ""), rational=True)


def grade(question: dict, answer: str) -> tuple[bool | None, Solution | None]:
    """(correct?, solution): correct is None when the question cannot be checked by rule."""
    solution = solve_question(str(question.get("question_text", "")))
    if solution is None:
        return None, None
    given = number_in(answer or "", solution.unknown)
    if given is None:
        return False, solution
    return bool(sp.simplify(given - solution.value) == 0), solution


@dataclass(frozen=True)
class Grading:
    text: str
    right: int
    checked: int  # the questions the rules could check: the score is right out of checked


def grading(quiz: dict, answers: list[str]) -> Grading:
    questions = quiz.get("questions") or []
    lines = [f"Here is how you did on **{quiz.get('title') or 'the quiz'}**:", ""]
    right = checked = 0
    for index, question in enumerate(questions):
        answer = answers[index] if index < len(answers) else ""
        text = str(question.get("question_text", "")).strip()
        correct, solution = grade(question, answer)
        shown = f"“{answer.strip()}”" if answer and answer.strip() else "nothing"
        if correct is None:
            verdict = "I can't check this one by rule, so I'll leave it for your tutor."
        elif correct:
            right += 1
            checked += 1
            verdict = f"**Correct!** {solution.why}"
        else:
            checked += 1
            verdict = f"**Not quite**: the answer is {solution.shown}. {solution.why}"
        lines.append(f"{index + 1}. {text} {full_stop(f'You answered {shown}')} {verdict}")
    lines.append("")
    if checked:
        lines.append(f"You got {right} of {checked} right." + (" Well done!" if right == checked else " Ask me about any step you'd like to go over."))
    return Grading("\n".join(lines), right, checked)
