"""The offline model's math tutor: deterministic, rule-based, sympy underneath.

:func:`answer` is the whole public surface. The message is searched for math by
:mod:`~chat.providers.offline.mathparse` (which also guards against hostile input); here we
decide what to do with it and explain it the way a brief tutor would: a few short steps in
LaTeX, then a plain-text **Answer:** line. Equations are explained in
:mod:`~chat.providers.offline.mathsolve`. Everything is pure: same message, same reply.
"""

from __future__ import annotations

import re

import sympy as sp

from chat.providers.offline import spelling
from chat.providers.offline.mathparse import (
    INTENTS,
    MAX_ORDER,
    MAX_TEXT,
    MathError,
    MathRequest,
    Unreadable,
    extract,
    read,
    readable,
)
from chat.providers.offline.mathsolve import Writer, answer_line, pick_var, solve_equation, solve_system

MAX_REPLY = 2500  # characters; longer results are described rather than shown
MAX_PARTS = 5  # commands of one message answered one by one; more are answered as one question
MAX_OPS = 60  # operations in an expression we let simplify/integrate loose on
MAX_FACTOR = 10**15  # largest integer we factor into primes
MAX_NUMBER = 80  # characters of an exact number worth showing; beyond it, a decimal
# The heavy algorithms (Risch, heuristic Risch, Meijer G) can run for minutes on small input.
QUICK_INTEGRATION = {"risch": False, "heurisch": False, "meijerg": False}


# The words that name what to do (mathparse.INTENTS), so that their misspellings count too.
KEYWORDS = (
    "derivative", "differentiate", "limit", "approaches", "infinity", "integrate", "integral", "antiderivative", "simplify", "expand",
    "multiply", "factor", "factorise", "factorize", "solve", "calculate", "compute", "evaluate", "equation",
)
spelling.add_keywords(*KEYWORDS)


def answer(text: str) -> str | None:
    """Return a short tutor reply (markdown; math in LaTeX using \\( \\) inline and \\[ \\] display delimiters) for a message that contains math we can handle, or None when we recognise nothing."""
    text = spelling.correct(readable(text or ""))
    return _answer_parts(text) or _answer_one(text)


# Where a message moves on to its next command: "Expand A and then differentiate B, then
# integrate C". What follows is a separator, then a command word (mathparse.INTENTS' first tier).
_NEXT_COMMAND = re.compile(
    r"(?:\s*[,;.]\s*(?:and\s+)?(?:then\s+)?|\s+and\s+(?:then\s+)?|\s+then\s+)"
    r"(?=(?:(?:find|take|compute|work out|give)\s+(?:the\s+|its\s+)?)?(?:"
    + "|".join(pattern for _, pattern in INTENTS[0])
    + r")\b)",
    re.I,
)
_RESULT = re.compile(r"^\*\*Answer:\*\* (.+)$", re.M)
# Where a message moves on to its next question: "What's 12*12? And $x^2$?".
_NEXT_QUESTION = re.compile(r"(?<=\?)\s+(?=\S)")
# The command word that carries a question's intent over to the next one's math when that
# has none of its own ("What's 12*12? Also $x^2$" asks what $x^2$ is too).
_COMMAND_WORDS = {"evaluate": "evaluate", "simplify": "simplify", "expand": "expand", "factor": "factor",
                  "solve": "solve", "diff": "differentiate", "integrate": "integrate"}


def _split(text: str) -> list[tuple[str, bool]]:
    """(part, whether it begins a new question) for each question and each command in it."""
    parts = []
    for question in _NEXT_QUESTION.split(text):
        commands = [part for part in _NEXT_COMMAND.split(question) if part.strip()]
        parts += [(part, index == 0) for index, part in enumerate(commands)]
    return parts


def _answer_parts(text: str) -> str | None:
    """Each question and each command of a multi-part message answered in order, or None
    (one part, or a part not understood: then the message is answered as a whole). A
    command with no math of its own ("then differentiate the result") works on the previous
    part's answer; a question with no math ("Is that right?") is left to the whole message,
    and one with math but no command word takes the previous question's."""
    parts = _split(text[:MAX_TEXT])
    if not 2 <= len(parts) <= MAX_PARTS:
        return None
    replies: list[str] = []
    previous = intent = None
    for part, new_question in parts:
        request = extract(part)
        if (request is None or request.intent is None) and intent in _COMMAND_WORDS:
            asked = f"{_COMMAND_WORDS[intent]} {part}"  # "… ? What about 2^10?"
            if (carried := extract(asked)) is not None:
                part, request = asked, carried
        if new_question and request is None:
            continue
        reply = _answer_one(part) if request else None
        if reply is None and previous is not None and not new_question:
            reply = _answer_one(f"{part} ; {previous}")
        if reply is None or (result := _RESULT.findall(reply)) == []:
            return None
        intent = (request.intent if request else None) or intent
        previous = result[-1].strip("`").split(" ≈ ")[0].removesuffix(" + C")
        replies.append(f"**Part {len(replies) + 1}.** {reply}")
    if len(replies) < 2:
        return None
    joined = "\n\n".join(replies)
    return joined if len(joined) <= MAX_REPLY else None


def _answer_one(text: str) -> str | None:
    request = extract(text)
    if request is None:
        return None
    try:
        reply = respond(request)
    except Unreadable as error:  # a polite word only when the user clearly asked for math
        return str(error) if request.intent else None
    except MathError as error:  # too big, too hard: say so
        return str(error)
    except Exception:  # sympy fails in many ways on odd input; a chat must never crash on it
        return "Sorry, I couldn't work that one out." if request.intent else None
    if reply is not None and len(reply) > MAX_REPLY:
        return "The result is too long to show here; try a smaller problem."
    return reply


def respond(request: MathRequest) -> str | None:
    """Route the request: a command (simplify, derivative...), equations, or a calculation."""
    writer = Writer(decimals=any("." in c for c in request.candidates))
    parts = [sides for sides in map(split_equation, request.candidates) if sides]
    if not parts:
        raise Unreadable(f"I couldn't read `{request.candidates[0]}` as one equation.")
    if request.intent in COMMANDS:
        raw, value = command_target(parts[0])
        return COMMANDS[request.intent](raw, value, request, writer)
    equations = distinct([[read(side) for side in p] for p in dict.fromkeys(parts) if len(p) == 2])
    if len(equations) >= 2:
        return solve_system(equations[:3], writer)
    if equations:
        return solve_equation(equations[0], request.var, writer)
    raw, value = read(parts[0][0])
    if not value.free_symbols:
        return evaluate(raw, value, writer)
    if request.intent == "solve":
        return solve_equation([(raw, value), (sp.Integer(0), sp.Integer(0))], request.var, writer)
    return simplify(raw, value, request, writer)


def distinct(equations: list[list[tuple[sp.Expr, sp.Expr]]]) -> list[list[tuple[sp.Expr, sp.Expr]]]:
    """The equations, each said once: one written twice (or 2x + 2 = 4 beside x + 1 = 2, the
    same equation times a number) is one equation, not a system of two."""
    kept, seen = [], set()
    for equation in equations:
        (_, left), (_, right) = equation
        _, same = sp.expand(left - right).as_content_primitive()
        same = -same if same.could_extract_minus_sign() else same
        if same not in seen:
            seen.add(same)
            kept.append(equation)
    return kept


def split_equation(math_text: str) -> tuple[str, ...] | None:
    """("lhs", "rhs") for an equation, ("expr",) otherwise, None for "a = b = c"."""
    sides = tuple(math_text.split("="))
    return None if len(sides) > 2 or not all(sides) else sides


def command_target(sides: tuple[str, ...]) -> tuple[sp.Expr, sp.Expr]:
    """What a command works on: the expression, the right side of "y = ...", or lhs - rhs."""
    if len(sides) == 2 and _is_name(sides[0]):
        sides = sides[1:]
    if len(sides) == 1:
        return read(sides[0])
    (left_raw, left), (right_raw, right) = read(sides[0]), read(sides[1])
    if right == 0:
        return left_raw, left
    return sp.Add(left_raw, sp.Mul(-1, right_raw, evaluate=False), evaluate=False), left - right


def _is_name(math_text: str) -> bool:
    """True for "y" in "y = x^2": a function's name, not part of the math to work on."""
    return len(math_text) == 1 and math_text.isalpha()


# --- numbers ------------------------------------------------------------------------------


def evaluate(raw: sp.Expr, value: sp.Expr, w: Writer) -> str:
    """A calculation: the order of operations when it matters, the exact result, a decimal."""
    if value.has(sp.zoo, sp.nan):
        return "That is undefined: it divides by zero."
    if value.has(sp.oo, -sp.oo):
        return "That is infinite, not a number."
    lines = arithmetic_steps(raw, value, w)
    written, exact, shown = w.tex(raw, written=True), w.tex(value), w.plain(value)
    result = [written] + ([exact] if exact != written and len(exact) <= MAX_NUMBER else [])
    if len(shown) > MAX_NUMBER:
        shown = w.approx(value)
        result.append(f"\\approx {sp.latex(sp.N(value, 6))}")
    elif not value.is_Integer and not w.is_decimal(value) and value.is_real:
        approx = w.approx(value)
        terminating = value.is_Rational and Writer(decimals=True).is_decimal(value)
        if approx != shown:
            result.append(approx if terminating else f"\\approx {approx}")
            shown += (" = " if terminating else " ≈ ") + approx
    lines.append("\\(" + " = ".join(result).replace("= \\approx", "\\approx") + "\\)")
    return "\n".join(lines) + answer_line(shown)


def arithmetic_steps(raw: sp.Expr, value: sp.Expr, w: Writer) -> list[str]:
    """One line on why, for sums of products ("multiplication first"), reduced fractions
    and perfect square roots; nothing for plain sums."""
    if raw.is_Add:
        values = [term.doit() for term in raw.args]
        inner = [t for t in raw.args if w.tex(t, written=True) != w.tex(t.doit())][:3]
        fractions = [v for v in values if v.is_Rational and not v.is_Integer]
        if fractions and not inner and all(v.is_Rational for v in values) and len(
                {v.q for v in values}) > 1:
            return [common_denominator(values, value, w)]
        if inner:
            done = ", ".join(f"\\({w.tex(t, written=True)} = {w.tex(t.doit())}\\)" for t in inner)
            total = sp.Add(*values, evaluate=False)
            return [f"Multiplication, division and powers come first: {done}; "
                    f"then \\({w.tex(total, written=True)} = {w.tex(value)}\\)."]
    if raw.is_Mul and len(raw.args) == 2 and raw.args[1].is_Pow and raw.args[1].exp == -1:
        top, bottom = raw.args[0], raw.args[1].base
        if top.is_Integer and bottom.is_Integer and bottom != 0 and sp.gcd(top, bottom) > 1:
            return [f"Divide top and bottom by their greatest common divisor, {sp.gcd(top, bottom)}."]
    if raw.is_Pow and raw.exp == sp.Rational(1, 2) and raw.base.is_Integer:
        root = sp.sqrt(raw.base)
        if root.is_Integer:
            return [f"\\({root}^2 = {raw.base}\\), so the square root is {root}."]
    return []


def common_denominator(values: list[sp.Rational], total: sp.Expr, w: Writer) -> str:
    """Adding fractions the school way: rewrite each over the least common denominator."""
    lcd = sp.ilcm(*[v.q for v in values])
    parts = " + ".join(f"\\frac{{{v.p * (lcd // v.q)}}}{{{lcd}}}" for v in values)
    parts = parts.replace("+ \\frac{-", "- \\frac{")
    return f"Use the common denominator {lcd}: \\({parts} = {w.tex(total)}\\)."


# --- commands -------------------------------------------------------------------------------


def simplify(raw: sp.Expr, value: sp.Expr, request: MathRequest, w: Writer) -> str | None:
    """Simplify; for a fraction of polynomials, show the factoring and the cancelling.

    Unasked (a bare expression as the whole message) and unchanged, there is nothing to say."""
    if not value.free_symbols:
        return evaluate(raw, value, w)
    result = sp.simplify(value) if _gentle(value) else sp.cancel(value)
    lines = []
    top, bottom = sp.fraction(sp.together(value))
    common = sp.gcd(top, bottom) if bottom.free_symbols else sp.Integer(1)
    if common.free_symbols:
        shown = sp.Mul(sp.factor(top), sp.Pow(sp.factor(bottom), -1, evaluate=False), evaluate=False)
        lines.append(f"Factor: \\({w.tex(shown)}\\)")
        lines.append(f"Cancel the common factor \\({w.tex(common)}\\) (valid where it isn't 0).")
    if w.tex(result) == w.tex(raw, written=True):
        if request.intent is None:
            return None
        return (f"\\({w.tex(raw, written=True)}\\) is already as simple as it gets."
                f"{answer_line(w.plain(result))}")
    lines.append(f"\\({w.tex(raw, written=True)} = {w.tex(result)}\\)")
    return "\n".join(lines) + answer_line(w.plain(result))


def _gentle(value: sp.Expr) -> bool:
    """Whether simplify/factor will be quick: few operations, and high powers only of a
    single variable (factoring x^60 - y^60 or simplifying sin(x)^60 takes many seconds)."""
    powers = [p.exp for p in value.atoms(sp.Pow) if p.exp.is_Integer]
    high = max([abs(int(e)) for e in powers], default=0) > 12
    return sp.count_ops(value) <= MAX_OPS // 2 and not (high and (
        len(value.free_symbols) > 1 or value.has(sp.Function)))


def expand(raw: sp.Expr, value: sp.Expr, request: MathRequest, w: Writer) -> str:
    """Multiply out brackets and powers of sums."""
    result = sp.expand(value)
    if result == value:  # never "P = P": nothing was multiplied out
        return (f"\\({w.tex(raw, written=True)}\\) has no brackets to multiply out: it is already expanded."
                f"{answer_line(w.plain(result))}")
    return (f"Multiply out the brackets:\n\\[{w.tex(raw, written=True)} = {w.tex(result)}\\]"
            f"{answer_line(w.plain(result))}")


def factor(raw: sp.Expr, value: sp.Expr, request: MathRequest, w: Writer) -> str:
    """Prime factors for a whole number, sympy's factorisation over the rationals otherwise."""
    if value.is_Integer:
        return factor_integer(int(value))
    if not _gentle(value):
        raise MathError("That is too high a degree for me to factor quickly.")
    result = sp.factor(value)
    if not value.free_symbols or sp.srepr(result) == sp.srepr(sp.expand(value)) and not result.is_Mul:
        return (f"\\({w.tex(raw, written=True)}\\) doesn't factor over the rational numbers."
                f"{answer_line(w.plain(value))}")
    return f"\\[{w.tex(raw, written=True)} = {w.tex(result)}\\]{answer_line(w.plain(result))}"


def factor_integer(n: int) -> str:
    """Prime factorisation of a whole number, refused above MAX_FACTOR to stay quick."""
    if abs(n) < 2:
        return f"{n} has no prime factors."
    if abs(n) > MAX_FACTOR:
        return "That number is too large for me to factor quickly."
    if sp.isprime(abs(n)):
        return f"{n} is a prime number.{answer_line(str(n))}"
    primes = sorted(sp.factorint(abs(n)).items())
    tex = " \\cdot ".join(f"{p}^{{{k}}}" if k > 1 else str(p) for p, k in primes)
    plain = " * ".join(f"{p}^{k}" if k > 1 else str(p) for p, k in primes)
    sign = "-" if n < 0 else ""
    return f"\\({n} = {sign}{tex}\\){answer_line(sign + plain)}"


def differentiate(raw: sp.Expr, value: sp.Expr, request: MathRequest, w: Writer) -> str:
    """The derivative (of any order, one derivative at a time), with the rule named for the
    simplest case (a power of the variable)."""
    if not 1 <= request.order <= MAX_ORDER:
        raise MathError(f"I differentiate at most {MAX_ORDER} times.")
    var = sp.Symbol(request.var) if request.var else pick_var(value.free_symbols, None)
    lines = []
    coefficient, power = value.as_independent(var, as_Add=False)
    if power.is_Pow and power.base == var and not power.exp.has(var):
        each = " each time" if request.order > 1 else ""
        lines.append(f"Power rule{each}: bring the exponent down and lower it by one.")
    result = value
    for order in range(1, request.order + 1):
        result = sp.diff(result, var)
        operator = f"\\frac{{d^{{{order}}}}}{{d{var}^{{{order}}}}}" if order > 1 else f"\\frac{{d}}{{d{var}}}"
        lines.append(f"\\[{operator}\\left({w.tex(raw, written=True)}\\right) = {w.tex(result)}\\]")
    return "\n".join(lines) + answer_line(w.plain(result))


def integrate(raw: sp.Expr, value: sp.Expr, request: MathRequest, w: Writer) -> str:
    """An antiderivative (+ C), or a definite integral when "from a to b" was given."""
    var = sp.Symbol(request.var) if request.var else pick_var(value.free_symbols, None)
    if not _integrable_quickly(value):
        raise MathError("That integral is too complicated for me.")
    if request.bounds:
        (_, low), (_, high) = read(request.bounds[0]), read(request.bounds[1])
        result = sp.integrate(value, (var, low, high), **QUICK_INTEGRATION)
        limits = f"_{{{w.tex(low)}}}^{{{w.tex(high)}}}"
    else:
        result, limits = sp.integrate(value, var, **QUICK_INTEGRATION), ""
    if result.has(sp.Integral, sp.RootSum):
        raise MathError("I couldn't find that integral in a usable closed form.")
    if result.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        return "That integral diverges: the area is infinite.\n\n**Answer:** it diverges"
    constant = "" if request.bounds else " + C"
    shown = w.plain(result) + constant
    if request.bounds and result.is_number and not result.is_Integer and result.is_finite:
        shown += f" ≈ {w.approx(result)}"
    integrand = w.tex(raw, written=True)
    integrand = f"\\left({integrand}\\right)" if raw.is_Add else integrand
    return (f"\\[\\int{limits} {integrand}\\,d{var} = {w.tex(result)}{constant}\\]"
            f"{answer_line(shown)}")


def _integrable_quickly(value: sp.Expr) -> bool:
    """Heuristics from timing sympy: products of trig functions of different arguments
    (sin(2x)^2 cos(3x)^2) or high trig powers can take minutes; everything else is quick."""
    trig = value.atoms(sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc)
    powers = [p.exp for p in value.atoms(sp.Pow) if trig and p.base.has(*trig) and p.exp.is_Integer]
    return (sp.count_ops(value) <= 20 and len({f.args[0] for f in trig}) <= 1
            and all(abs(int(e)) <= 6 for e in powers))


def limit(raw: sp.Expr, value: sp.Expr, request: MathRequest, w: Writer) -> str:
    """The limit as the variable approaches a point (or ±infinity), from one side when asked;
    a two-sided limit whose sides differ does not exist, and the reply says both."""
    var = sp.Symbol(request.var) if request.var else pick_var(value.free_symbols, None)
    if request.point is None:
        raise Unreadable(f"What does \\({var}\\) approach? Say, for example, “as {var} goes to 0”.")
    if sp.count_ops(value) > MAX_OPS // 3:
        raise MathError("That limit is too complicated for me.")
    _, point = read(request.point)
    if point.free_symbols or point.has(sp.zoo, sp.nan) or point.is_extended_real is False:
        raise Unreadable(f"I couldn't read `{request.point}` as the point {var} approaches.")
    side = "+-" if request.side is None and point.is_finite else request.side or "+"
    arrow = f"{var} \\to {w.tex(point)}" + ({"+": "^{+}", "-": "^{-}"}[side] if side != "+-" and point.is_finite else "")
    shown = f"\\lim_{{{arrow}}} {w.tex(raw, written=True)}"
    try:
        result = sp.limit(value, var, point, side)
    except ValueError:  # sympy refuses a two-sided limit whose sides differ (|x|/x at 0)
        if side != "+-":
            raise
        result = sp.zoo
    if side == "+-" and result.has(sp.zoo):  # the two sides disagree
        left, right = sp.limit(value, var, point, "-"), sp.limit(value, var, point, "+")
        return (f"From the left \\({shown.replace(arrow, arrow + '^{-}')} = {w.tex(left)}\\), from the right "
                f"\\({shown.replace(arrow, arrow + '^{+}')} = {w.tex(right)}\\): the two sides differ, so the limit "
                "does not exist." + answer_line("does not exist"))
    if isinstance(result, sp.AccumBounds):
        return (f"\\({w.tex(raw, written=True)}\\) keeps oscillating between \\({w.tex(result.min)}\\) and "
                f"\\({w.tex(result.max)}\\), so the limit does not exist." + answer_line("does not exist"))
    if result.has(sp.AccumBounds):  # oo*sign(AccumBounds(-1, 1)): it swings ever wider
        return (f"\\({w.tex(raw, written=True)}\\) keeps oscillating without settling on a value, so the "
                "limit does not exist." + answer_line("does not exist"))
    if result.has(sp.Limit, sp.nan, sp.zoo):
        raise MathError("I couldn't work out that limit.")
    plain = {sp.oo: "infinity", -sp.oo: "-infinity", sp.E: "e"}.get(result) or w.plain(result)
    if result.is_number and result.is_finite and not result.is_Rational:
        plain += f" ≈ {w.approx(result)}"
    return f"\\[{shown} = {w.tex(result)}\\]" + answer_line(plain)


COMMANDS = {
    "simplify": simplify,
    "expand": expand,
    "factor": factor,
    "diff": differentiate,
    "limit": limit,
    "integrate": integrate,
}
