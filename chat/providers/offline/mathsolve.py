"""Equations for the offline math tutor: the steps a teacher would show, then the answer.

Linear equations are walked through move by move (expand, collect the unknown on one side,
move the constant, divide); quadratics go through the discriminant and either factoring or
the quadratic formula; anything else is solved by sympy and listed. :class:`Writer` turns
sympy objects into the tutor's LaTeX and plain text, in decimals when the user wrote decimals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from chat.providers.offline.mathparse import MathError
from chat.providers.offline.model import literal

Side = tuple[sp.Expr, sp.Expr]  # (as written, evaluated)
MAX_SOLVE_DEGREE = 6  # highest polynomial degree we solve
MAX_OPS = 60  # operations in an equation we hand to sympy's general solver
PREFERRED = "xyztnuvwabcdpqrmk"  # the unknown, when the user didn't say


@dataclass(frozen=True)
class Writer:
    """Formats results; ``decimals`` shows 3/2 as 1.5 when the question used decimals."""

    decimals: bool = False

    def tex(self, expr: sp.Expr, written: bool = False) -> str:
        """LaTeX; ``written`` keeps the user's order of terms (for unevaluated input)."""
        return sp.latex(expr, order="none") if written else sp.latex(self._shown(expr))

    def plain(self, expr: sp.Expr) -> str:
        text = sp.sstr(self._shown(expr)).replace("**", "^")
        text = re.sub(r"\bI\b", "i", text)
        text = re.sub(r"(\d)\*(?=[a-zA-Z](?![a-zA-Z])|\()", r"\1", text)  # 3*x -> 3x
        return re.sub(r"(?<=[)a-zA-Z])\*(?=\()", "", text)  # (x - 3)*(x + 3) -> (x - 3)(x + 3)

    def say(self, expr: sp.Expr) -> str:
        """A number as a word-like "11", anything else as inline LaTeX."""
        if expr.is_Integer or self.is_decimal(expr):
            return self.plain(expr)
        return f"\\({self.tex(expr)}\\)"

    def approx(self, expr: sp.Expr) -> str:
        value = sp.N(expr, 6)
        if value.is_real and abs(value) < 1e15:
            return format(float(value), ".6g")
        if value.is_number and abs(value) < 1e15:
            re_part, im_part = (format(float(part), ".6g") for part in value.as_real_imag())
            return f"{re_part} {'-' if im_part.startswith('-') else '+'} {im_part.lstrip('-')}i"
        return self.plain(value)

    def is_decimal(self, expr: sp.Expr) -> bool:
        return self.decimals and expr.is_Rational and _decimal_text(expr) is not None

    def _shown(self, expr: sp.Expr) -> sp.Expr:
        return _decimalize(expr) if self.decimals else expr


def _decimal_text(number: sp.Rational) -> str | None:
    """"2.5" for 5/2; None when the decimal does not terminate within 12 places."""
    q = int(number.q)
    places = 0
    while q % 10 == 0 or q % 2 == 0 or q % 5 == 0:
        q //= 10 if q % 10 == 0 else 2 if q % 2 == 0 else 5
        places += 1
    if q != 1 or places > 12:
        return None
    digits = str(abs(int(number.p)) * 10**places // int(number.q)).rjust(places + 1, "0")
    sign = "-" if number < 0 else ""
    return sign + (digits[:-places] + "." + digits[-places:] if places else digits)


def _decimalize(expr: sp.Expr) -> sp.Expr:
    """Replace terminating fractions (not exponents) by decimals, leaving the rest intact."""
    if expr.is_Rational and not expr.is_Integer:
        text = _decimal_text(expr)
        digits = len(text.strip("-").replace(".", "").lstrip("0")) if text else 0
        return sp.Float(text, max(1, digits)) if text else expr
    if expr.is_Pow or not expr.args:
        return expr if not expr.is_Pow else sp.Pow(_decimalize(expr.base), expr.exp)
    args = [_decimalize(arg) for arg in expr.args]
    return expr.func(*args) if args != list(expr.args) else expr


def pick_var(symbols: set, hint: str | None) -> sp.Symbol:
    """The unknown: the one the user named, else x, y, z, t, n... in that order."""
    names = {symbol.name: symbol for symbol in symbols}
    for name in [hint or "", *PREFERRED]:
        if name in names:
            return names[name]
    return min(symbols, key=lambda s: s.name) if symbols else sp.Symbol(hint or "x")


def _eq(w: Writer, left: sp.Expr, right: sp.Expr, written: bool = False) -> str:
    return f"\\({w.tex(left, written)} = {w.tex(right, written)}\\)"


def answer_line(result: str) -> str:
    """The closing plain-text line, its formula safe from Markdown (``2x*cos(x)`` must not
    turn into emphasis)."""
    return f"\n\n**Answer:** {literal(result)}"


def _reply(heading: str, steps: list[str], result: str) -> str:
    # A step that only announces ("…gives:") with nothing after it says nothing: never shown.
    steps = [step for step in steps if step.strip() and not step.rstrip().endswith(":")]
    numbered = [f"{i}. {step}" for i, step in enumerate(steps, 1)]
    return "\n".join([heading, *numbered]) + answer_line(result)


# --- one equation -------------------------------------------------------------------------------


def solve_equation(sides: list[Side], hint: str | None, w: Writer) -> str:
    """Classify the equation (no unknown, degenerate, linear, quadratic, ...) and explain it."""
    (left_raw, left), (right_raw, right) = sides
    heading = f"To solve {_eq(w, left_raw, right_raw, written=True)}:"
    if (left - right).has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        raise MathError("That equation involves infinity or division by zero; I can't solve it.")
    if not (left.free_symbols | right.free_symbols):
        return check_statement(left, right, w)
    difference = sp.expand(left - right)
    if not difference.free_symbols:
        return degenerate(difference, w, pick_var(left.free_symbols | right.free_symbols, hint))
    var = pick_var(difference.free_symbols, hint)
    top, bottom = (sp.expand(part) for part in sp.fraction(sp.together(difference)))
    if bottom.has(var):
        return rational(top, bottom, var, heading, w)
    if not difference.is_polynomial(var):
        return general(left, right, var, heading, w)
    degree = sp.degree(difference, var)
    if degree == 1 and left.is_polynomial(var) and right.is_polynomial(var):
        steps, value = linear_steps(sides, var, w)
        if not steps:
            heading = f"{_eq(w, left_raw, right_raw, written=True)} already gives the unknown directly."
        return _reply(heading, steps, f"{var} = {w.plain(value)}")
    if degree == 2:  # numbers or letters as coefficients ("y = x^2 - 4" solved for x): the same steps
        return quadratic(difference, var, heading, w, moved=right != 0 or _has_brackets(left_raw))
    if degree > MAX_SOLVE_DEGREE:
        raise MathError(f"A degree-{degree} equation is beyond what I can solve exactly.")
    return _reply(heading, [f"This is a degree-{degree} equation, so I'll just list its solutions."],
                  _roots_text(var, higher_roots(difference, var), w))


def higher_roots(difference: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """Exact roots when they are short, else decimals (quintics have no formula at all)."""
    poly = sp.Poly(difference, var)
    if not all(c.is_number for c in poly.all_coeffs()):
        return sp.solve(difference, var)
    exact = sp.roots(poly)
    if sum(exact.values()) == poly.degree() and all(len(sp.sstr(r)) <= 40 for r in exact):
        return list(exact)
    return poly.nroots(n=6)


def check_statement(left: sp.Expr, right: sp.Expr, w: Writer) -> str:
    """No unknown: say whether the claim is true."""
    if sp.simplify(left - right) == 0:
        return f"Both sides equal \\({w.tex(left)}\\), so it's true.\n\n**Answer:** true"
    return (f"The left side is \\({w.tex(left)}\\) but the right side is \\({w.tex(right)}\\), "
            "so it's false." + answer_line(f"false ({w.plain(left)} ≠ {w.plain(right)})"))


def degenerate(difference: sp.Expr, w: Writer, var: sp.Symbol) -> str:
    """The unknown cancels out: either always true or never true."""
    if difference == 0:
        return (f"Both sides simplify to the same thing, so any value of \\({var}\\) works."
                f"\n\n**Answer:** every number is a solution")
    return (f"The \\({var}\\) terms cancel and leave \\({w.tex(difference)} = 0\\), which is never true."
            f"\n\n**Answer:** no solution")


def linear_steps(sides: list[Side], var: sp.Symbol, w: Writer) -> tuple[list[str], sp.Expr]:
    """The classic moves: tidy each side, unknown to the left, constant to the right, divide."""
    (left_raw, left), (right_raw, right) = sides
    left, right = sp.expand(left), sp.expand(right)
    steps = []
    if _has_brackets(left_raw) or _has_brackets(right_raw):
        steps.append(f"Expand the brackets: {_eq(w, left, right)}")
    elif _needs_collecting(left_raw, var) or _needs_collecting(right_raw, var):
        steps.append(f"Combine like terms: {_eq(w, left, right)}")
    a, b, c, d = left.coeff(var, 1), left.coeff(var, 0), right.coeff(var, 1), right.coeff(var, 0)
    if a == 0:
        a, b, c, d = c, d, a, b
        steps.append(f"Swap the sides: {_eq(w, a * var + b, d)}")
    elif c != 0:
        verb, term = _move(c * var)
        a = a - c
        steps.append(f"{verb} {w.say(term)} {_both(verb)}: {_eq(w, a * var + b, d)}")
    if b != 0:
        verb, term = _move(b)
        d = d - b
        steps.append(f"{verb} {w.say(term)} {_both(verb)}: {_eq(w, a * var, d)}")
    value = sp.simplify(d / a) if a.free_symbols else d / a
    if a == -1:
        steps.append(f"Multiply both sides by -1: {_eq(w, var, value)}")
    elif a.is_Rational and not a.is_Integer and not w.is_decimal(a):
        steps.append(f"Multiply both sides by {w.say(1 / a)}: {_eq(w, var, value)}")
    elif a != 1:
        steps.append(f"Divide both sides by {w.say(a)}: {_eq(w, var, value)}")
    return steps, value


def _move(term: sp.Expr) -> tuple[str, sp.Expr]:
    """Taking a term to the other side: subtract it, or add its opposite."""
    return ("Add", -term) if term.could_extract_minus_sign() else ("Subtract", term)


def _both(verb: str) -> str:
    return "to both sides" if verb == "Add" else "from both sides"


def _has_brackets(raw: sp.Expr) -> bool:
    """Whether the written form multiplies or raises a sum: 2(x - 3), (x + 1)^2, -(x + 1)."""
    for node in sp.preorder_traversal(raw):
        if node.is_Mul and any(arg.is_Add for arg in node.args):
            return True
        if node.is_Pow and node.base.is_Add and node.exp.is_Integer and node.exp > 1:
            return True
    return False


def _needs_collecting(raw: sp.Expr, var: sp.Symbol) -> bool:
    """Whether a written side has several terms of the same kind (2x + 3x, 4 + 1)."""
    terms = raw.args if raw.is_Add else (raw,)
    with_var = sum(1 for term in terms if term.has(var))
    return with_var > 1 or len(terms) - with_var > 1


def quadratic(poly: sp.Expr, var: sp.Symbol, heading: str, w: Writer, moved: bool) -> str:
    """Discriminant first; factor when it is a perfect square, else the quadratic formula."""
    a, b, c = sp.Poly(poly, var).all_coeffs()
    if a.could_extract_minus_sign():
        poly, a, b, c = -poly, -a, -b, -c
    steps = [f"Bring everything to one side: {_eq(w, poly, 0)}"] if moved else []
    disc = sp.expand(b**2 - 4 * a * c)
    steps.append(f"Discriminant: \\(\\Delta = b^2 - 4ac = {w.tex(disc)}\\)")
    roots = _ordered(sp.solve(poly, var))
    # Factored when the roots are rational (numbers) or the factors come out linear (letters).
    factored = sp.factor(poly)
    if disc.is_number and disc >= 0 and sp.sqrt(disc).is_Rational or not disc.is_number and all(
            sp.degree(f, var) <= 1 for f, _ in sp.factor_list(poly, var)[1]):
        steps.append(f"Factor: \\({w.tex(factored)} = 0\\)")
        if disc == 0:
            steps.append("\\(\\Delta = 0\\), so there is one (double) root.")
    else:
        top = (f"{w.tex(-b)} " if b != 0 else "") + f"\\pm \\sqrt{{{w.tex(disc)}}}"
        formula = f"\\frac{{{top}}}{{{w.tex(2 * a)}}}"
        general_form = "\\frac{-b \\pm \\sqrt{\\Delta}}{2a}"
        where = "" if a.is_number else f" (where \\({w.tex(a)} \\neq 0\\))"
        steps.append(f"Quadratic formula{where}: \\({var} = {general_form} = {formula}\\)")
        if disc.is_negative:
            steps.append("\\(\\Delta < 0\\), so there is no real solution, only complex ones.")
    return _reply(heading, steps, _roots_text(var, roots, w))


def rational(top: sp.Expr, bottom: sp.Expr, var: sp.Symbol, heading: str, w: Writer) -> str:
    """Unknown in a denominator: clear it, solve the numerator, drop roots that divide by 0."""
    if not top.is_polynomial(var) or sp.degree(top, var) > MAX_SOLVE_DEGREE:
        raise MathError("That equation is beyond what I can solve exactly.")
    step = f"Multiply through by \\({w.tex(sp.factor(bottom))}\\) (it can't be 0): {_eq(w, top, 0)}"
    roots = sp.solve(top, var) if top.has(var) else []
    kept = [root for root in roots if sp.simplify(bottom.subs(var, root)) != 0]
    steps = [step]
    for root in roots:
        if root not in kept:
            steps.append(f"\\({var} = {w.tex(root)}\\) is ruled out: it makes a denominator 0.")
    return _reply(heading, steps, _roots_text(var, kept, w))


def general(left: sp.Expr, right: sp.Expr, var: sp.Symbol, heading: str, w: Writer) -> str:
    """Roots, exponentials, logs, trig: sympy's solver, kept to small equations."""
    difference = left - right
    occurrences = sum(1 for node in sp.preorder_traversal(difference) if node == var)
    if difference.has(sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc) and occurrences > 1:
        # sin(x)^2 = cos(x)^3 keeps sympy busy for many seconds, sin^12 + cos^12 for minutes
        raise MathError(f"I can only solve trig equations where \\({var}\\) appears once.")
    if sp.count_ops(difference) > MAX_OPS // 3 or occurrences > 3:
        raise MathError("That equation is too complicated for me.")
    if difference.has(sp.Abs):  # sympy needs to know x is real to split |x - 3| = 5
        real = sp.Symbol(var.name, real=True)
        roots = [root.subs(real, var) for root in sp.solve(difference.subs(var, real), real)]
    else:  # (a real symbol would make sympy much slower on things like 2^x = 3^x + 1)
        roots = [root for root in sp.solve(difference, var) if root.is_real is not False]
    steps = [_hint(difference, var)]
    result = _roots_text(var, roots, w) if roots else "no real solution"
    return _reply(heading, steps, result)


def _hint(difference: sp.Expr, var: sp.Symbol) -> str:
    """The first move a teacher would suggest for a non-polynomial equation."""
    if difference.has(sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc):
        return "Undo the trig function; it repeats, so these are the principal solutions."
    if difference.has(sp.Abs):
        return "Split into two cases, one for each sign inside the absolute value."
    if any(p.exp.has(var) for p in difference.atoms(sp.Pow)) or difference.has(sp.exp):
        return "Take logarithms to bring the unknown down from the exponent."
    if difference.has(sp.log):
        return "Exponentiate both sides to undo the logarithm."
    if any(p.exp.is_Rational and not p.exp.is_Integer for p in difference.atoms(sp.Pow)):
        return "Raise both sides to a power to clear the root, then check each answer."
    return "Isolate the unknown, undoing each operation in turn."


def _ordered(roots: list[sp.Expr]) -> list[sp.Expr]:
    """Real roots from smallest to largest, then complex ones; deterministic either way."""
    try:
        return sorted(set(roots), key=lambda r: (float(abs(sp.im(r))) > 1e-12, float(sp.re(r)),
                                                  float(sp.im(r))))
    except TypeError:  # symbolic roots (parameters): any fixed order will do
        return sorted(set(roots), key=sp.default_sort_key)


def _roots_text(var: sp.Symbol, roots: list[sp.Expr], w: Writer) -> str:
    """"x = 2 or x = 3", with decimals for irrational roots and a word on complex ones."""
    if not roots:
        return "no solution"
    roots = _ordered(roots)
    parts = []
    for root in roots:
        text = f"{var} = {w.plain(root)}"
        if root.has(sp.CRootOf, sp.Float):  # no usable formula: numbers only
            text = f"{var} ≈ {w.approx(root)}"
        elif root.is_number and not root.is_Rational and root.is_real:
            text += f" ≈ {w.approx(root)}"
        parts.append(text)
    listed = ", ".join(parts[:-1]) + (" or " if len(parts) > 1 else "") + parts[-1]
    if all(root.is_number and root.is_real is False for root in roots):
        return f"no real solution; the complex solutions are {listed}"
    return listed


# --- systems -------------------------------------------------------------------------------------


def solve_system(equations: list[list[Side]], w: Writer) -> str:
    """Two linear equations by substitution; anything else straight from sympy."""
    differences = [sp.expand(left - right) for (_, left), (_, right) in equations]
    symbols = sorted(set().union(*(d.free_symbols for d in differences)), key=lambda s: s.name)
    shown = [_eq(w, left_raw, right_raw, written=True) for (left_raw, _), (right_raw, _) in equations]
    heading = "To solve " + " and ".join(shown) + ":"
    if len(symbols) > 3:
        raise MathError("That system has too many unknowns for me.")
    if len(differences) == 2 and len(symbols) == 2 and all(
            sp.Poly(d, *symbols).total_degree() <= 1 for d in differences):
        return substitution(differences, symbols, heading, w)
    linear = all(sp.Poly(d, *symbols).total_degree() <= 1 for d in differences
                 if d.is_polynomial(*symbols))
    if any(not d.is_polynomial(*symbols) or sp.Poly(d, *symbols).total_degree() > 2
           for d in differences):
        raise MathError("That system is beyond me: I handle linear and quadratic systems.")
    solutions = sp.solve(differences, symbols, dict=True)
    if not solutions and linear:
        return _reply(heading, ["The equations contradict each other."], "no solution")
    if not solutions:
        return _reply(heading, ["Substituting one equation into the other leaves no solution."],
                      "no solution")
    listed = " or ".join(", ".join(f"{s} = {w.plain(sol[s])}" for s in symbols if s in sol)
                         for sol in solutions)
    shown = " or ".join("\\(" + ", ".join(f"{s} = {w.tex(sol[s])}" for s in symbols if s in sol) + "\\)"
                        for sol in solutions)
    return _reply(heading, [f"Solving the equations together gives {shown}."], listed)


def substitution(differences: list[sp.Expr], symbols: list[sp.Symbol], heading: str,
                 w: Writer) -> str:
    """Isolate the unknown with the simplest coefficient, substitute, solve, back-substitute."""
    choices = [(abs(d.coeff(s)) != 1, i, j) for i, d in enumerate(differences)
               for j, s in enumerate(symbols) if d.coeff(s) != 0]
    _, i, j = min(choices)
    first, other = symbols[j], symbols[1 - j]
    isolated = sp.solve(differences[i], first)[0]
    rest = sp.expand(differences[1 - i].subs(first, isolated))
    names = ("first", "second")
    steps = [f"From the {names[i]} equation, \\({first} = {w.tex(isolated)}\\)."]
    if not rest.has(other):
        steps.append(f"Substituting into the {names[1 - i]} gives \\({w.tex(rest)} = 0\\).")
        if rest == 0:
            return _reply(heading, steps, "infinitely many solutions (the equations are the same line)")
        return _reply(heading, steps, "no solution (the lines are parallel)")
    value = sp.solve(rest, other)[0]
    back = isolated.subs(other, value)
    steps.append(f"Substitute into the {names[1 - i]} equation: {_eq(w, rest, 0)}, "
                 f"so \\({other} = {w.tex(value)}\\).")
    steps.append(f"Then \\({first} = {w.tex(back)}\\).")
    ordered = sorted([(first, back), (other, value)], key=lambda pair: pair[0].name)
    return _reply(heading, steps, ", ".join(f"{s} = {w.plain(v)}" for s, v in ordered))
