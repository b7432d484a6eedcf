"""Reading what a student types as an answer: a number ("108 degrees", "x = 14/2 = 7"), the
roots of a quadratic ("x = 2 or x = 3", "{2, 3}"), a pair ("(2, -1)", "y=-1 and x=2") or an
expression ("3 x^2"). Expressions go through the offline model's own tokenizer and
``mathparse.read`` with its size checks: a student's text is never handed to sympy as code.
"""

from __future__ import annotations

import re

import sympy as sp

from chat.providers.offline.mathparse import MAX_TEXT, MathError, normalize, read, render, runs, tidy

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?")
VALUE = re.compile(r"(?<![\^a-zA-Z_])" + NUMBER.pattern)  # a value given, not the 2 of "x^2" or "x2"
# "x = 3", not the "2x = 6" before it: the unknown alone, assigned a value.
ASSIGNMENT = r"(?<![\w.]){}\s*="
# Where an assignment's own chain ("x = 12 - 5 = 7") ends and a check or aside begins.
ASIDE = re.compile(r"[(\[;]|\bcheck|\bbecause\b|\bsince\b", re.I)
PLUS_MINUS = re.compile(r"(?:±|\+/-|\+-)\s*(\d+(?:\.\d+)?(?:\s*/\s*\d+)?)")
MAX_NUMBER = 30  # digits of a number worth reading in an answer


def too_long(answer: str) -> bool:
    """An answer longer than any message the tutor reads is not read at all (and is wrong)."""
    return len(answer) > MAX_TEXT


def _number(text: str) -> sp.Expr | None:
    text = text.replace(" ", "")
    if len(text) > MAX_NUMBER:
        return None
    return sp.nsimplify(text, rational=True)


def number_in(answer: str, unknown: str | None = None) -> sp.Expr | None:
    """The number a student's answer gives ("108 degrees", "x = 1", "3/4"), or None;
    for an equation's ``unknown``, the value last assigned to it."""
    text = answer.replace("−", "-").replace(",", "")
    assignments = list(re.finditer(ASSIGNMENT.format(re.escape(unknown)), text)) if unknown else []
    if assignments:
        # The last "x = N" wins over the numbers of a check after it ("x = 3 (check: 2·3+1 = 7)").
        text = text[assignments[-1].start() :]
        aside = ASIDE.search(text)
        text = text[: aside.start()] if aside else text
    # After the last "=" if there is one ("x = 12 - 5 = 7"), otherwise the first number.
    text = text.split("=")[-1] if "=" in text else text
    m = NUMBER.search(text)
    return None if m is None else _number(m[0])


def roots_in(answer: str, unknown: str = "x") -> list[sp.Expr]:
    """Every value a student gives for ``unknown``: "x = 2 or x = 3", "x=2,x=3", "2, 3",
    "3 and 2", "{2, 3}", "x = ±7". With an assignment, only what follows the first one
    counts, so the working before it ("(x - 2)(x - 3) = 0, so x = 2 or x = 3") does not."""
    text = answer.replace("−", "-")
    first = re.search(ASSIGNMENT.format(re.escape(unknown)), text)
    if first:
        text = text[first.start() :]
        aside = ASIDE.search(text)
        text = text[: aside.start()] if aside else text
        text = re.sub(ASSIGNMENT.format(re.escape(unknown)), " ", text)
    values = []
    for m in PLUS_MINUS.finditer(text):
        value = _number(m[1])
        values += [] if value is None else [value, -value]
    for m in VALUE.finditer(PLUS_MINUS.sub(" ", text)):
        if (value := _number(m[0])) is not None:
            values.append(value)
    return values


def pair_in(answer: str, unknowns: tuple[str, str] = ("x", "y")) -> tuple[sp.Expr, sp.Expr] | None:
    """The values of two unknowns: each one's last assignment ("x = 2, y = -1", "y=-1 and
    x=2"), else an ordered pair in that order ("(2, -1)"); None when the answer gives neither."""
    text = answer.replace("−", "-")
    starts = {u: [m.start() for m in re.finditer(ASSIGNMENT.format(re.escape(u)), text)] for u in unknowns}
    if all(starts.values()):
        values = []
        for unknown in unknowns:
            start = starts[unknown][-1]
            # This assignment runs up to the next assignment of the other unknown.
            end = min([s for u, ss in starts.items() if u != unknown for s in ss if s > start], default=len(text))
            values.append(number_in(text[start:end], unknown))
        return None if None in values else (values[0], values[1])
    numbers = [_number(m[0]) for m in VALUE.finditer(text)]
    if len(numbers) == 2 and None not in numbers:
        return numbers[0], numbers[1]
    return None


def expression_in(answer: str) -> sp.Expr | None:
    """The expression a student gives ("3x^2", "3*x**2", "3 x^2", "f'(x) = 6x cos(x^2)"):
    what follows the last "=", its longest stretch of math, read by ``mathparse.read``.
    None when there is none, or when it is too large to read safely."""
    text = normalize(answer[:MAX_TEXT]).split("=")[-1]
    pieces = [render(tokens) for tokens in (tidy(run) for run in runs(text)) if tokens]
    if not pieces:
        return None
    try:
        return read(max(pieces, key=len))[1]
    except MathError:
        return None
