"""The offline model explains its previous answer when asked to ("Could you explain this to
me?", "explain that", "why?", "what does this code do?").

An explain request is a message that asks for an explanation and names nothing else: its
words are an explain cue plus words that only point back ("this", "it", "the code", "to
me", "please"). It refers to the previous assistant turn of the thread (the assistant's
messages after the last real question). *Explainers* turn that question and those answers
into an explanation; the first that can, answers. This module has the math explainer: it
works the question out again and gives each step with its reason, then checks the
answer. Tools add theirs (code_interpreter: the program it ran, line by line).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sympy as sp

from chat.providers.base import ModelRequest
from chat.providers.offline import mathtutor, spelling
from chat.providers.offline.mathparse import extract, read
from chat.providers.offline.mathsolve import Writer, pick_var
from chat.providers.offline.model import Registry, Reply, full_stop, last_message, message_text

# (the question, the assistant's answers to it) -> an explanation, or None
Explainer = Callable[[str, list[str]], str | None]
# Tried in this order (the first that can, explains), whichever app registered first.
EXPLAINERS = Registry(("math", "code_interpreter"))

CUE = re.compile(
    r"\b(?:explain\w*|why|how come|how did|how does|how do|understand|clarify|elaborate|"
    r"walk me through|go through|break \w+ down|what does \w+(?: \w+)? (?:do|mean)|what do you mean)\b"
)
# Words that ask, point back or are polite: with a cue and nothing else, a message is an
# explain request; any other word ("explain the Pythagorean theorem") makes it a question.
POINTING = set(
    """a about again all and answer answers any bit but by can come could did do does don't dont down
    explain explanation further get go got help how i is it it's its just last little mean me meant more
    my not now oh ok okay one please previous really result show simpler simply so solution step steps
    still that that's the them there these this those through to understand walk was what what's why
    work worked works would you your code program it? answer? clarify elaborate break detail details
    in over with we us sorry hmm thanks thank you're you've going on happening happened
    two both solutions roots values plus minus there's are""".split()
)
spelling.add_keywords("explain", "explanation", "understand", "clarify", "elaborate")


def register_explainer(name: str, explainer: Explainer) -> Explainer:
    return EXPLAINERS.register(name, explainer)


def is_explain_request(text: str) -> bool:
    words = re.findall(r"[a-z']+", spelling.correct(text).lower())
    return bool(words) and CUE.search(" ".join(words)) is not None and all(w in POINTING for w in words)


def previous_exchange(request: ModelRequest) -> tuple[str, list[str]] | None:
    """The question the previous assistant turn answered, and that turn's messages (skipping
    earlier explain requests, so "why?" after an explanation still means the solution)."""
    messages = [m for m in request.messages[:-1] if m.get("role") in ("user", "assistant")]
    answers: list[str] = []
    for message in reversed(messages):
        text = message_text(message)
        if message["role"] == "assistant":
            if text:
                answers.insert(0, text)
        elif answers and not is_explain_request(text):
            return text, answers
        elif is_explain_request(text):
            answers = []  # an explanation already given: look further back
    return None


# "why" beside a question of its own ("what about x^2 = 16, why two answers?") asks for the
# solution with its reasons, not the bare steps.
WHY = re.compile(r"\bwhy\b", re.I)


def explain_skill(request: ModelRequest) -> Reply | None:
    message = last_message(request)
    if message.get("role") != "user":
        return None
    text = message_text(message)
    if not is_explain_request(text):
        solution = mathtutor.answer(text) if WHY.search(text) else None
        explained = explain_math(text, [solution]) if solution else None
        return Reply(text=explained) if explained else None
    exchange = previous_exchange(request)
    if exchange is None:
        return Reply(text="There is no earlier answer of mine in this conversation to explain yet. "
                          "Ask me something first, for example “Solve 3x + 11 = 14”.")
    question, answers = exchange
    for explainer in EXPLAINERS:
        explanation = explainer(question, answers)
        if explanation:
            return Reply(text=explanation)
    return Reply(text="My last answer was:\n\n> " + answers[-1].replace("\n", "\n> ") + "\n\n"
                      "I can explain step by step only what I work out myself (equations, calculations, "
                      "and code I run); that answer has nothing more behind it than what it says.")


# --- math ----------------------------------------------------------------------------------

# Why each kind of step the math tutor writes is taken (mathsolve/mathtutor's wording).
REASONS = [
    (r"^Expand the brackets", "Multiplying out the brackets turns each side into a plain sum of terms, "
                              "which is easier to rearrange."),
    (r"^Combine like terms", "Adding up terms of the same kind (the unknowns together, the numbers "
                             "together) makes each side as short as possible."),
    (r"^Swap the sides", "An equation says the same thing read either way; having the unknown on the "
                         "left just makes the next steps easier to follow."),
    (r"^Subtract (.+?) from both sides", "Doing the same thing to both sides keeps them equal. "
                                         "Subtracting {0} cancels the {0} that was added, so that side "
                                         "has one less term around the unknown."),
    (r"^Add (.+?) to both sides", "Doing the same thing to both sides keeps them equal. Adding {0} "
                                  "cancels the {0} that was subtracted, so that side has one less term "
                                  "around the unknown."),
    (r"^Divide both sides by (.+?)$", "The unknown is multiplied by {0}; dividing both sides by {0} undoes "
                                      "that multiplication and leaves the unknown on its own."),
    (r"^Multiply both sides by (.+?)$", "The unknown is divided by (or multiplied by a fraction of) "
                                        "something; multiplying both sides by {0} undoes it and leaves the "
                                        "unknown on its own."),
    (r"^Bring everything to one side", "With zero on one side, the equation can be solved by looking at "
                                       "when one expression is zero."),
    (r"^Discriminant", "For a quadratic \\(ax^2 + bx + c = 0\\), the discriminant \\(b^2 - 4ac\\) says how "
                       "many real solutions there are: two if it is positive, one if it is zero, none if "
                       "it is negative."),
    (r"^Factor", "Written as a product of simpler factors, its structure shows: in an equation with 0 on "
                 "one side each factor that can be 0 gives a solution (a product is 0 exactly when a "
                 "factor is); in a fraction, factors shared above and below can cancel."),
    (r"^Quadratic formula", "The quadratic formula \\(x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}\\) gives the "
                            "solutions of any quadratic directly from its coefficients."),
    (r"^Cancel", "A factor that appears above and below the fraction line divides out, as long as it "
                 "is not zero."),
    (r"^This is a degree-(\d+) equation", "Equations of degree {0} and higher have no short method I can "
                                          "show step by step, so I found their roots with sympy's exact solver "
                                          "and list them as they came out."),
    (r"^Power rule", "The derivative of \\(x^n\\) is \\(n x^{n-1}\\): the exponent comes down in front and "
                     "goes down by one."),
]


def _reason(step: str) -> str:
    """Why a step is taken; nothing for a step whose words already say why ("This is a
    degree-3 equation, so I'll just list its solutions"): no filler that explains nothing."""
    for pattern, reason in REASONS:
        match = re.match(pattern, step)
        if match:
            return reason.format(*match.groups()) if match.groups() else reason  # no blanks to fill: braces are LaTeX
    return ""


def _check(question: str, result: str) -> str | None:
    """Putting each solution back into the equation, when the question was one equation."""
    request = extract(spelling.correct(question))
    if request is None or not request.candidates or request.candidates[0].count("=") != 1:
        return None
    solutions = re.findall(r"\b([a-zA-Z]) = (-?[\w/.]+)", result)
    try:
        (_, left), (_, right) = (read(side) for side in request.candidates[0].split("="))
        lines = []
        for name, value in solutions:
            var, number = sp.Symbol(name), sp.sympify(value)
            lhs, rhs = sp.simplify(left.subs(var, number)), sp.simplify(right.subs(var, number))
            if lhs != rhs:
                return None
            lines.append(f"with \\({name} = {sp.latex(number)}\\) the left side is \\({sp.latex(lhs)}\\) "
                         f"and the right side is \\({sp.latex(rhs)}\\)")
    except Exception:  # sympy fails in many ways on odd input; a check is a bonus, never a failure
        return None
    if not lines:
        return None
    return "**Check:** " + "; ".join(lines) + ". Both sides agree, so the answer is right."


# --- derivatives: which rule, on which parts ---------------------------------------------------

_W = Writer()


def _tex(expr: sp.Expr) -> str:
    return f"\\({_W.tex(expr)}\\)"


def _split_quotient(expr: sp.Expr, var: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """(top, bottom) when ``expr`` is a fraction whose bottom depends on ``var``."""
    top, bottom = sp.fraction(expr)
    return (top, bottom) if expr.is_Mul and bottom != 1 and bottom.has(var) else None


def rule_name(expr: sp.Expr, var: sp.Symbol) -> str:
    """The rule that differentiates ``expr`` (its outermost operation)."""
    if not expr.has(var):
        return "a constant's derivative is 0"
    if expr == var:
        return "the derivative of the variable itself is 1"
    if expr.is_Add:
        return "sum rule"
    if expr.is_Mul:
        constant, rest = expr.as_independent(var, as_Add=False)
        if constant != 1:
            return "constant multiple rule"
        return "quotient rule" if _split_quotient(expr, var) else "product rule"
    if expr.is_Pow:
        base, exponent = expr.args
        if exponent.has(var):
            return "exponential rule" + (" with the chain rule" if exponent != var else "")
        return "power rule" + (" with the chain rule" if base != var else "")
    if isinstance(expr, sp.Function) and len(expr.args) == 1:
        name = type(expr).__name__
        return f"derivative of {name}" + (" with the chain rule" if expr.args[0] != var else "")
    return "differentiation rules sympy applies"


def _derivative_steps(expr: sp.Expr, var: sp.Symbol) -> list[str]:
    """The outermost rule, applied with the pieces it needs and their derivatives (each with
    its own rule named), all computed here with sympy."""
    d = sp.diff(expr, var)
    name = rule_name(expr, var)
    if expr.is_Add:
        terms = expr.as_ordered_terms()
        parts = "; ".join(f"{_tex(t)} gives {_tex(sp.diff(t, var))} ({rule_name(t, var)})" for t in terms)
        return [f"**Sum rule:** the derivative of a sum is the sum of the derivatives, term by term: {parts}."]
    if name == "constant multiple rule":
        constant, rest = expr.as_independent(var, as_Add=False)
        return [f"**Constant multiple rule:** the constant {_tex(constant)} stays in front, and "
                f"{_tex(rest)} is differentiated ({rule_name(rest, var)}): {_tex(sp.diff(rest, var))}."
                ] + (_derivative_steps(rest, var) if rest.is_Mul or rest.is_Add else [])
    if name == "quotient rule":
        u, v = _split_quotient(expr, var)
        return [f"**Quotient rule:** \\(\\left(\\frac{{u}}{{v}}\\right)' = \\frac{{u'v - uv'}}{{v^2}}\\) with "
                f"\\(u = {_W.tex(u)}\\), \\(v = {_W.tex(v)}\\): \\(u' = {_W.tex(sp.diff(u, var))}\\) "
                f"({rule_name(u, var)}), \\(v' = {_W.tex(sp.diff(v, var))}\\) ({rule_name(v, var)}). That gives {_tex(d)}."]
    if name == "product rule":
        factors = expr.as_ordered_factors()
        u, v = factors[0], sp.Mul(*factors[1:])
        return [f"**Product rule:** \\((uv)' = u'v + uv'\\) with \\(u = {_W.tex(u)}\\) and \\(v = {_W.tex(v)}\\): "
                f"\\(u' = {_W.tex(sp.diff(u, var))}\\) ({rule_name(u, var)}), "
                f"\\(v' = {_W.tex(sp.diff(v, var))}\\) ({rule_name(v, var)}). "
                f"So \\(u'v + uv' = {_W.tex(sp.diff(u, var) * v + u * sp.diff(v, var))}\\)."]
    inner = None
    if expr.is_Pow:
        base, exponent = expr.args
        if not exponent.has(var):
            if base == var:
                return [f"**Power rule:** the derivative of \\({var}^n\\) is \\(n {var}^{{n-1}}\\): the exponent "
                        f"{_tex(exponent)} comes down in front and goes down by one, giving {_tex(d)}."]
            inner, outer = base, f"the power \\(u^{{{_W.tex(exponent)}}}\\) (power rule)"
        else:
            inner = exponent if exponent != var else None
            outer = f"\\({_W.tex(base)}^u\\), whose derivative is itself times \\(\\ln {_W.tex(base)}\\)"
    elif isinstance(expr, sp.Function) and len(expr.args) == 1:
        inner = expr.args[0] if expr.args[0] != var else None
        outer = f"\\({_W.tex(expr.func(sp.Symbol('u')))}\\)"
        if inner is None:
            return [f"**Derivative of {type(expr).__name__}:** a standard derivative, "
                    f"\\(\\frac{{d}}{{d{var}}} {_W.tex(expr)} = {_W.tex(d)}\\)."]
    if inner is not None:
        return [f"**Chain rule:** {_tex(expr)} is a function of an inner expression \\(u = {_W.tex(inner)}\\): "
                f"the outer part is {outer}; differentiate it at \\(u\\), then multiply by "
                f"\\(u' = {_W.tex(sp.diff(inner, var))}\\) ({rule_name(inner, var)}). That gives {_tex(d)}."]
    if expr.is_Pow:  # a^x
        return [f"**Exponential rule:** \\(\\frac{{d}}{{d{var}}} a^{var} = a^{var} \\ln a\\), giving {_tex(d)}."]
    return [f"Differentiating gives {_tex(d)}."]


def explain_derivative(question: str, result: str) -> str | None:
    """Which rule gives the derivative and how, worked out again from the question."""
    request = extract(spelling.correct(question))
    if request is None or request.intent != "diff":
        return None
    try:
        _, value = mathtutor.command_target(mathtutor.split_equation(request.candidates[0]) or ())
        var = sp.Symbol(request.var) if request.var else pick_var(value.free_symbols, None)
        steps = _derivative_steps(value, var)
    except Exception:  # sympy fails in many ways on odd input; then the general explainer speaks
        return None
    lines = [f"Here is how I got **{result}**. I differentiated {_tex(value)} with respect to \\({var}\\):", ""]
    lines += [f"{number}. {step}" for number, step in enumerate(steps, 1)]
    if request.order > 1:
        lines += ["", f"For the derivative of order {request.order}, the same rules are applied again to each "
                      "result in turn."]
    return "\n".join(lines)


def explain_math(question: str, answers: list[str]) -> str | None:
    """The steps of the solution the previous answer gave, each with its reason; None when
    that answer was no solution of mine (a refusal, a search, a program's output): working
    the question out now would explain something never said."""
    solution = mathtutor.answer(question)
    if not solution or "**Answer:**" not in solution:
        return None
    body, result = solution.rsplit("**Answer:**", 1)
    result = result.strip()
    said = (f"**Answer:** {result}", f"Here is how I got **{result}**")  # solved, or solved and explained
    if not any(words in given for given in answers for words in said):
        return None
    if (derivative := explain_derivative(question, result)) is not None:
        return derivative
    written = [line.strip() for line in body.strip().splitlines() if line.strip()]
    heading = written.pop(0) if written and written[0].endswith(":") else ""
    steps = [re.sub(r"^\d+\. ", "", line) for line in written]
    lines = [f"Here is how I got **{result}**, step by step." + (f" {heading}" if heading else "")]
    for number, step in enumerate(steps, 1):
        what, _, shows = step.partition(": ")
        line = f"{number}. **{full_stop(what)}** {_reason(what)}".rstrip()
        lines.append(line + (f" That gives {full_stop(shows)}" if shows else ""))
    if two := _why_two(question, result):
        lines += ["", two]
    check = _check(question, result)
    if check:
        lines += ["", check]
    return "\n".join(lines)


def _why_two(question: str, result: str) -> str | None:
    """Why a quadratic has two solutions (the ± of a square root), when it had two."""
    request = extract(spelling.correct(question))
    solutions = [m.groups() for part in result.strip("`").split(" or ")
                 if (m := re.fullmatch(r"([a-zA-Z]) = (.+?)(?: ≈ .*)?", part.strip()))]
    if request is None or len(solutions) != 2 or request.candidates[0].count("=") != 1:
        return None
    try:
        (_, left), (_, right) = (read(side) for side in request.candidates[0].split("="))
        var = sp.Symbol(solutions[0][0])
        if not (left - right).is_polynomial(var) or sp.degree(left - right, var) != 2:
            return None
        first, second = (sp.sympify(value, locals={s.name: s for s in (left - right).free_symbols})
                         for _, value in solutions)
    except Exception:  # sympy fails in many ways on odd input; this is a bonus, never a failure
        return None
    if sp.simplify(first + second) == 0:
        square = sp.expand(first**2)
        positive = second if first.could_extract_minus_sign() else first
        return (f"**Why two answers:** a number and its negative have the same square: "
                f"\\(\\left({sp.latex(positive)}\\right)^2 = \\left({sp.latex(-positive)}\\right)^2 = "
                f"{sp.latex(square)}\\). So the square root gives both: \\({var} = \\pm {sp.latex(positive)}\\).")
    return ("**Why two answers:** an equation of degree 2 can have up to two solutions: written as a "
            "product of two factors, it is 0 when either factor is, and each factor gives one.")


