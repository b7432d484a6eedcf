"""Grading a student's answers: each question worked out again from its text
(``solving.solve_question``), the answer read in that solution's form (``answers``) and
compared, with the worked solution as feedback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import sympy as sp

from chat.functions.quizzes.answers import expression_in, number_in, pair_in, roots_in, too_long
from chat.functions.quizzes.solving import EXPRESSION, PAIR, ROOTS, Solution, X, roots_text, solve_question
from chat.providers.offline.model import full_stop

# Points where two derivatives are compared. Two expressions of the banks' kinds (polynomials,
# sines and cosines of linear arguments, their products) that agree at all of these are
# equal; ``sp.simplify`` would say so too, but a student's crafted expression could keep it
# busy for seconds on the thread that grades.
SAMPLE_POINTS = (
    sp.Rational(7, 10), sp.Rational(-13, 10), sp.Rational(23, 10), sp.Rational(31, 7),
    sp.Rational(-17, 11), sp.Rational(1, 3), sp.sqrt(2), sp.pi / 5,
)


class Graded(NamedTuple):
    correct: bool | None  # None when the question cannot be checked by rule
    solution: Solution | None
    hint: str = ""  # what in particular is wrong, when that can be said


def grade(question: dict, answer: str) -> Graded:
    """Whether ``answer`` is right, read in the form the question's solution takes."""
    solution = solve_question(str(question.get("question_text", "")))
    if solution is None:
        return Graded(None, None)
    answer = answer or ""
    if too_long(answer):
        return Graded(False, solution)
    if solution.form == ROOTS:
        return _grade_roots(solution, roots_in(answer))
    if solution.form == PAIR:
        given = pair_in(answer)
        return Graded(
            given is not None and all(sp.simplify(g - v) == 0 for g, v in zip(given, solution.value, strict=True)),
            solution,
        )
    if solution.form == EXPRESSION:
        given = expression_in(answer)
        return Graded(given is not None and same_expression(given, solution.value), solution)
    given = number_in(answer, solution.unknown)
    return Graded(given is not None and bool(sp.simplify(given - solution.value) == 0), solution)


def _grade_roots(solution: Solution, given: list[sp.Expr]) -> Graded:
    roots, found = set(solution.value), set(given)
    if found == roots:
        return Graded(True, solution)
    wrong, missing = sorted(found - roots, key=float), sorted(roots - found, key=float)
    hints = []
    if missing and found & roots:
        hints.append(f"You found {roots_text(sorted(found & roots, key=float))} but missed {roots_text(missing)}.")
    if wrong:
        hints.append(f"Not a root: {', '.join(f'x = {value}' for value in wrong)}.")
    return Graded(False, solution, " ".join(hints))


def same_expression(given: sp.Expr, expected: sp.Expr) -> bool:
    """Whether two expressions in x are equal: equal values at every sample point (an
    expression undefined at one is not the expected one)."""
    if not given.free_symbols <= {X}:
        return False
    difference = given - expected
    for point in SAMPLE_POINTS:
        value = difference.subs(X, point).evalf(15)
        if not (value.is_number and value.is_finite) or abs(complex(value)) > 1e-9:
            return False
    return True


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
        correct, solution, hint = grade(question, answer)
        if not (answer or "").strip():
            shown = "nothing"
        else:
            shown = "an answer too long to read" if too_long(answer) else f"“{answer.strip()}”"
        if correct is None:
            verdict = "I can't check this one by rule, so I'll leave it for your tutor."
        elif correct:
            right += 1
            checked += 1
            verdict = f"**Correct!** {solution.why}"
        else:
            checked += 1
            verdict = (
                f"**Not quite**: the answer is {solution.shown}. {full_stop(hint) + ' ' if hint else ''}{solution.why}"
            )
        lines.append(f"{index + 1}. {text} {full_stop(f'You answered {shown}')} {verdict}")
    lines.append("")
    if checked:
        lines.append(
            f"You got {right} of {checked} right."
            + (" Well done!" if right == checked else " Ask me about any step you'd like to go over.")
        )
    return Grading("\n".join(lines), right, checked)
