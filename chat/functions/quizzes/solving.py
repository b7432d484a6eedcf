"""Working a quiz question out from its own text, never from a stored key: polygon angle
formulas, solving an equation (linear or quadratic) or a pair of them, differentiating,
evaluating arithmetic. Math in a question is read like a student's answer (``mathparse``
with its size checks), since another model may have written the question."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from chat.functions.quizzes.answers import expression_in
from chat.functions.quizzes.topics import POLYGONS
from chat.providers.offline.mathparse import MathError, read

X, Y = sp.symbols("x y")
NUMBER, ROOTS, PAIR, EXPRESSION = "number", "roots", "pair", "expression"  # a Solution's form


@dataclass(frozen=True)
class Solution:
    value: object  # a number, a tuple of roots or of (x, y), or an expression
    shown: str  # the answer as the tutor would write it
    why: str
    unknown: str | None = None  # the letter an equation is solved for ("x")
    form: str = NUMBER  # how a student's answer is read and compared (see grading.grade)


def degrees(value: Fraction | sp.Expr) -> str:
    number = sp.nsimplify(value)
    text = str(number) if number.is_Integer else f"{float(number):.2f}".rstrip("0").rstrip(".")
    return f"{text} degrees"


def math_text(expr: sp.Expr) -> str:
    """An expression as a student would type it: "6x^2 - 10x", "2x sin(x) + x^2 cos(x)"."""
    text = str(expr).replace("**", "^").replace(")*(", ")(")
    text = re.sub(r"(?<![\^\d.])(\d+)\*(?=[a-z(])", r"\1", text)  # a coefficient, not an exponent
    return text.replace("*", " ")


def roots_text(roots) -> str:
    return " or ".join(f"x = {root}" for root in roots)


def pair_text(x, y) -> str:
    return f"x = {x}, y = {y}"


def _polygon(name: str) -> int | None:
    return POLYGONS.get(name.lower().rstrip("s"))


def _read_expression(text: str) -> sp.Expr:
    """A question's math as a plain expression string, read with mathparse's size checks."""
    return read(text.replace("×", "*").replace("÷", "/").replace("−", "-").strip())[1]


def solve_question(question: str) -> Solution | None:
    """Work out a question's answer from its own text, or None when it is not one I can check."""
    for solver in (_angles, _system, _derivative, _equation, _arithmetic):
        try:
            if solution := solver(question):
                return solution
        except MathError:
            return None
        except Exception:  # sympy raises many kinds (PolynomialError, NotImplementedError, TypeError...)
            return None
    return None


def _angles(question: str) -> Solution | None:
    if m := re.search(r"interior angle of a regular (\w+)", question, re.I):
        if n := _polygon(m[1]):
            total = (n - 2) * 180
            value = sp.Rational(total, n)
            return Solution(
                value,
                degrees(value),
                f"A regular {m[1]} has {n} equal angles that add up to ({n} − 2) × 180° = {total}°, so each is {total}° ÷ {n} = {degrees(value)}.",
            )
    if m := re.search(r"sum of the interior angles of an? (?:regular )?(\w+)", question, re.I):
        if n := _polygon(m[1]):
            total = (n - 2) * 180
            return Solution(
                sp.Integer(total),
                degrees(total),
                f"A {m[1]} splits into {n} − 2 = {n - 2} triangles of 180° each: ({n} − 2) × 180° = {total}°.",
            )
    if m := re.search(r"exterior angle of a regular (\w+)", question, re.I):
        if n := _polygon(m[1]):
            value = sp.Rational(360, n)
            return Solution(
                value,
                degrees(value),
                f"The exterior angles of any polygon add up to 360°, so each is 360° ÷ {n} = {degrees(value)}.",
            )
    return None


SIDE = r"[-+\dxy*/^(). ]+"  # one side of a linear equation in x and y
SYSTEM = re.compile(rf"(?<![\w^])({SIDE}={SIDE}?)\s+and\s+({SIDE}={SIDE}?)(?:\?|\.(?:\s|$)|,|$)", re.I)


def _linear(equation: str) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(a, b, c) of a·x + b·y = c."""
    left, right = (_read_expression(side) for side in equation.split("=", 1))
    difference = sp.expand(left - right)
    if not difference.free_symbols <= {X, Y} or sp.Poly(difference, X, Y).total_degree() != 1:
        raise ValueError("not a linear equation in x and y")
    return difference.coeff(X), difference.coeff(Y), -difference.subs({X: 0, Y: 0})


def _system(question: str) -> Solution | None:
    if not re.search(r"\by\b", question) or not (m := SYSTEM.search(question)):
        return None
    (a1, b1, c1), (a2, b2, c2) = _linear(m[1]), _linear(m[2])
    determinant = a1 * b2 - a2 * b1
    if determinant == 0:
        return None
    x, y = (c1 * b2 - c2 * b1) / determinant, (a1 * c2 - a2 * c1) / determinant
    first, second = m[1].strip(), m[2].strip()
    if b1 == -b2:
        step = f"Add the two equations to eliminate y: {a1 + a2}x = {c1 + c2}"
    elif b1 == b2:
        step = f"Subtract the second equation from the first to eliminate y: {a1 - a2}x = {c1 - c2}"
    else:
        step = f"Eliminate y: {b2} × ({first}) − {b1} × ({second}) gives {determinant}x = {c1 * b2 - c2 * b1}"
    helper = first if b1 else second
    why = f"{step}, so x = {x}. Put x = {x} into {helper}: y = {y}. Check: x = {x}, y = {y} makes both equations true."
    return Solution((x, y), pair_text(x, y), why, form=PAIR)


DERIVATIVE = re.compile(
    r"(?:derivative of|differentiate)\s+(?:[fy](?:\(x\))?\s*=\s*)?(.+?)"
    r"(?:\s+with respect to x\b|\?|\.(?:\s|$)|$)",
    re.I,
)
RULES = {
    "power": "the power rule (the derivative of xⁿ is n·xⁿ⁻¹, term by term; a constant's is 0)",
    "trig": "the derivatives of sine and cosine (sin x gives cos x, cos x gives −sin x)",
    "product": "the product rule ((u·v)′ = u′·v + u·v′)",
    "chain": "the chain rule (the outer function's derivative at the inside, times the inside's derivative)",
}


def _derivative(question: str) -> Solution | None:
    if not (m := DERIVATIVE.search(question)):
        return None
    function = expression_in(m[1])
    if function is None or not function.free_symbols <= {X} or X not in function.free_symbols:
        return None
    derivative = sp.expand(sp.diff(function, X)) if function.is_polynomial(X) else sp.diff(function, X)
    rules, steps = [], []
    for term in sp.Add.make_args(function):
        factors = [f for f in sp.Mul.make_args(term) if X in f.free_symbols]
        if len(factors) >= 2:
            u, v = factors[0], sp.Mul(*factors[1:])
            rules.append("product")
            steps.append(
                f"with u = {math_text(u)} and v = {math_text(v)}, u′ = {math_text(sp.diff(u, X))} "
                f"and v′ = {math_text(sp.diff(v, X))}"
            )
            factors = [u, v]
        for factor in factors:
            inner = factor.base if factor.is_Pow else factor.args[0] if factor.args else factor
            if factor.is_Pow and factor.base != X or isinstance(factor, (sp.sin, sp.cos)) and inner != X:
                rules.append("chain")
                outer = "the power" if factor.is_Pow else f"{type(factor).__name__}"
                steps.append(
                    f"the inside of {outer} is {math_text(inner)}, whose derivative is {math_text(sp.diff(inner, X))}"
                )
            if isinstance(factor, (sp.sin, sp.cos)):
                rules.append("trig")
            elif factor.is_polynomial(X):
                rules.append("power")
    named = list(dict.fromkeys(rules))
    said = (
        ", ".join(RULES[rule] for rule in named[:-1]) + " and " * (len(named) > 1) + RULES[named[-1]]
        if named
        else ("the rules of differentiation")
    )
    why = f"By {said}: " + ("; ".join(steps) + ", so " if steps else "")
    why += f"the derivative of {math_text(function)} is {math_text(derivative)}."
    return Solution(derivative, math_text(derivative), why, unknown="x", form=EXPRESSION)


def _equation(question: str) -> Solution | None:
    if not (m := re.search(r"solve\s+(.+?=.+?)(?:\s+for\s+x|[.?]|$)", question, re.I)):
        return None
    left, right = (_read_expression(side) for side in m[1].split("=", 1))
    difference = sp.expand(left - right)
    if difference.free_symbols != {X}:
        return None
    if sp.degree(difference, X) == 2:
        return _quadratic(m[1].strip(), difference)
    roots = sp.solve(sp.Eq(left, right), X)
    if len(roots) != 1:
        return None
    root = roots[0]
    if sp.degree(difference, X) == 1:
        k, c = difference.coeff(X, 1), difference.coeff(X, 0)
        why = f"Move the numbers to one side: {k}x = {-c}; then divide both sides by {k}: x = {root}."
    else:
        why = f"Solving {m[1].strip()} gives x = {root}."
    return Solution(
        root, f"x = {root}", why + f" Check: putting x = {root} back in makes both sides equal.", unknown="x"
    )


def _quadratic(equation: str, difference: sp.Expr) -> Solution | None:
    roots = sorted(set(sp.solve(difference, X)), key=lambda r: float(r) if r.is_real else 0)
    if not roots or not all(root.is_real for root in roots):
        return None
    factored = sp.factor(difference)
    a, b, c = sp.Poly(difference, X).all_coeffs()
    if len(roots) == 1:
        how = (
            f"{math_text(difference)} = {math_text(factored)}, a perfect square, which is 0 only when "
            f"x = {roots[0]}: a double root, the one answer."
        )
    elif b == 0 and all(root.is_rational for root in roots):
        how = (
            f"{math_text(difference)} = {math_text(factored)}, a difference of two squares, which is 0 when "
            f"either bracket is: {roots_text(roots)}."
        )
    elif all(root.is_rational for root in roots):
        how = (
            f"Find two numbers that multiply to {c / a} and add up to {-b / a}: {math_text(difference)} = "
            f"{math_text(factored)}, which is 0 when either bracket is: {roots_text(roots)}."
        )
    else:
        how = f"Solving {equation} gives {roots_text(roots)}."
    check = f" Check: each value makes {math_text(difference)} equal 0."
    return Solution(tuple(roots), roots_text(roots), how + check, unknown="x", form=ROOTS)


def _arithmetic(question: str) -> Solution | None:
    if not (m := re.search(r"what is ([-\d\s+×x*/÷().−]+?)\s*\?", question, re.I)):
        return None
    value = _read_expression(m[1].replace("x", "*") if "×" not in m[1] else m[1])
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
