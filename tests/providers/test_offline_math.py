"""The offline model's math tutor: finding math in prose, explaining it, refusing abuse."""

import time

import pytest
import sympy as sp

from chat.providers.offline.mathparse import extract, read
from chat.providers.offline.mathtutor import answer


def reply_to(text: str) -> str:
    reply = answer(text)
    assert reply is not None, f"no reply to {text!r}"
    return reply


def answer_line(reply: str) -> str:
    """The answer as plain text (a formula Markdown could misread comes as inline code)."""
    return reply.rsplit("**Answer:**", 1)[1].strip().strip("`")


# --- equations ---------------------------------------------------------------------------------


def test_it_solves_a_linear_equation_step_by_step():
    reply = reply_to("I need to solve the equation `3x + 11 = 14`. Can you help me?")
    assert "Subtract 11 from both sides" in reply
    assert "Divide both sides by 3" in reply
    assert "x = 1" in reply.splitlines()[-1]


def test_it_finds_the_equation_in_prose_without_backticks():
    reply = reply_to("I need to solve the equation 3x + 11 = 14. Can you help me?")
    assert reply.startswith("To solve \\(3 x + 11 = 14\\):")
    assert answer_line(reply) == "x = 1"


def test_it_expands_brackets_before_solving():
    reply = reply_to("Solve 2(x - 3) = 10")
    assert "Expand the brackets: \\(2 x - 6 = 10\\)" in reply
    assert answer_line(reply) == "x = 8"


def test_it_moves_the_unknown_from_both_sides_onto_one():
    reply = reply_to("5y - 2 = 3y + 4")
    assert "Subtract \\(3 y\\) from both sides" in reply
    assert "Add 2 to both sides" in reply
    assert answer_line(reply) == "y = 3"


@pytest.mark.parametrize(
    ("question", "solution"),
    [("Solve for t: 3t - 4 = 11", "t = 5"), ("n/3 - 2 = 5", "n = 21"), ("solve 3n + 2 = 2n - 5", "n = -7")],
)
def test_it_solves_for_letters_other_than_x(question, solution):
    assert answer_line(reply_to(question)) == solution


def test_it_clears_a_fraction_by_multiplying():
    reply = reply_to("x/2 + 1 = 4")
    assert "Multiply both sides by 2" in reply
    assert answer_line(reply) == "x = 6"


def test_it_keeps_decimals_when_the_question_uses_decimals():
    reply = reply_to("1.2x - 0.4 = 2")
    assert "Add 0.4 to both sides: \\(1.2 x = 2.4\\)" in reply
    assert answer_line(reply) == "x = 2"


def test_it_factors_a_quadratic_and_gives_both_roots():
    reply = reply_to("solve x^2 - 5x + 6 = 0")
    assert "Discriminant" in reply and "= 1\\)" in reply
    assert "Factor:" in reply
    assert "x = 2" in answer_line(reply) and "x = 3" in answer_line(reply)


def test_it_uses_the_quadratic_formula_when_the_roots_are_irrational():
    reply = reply_to("solve x^2 + 2x - 1 = 0")
    assert "Quadratic formula" in reply
    assert "sqrt(2)" in answer_line(reply)


def test_it_says_there_is_no_real_solution_and_gives_the_complex_ones():
    reply = reply_to("x**2 + 1 = 0")
    assert "no real solution" in answer_line(reply)
    assert "x = -i" in answer_line(reply) and "x = i" in answer_line(reply)


def test_it_lists_the_solutions_of_a_cubic_without_steps():
    assert answer_line(reply_to("x^3 - 6x^2 + 11x - 6 = 0")) == "x = 1, x = 2 or x = 3"


def test_it_rules_out_a_root_that_makes_a_denominator_zero():
    reply = reply_to("solve (x^2 - 1)/(x - 1) = 3")
    assert "\\(x = 1\\) is ruled out" in reply
    assert answer_line(reply) == "x = 2"


def test_it_says_an_inconsistent_equation_has_no_solution():
    assert answer_line(reply_to("x = x + 1")) == "no solution"


def test_it_says_every_number_solves_an_identity():
    assert answer_line(reply_to("2x = 2x")) == "every number is a solution"


def test_it_solves_a_system_of_two_linear_equations_by_substitution():
    reply = reply_to("x + y = 10 and x - y = 2")
    assert "From the first equation" in reply
    assert answer_line(reply) == "x = 6, y = 4"


def test_it_gives_real_solutions_of_an_absolute_value_equation():
    assert answer_line(reply_to("solve abs(x - 3) = 5")) == "x = -2 or x = 8"


def test_it_checks_a_statement_without_unknowns():
    assert answer_line(reply_to("Is 2 + 2 = 5?")).startswith("false")


# --- calculations and commands --------------------------------------------------------------------


def test_it_respects_the_order_of_operations():
    reply = reply_to("What is 2 + 3*4?")
    assert "\\(3 \\cdot 4 = 12\\)" in reply
    assert answer_line(reply) == "14"


def test_it_reduces_a_fraction_and_shows_the_decimal():
    reply = reply_to("calculate 12/8")
    assert "greatest common divisor, 4" in reply
    assert answer_line(reply) == "3/2 = 1.5"


def test_it_adds_fractions_over_a_common_denominator():
    reply = reply_to("What is 3/4 + 1/6?")
    assert "common denominator 12" in reply
    assert answer_line(reply).startswith("11/12")


@pytest.mark.parametrize(("question", "result"), [("sqrt(16)", "4"), ("What is the square root of 16?", "4"),
                                                  ("what is 5 plus 3", "8"), ("What's 15% of 80?", "12")])
def test_it_understands_common_spellings_of_arithmetic(question, result):
    assert answer_line(reply_to(question)) == result


def test_it_simplifies_a_rational_expression_by_cancelling():
    reply = reply_to("simplify (x^2-1)/(x-1)")
    assert "Cancel the common factor \\(x - 1\\)" in reply
    assert answer_line(reply) == "x + 1"


def test_it_expands_a_square():
    assert answer_line(reply_to("expand (x+1)^2")) == "x^2 + 2x + 1"


def test_it_factors_a_difference_of_squares():
    assert answer_line(reply_to("factor x^2 - 9")) == "(x - 3)(x + 3)"


def test_it_factors_a_whole_number_into_primes():
    assert answer_line(reply_to("factor 360")) == "2^3 * 3^2 * 5"


def test_it_differentiates_a_power_with_the_power_rule():
    reply = reply_to("derivative of x^3")
    assert "Power rule" in reply
    assert answer_line(reply) == "3x^2"


def test_it_differentiates_sine_with_respect_to_the_named_variable():
    assert answer_line(reply_to("differentiate sin(x)")) == "cos(x)"
    assert answer_line(reply_to("d/dt t^3")) == "3t^2"


@pytest.mark.parametrize(("text", "expected"), [
    ("2nd derivative of x^3", "6x"),
    ("Find the second derivative of x^3", "6x"),
    ("differentiate x^3 twice", "6x"),
    ("d²y/dx² of y = x^3", "6x"),
    ("d^2/dt^2 (t^4)", "12t^2"),
    ("What is the third derivative of x^4?", "24x"),
    ("second-order derivative of sin(x)", "-sin(x)"),
    ("differentiate x^4 3 times with respect to x", "24x"),
    ("first derivative of x^3", "3x^2"),
])
def test_it_takes_higher_derivatives_one_at_a_time(text, expected):
    assert answer_line(reply_to(text)) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Differentiate ln x * 3", "3/x"),  # a written "*" ends the argument: 3·ln x, not ln(3x)
    ("Differentiate lnx * 3", "3/x"),
    ("Differentiate sin 2x", "2*cos(2x)"),  # an implicit product stays inside
    ("Differentiate sin x^2", "2x*cos(x^2)"),
    ("What is the derivative of sin^2 x?", "2*sin(x)*cos(x)"),  # (sin x)^2
    ("Differentiate sin x cos x", "-sin(x)^2 + cos(x)^2"),  # the next function ends it
    ("Differentiate xcos(x)", "-x*sin(x) + cos(x)"),  # an unknown glued before a function
    ("Differentiate xsin x", "x*cos(x) + sin(x)"),
])
def test_a_function_written_without_brackets_takes_the_argument_a_reader_would(text, expected):
    assert answer_line(reply_to(text)) == expected


def test_a_number_times_an_expression_is_a_product_not_a_repetition():
    assert answer_line(reply_to("differentiate 3 times x^2")) == "6x"


def test_a_derivative_of_too_high_an_order_is_refused_plainly():
    assert reply_to("50th derivative of x^3") == "I differentiate at most 10 times."


def test_it_integrates_and_adds_the_constant():
    reply = reply_to("integrate 2x")
    assert "\\int 2 x\\,dx = x^{2} + C" in reply
    assert answer_line(reply) == "x^2 + C"


def test_it_computes_a_definite_integral():
    assert answer_line(reply_to("integrate x^2 dx from 0 to 1")).startswith("1/3")


def test_it_reports_division_by_zero():
    assert "divides by zero" in reply_to("what is 10/0")


# --- recognising nothing ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["hello", "tell me a joke", "What is the capital of France?",
                                  "I need help with an equation", "I have 3 apples and 2 oranges", ""])
def test_it_returns_none_when_there_is_no_math(text):
    assert answer(text) is None


def test_prose_words_never_become_symbols():
    reply = reply_to("Can you help me solve the equation 3x + 11 = 14 please?")
    latex = reply.split("\\(")[1].split("\\)")[0]
    assert latex == "3 x + 11 = 14"


# --- hostile input ---------------------------------------------------------------------------------


def test_it_refuses_a_huge_exponent_quickly():
    start = time.monotonic()
    reply = answer("what is 10**10**10")
    assert time.monotonic() - start < 1
    assert reply is None or "too large" in reply


def test_it_refuses_a_polynomial_that_would_explode_when_expanded():
    start = time.monotonic()
    reply = answer("expand (x+y+z+1)^60")
    assert time.monotonic() - start < 1
    assert "too large" in reply


def test_it_ignores_a_long_garbage_string_quickly():
    garbage = "".join(chr(33 + (i * 7919) % 94) for i in range(10_000))
    start = time.monotonic()
    assert answer(garbage) is None
    assert answer("1" * 10_000) is None
    assert time.monotonic() - start < 1


def test_it_never_runs_python_found_in_the_message():
    assert answer("__import__('os').system('echo hacked')") is None
    assert answer("what is ().__class__.__bases__[0].__subclasses__()") is None


def test_it_answers_the_same_question_the_same_way():
    question = "solve x^2 + 3x + 5 = 0"
    assert answer(question) == answer(question)


@pytest.mark.parametrize("question", [
    "What is the 30th Fibonacci number?", "What's the 10th prime?", "Name the 1st and 2nd terms", "What is 12 factorial?",
])
def test_a_rank_or_a_factorial_is_not_read_as_letters_or_a_factoring(question):
    # "30th" was read as 30·t·h and answered "30h*t"; "12 factorial" was factored: 2²·3.
    # The tutor has no rule for these: it says so (None) rather than answer something else.
    assert answer(question) is None


def test_ranks_beside_math_leave_the_math_alone():
    assert "x = 2" in answer("For the 3rd exercise: solve 2x + 3 = 7")


def test_expanding_what_has_no_brackets_says_so_instead_of_writing_p_equals_p():
    reply = answer("Expand x^2 + 3x")
    assert "already expanded" in reply and "x^{2} + 3 x = x^{2} + 3 x" not in reply
    assert reply.endswith("**Answer:** x^2 + 3x")


def test_each_command_of_a_multi_part_question_is_answered_in_order():
    reply = answer("Expand (x + 1)^2 (x - 3)^2 and then differentiate x^3 sin x, then integrate x e^x")
    one, two, three = (reply.index(f"**Part {n}.**") for n in (1, 2, 3))
    assert one < reply.index("x^4 - 4x^3 - 2x^2 + 12x + 9") < two
    assert two < reply.index("x^3*cos(x) + 3x^2*sin(x)") < three
    assert three < reply.index("x*exp(x) - exp(x) + C")


def test_a_later_part_with_no_math_of_its_own_works_on_the_previous_answer():
    reply = answer("Expand (x + 1)^2 and then differentiate the result")
    assert reply.index("**Answer:** x^2 + 2x + 1") < reply.index("**Part 2.**") < reply.index("**Answer:** 2x + 2")


def test_a_command_with_nothing_to_work_on_leaves_the_question_answered_whole():
    reply = answer("Differentiate and simplify x^2(x+1)")
    assert "Part" not in reply and "**Answer:** x^2 + 2x(x + 1)" in reply


def test_a_variable_then_a_spaced_constant_is_a_product():
    assert "**Answer:** `x*exp(x) - exp(x) + C`" in answer("Integrate x e^x")


@pytest.mark.parametrize("question", ["what is the derivative of cos(x)*x^2", "Integrate x e^x", "factor 360"])
def test_a_formula_in_the_answer_line_reads_the_same_in_any_markdown(question):
    # Plain CommonMark (not only our renderer) must not take x^2*sin(x) + 2x*cos(x) for
    # emphasis: the answer line carries such a formula as inline code.
    from markdown_it import MarkdownIt

    shown = answer_line(reply_to(question))
    assert "*" in shown
    html = MarkdownIt("commonmark").render(reply_to(question).rsplit("\n", 1)[-1])
    assert "<em>" not in html and f"<code>{shown}</code>" in html


# --- limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question, result",
    [
        ("what is the limit of sin(x)/x as x goes to 0", "1"),
        ("limit of (x^2 - 1)/(x - 1) as x approaches 1", "2"),
        ("lim x -> oo (1 + 1/x)^x", "e ≈ 2.71828"),
        ("find the limit of 1/t as t tends to infinity", "0"),
        ("limit of x^2 as x → -infinity", "infinity"),
        ("limit of 1/x as x approaches 0 from the left", "-infinity"),
        ("limit of 1/x as x -> 0+", "infinity"),
        ("\\lim_{x \\to 0} \\frac{\\sin x}{x}", "1"),
    ],
)
def test_it_computes_limits_as_the_variable_approaches_a_point_or_infinity(question, result):
    reply = reply_to(question)
    assert "\\lim_" in reply and answer_line(reply) == result


def test_a_limit_whose_sides_differ_or_that_oscillates_does_not_exist():
    two_sided = reply_to("limit of 1/x as x approaches 0")
    assert "the two sides differ" in two_sided and answer_line(two_sided) == "does not exist"
    assert answer_line(reply_to("limit of sin(x) as x goes to infinity")) == "does not exist"


def test_bars_are_an_absolute_value_so_the_sides_of_abs_x_over_x_differ():
    reply = reply_to("limit of |x|/x as x goes to 0")
    assert answer_line(reply) == "does not exist" and "-1" in reply and "= 1\\)" in reply
    assert answer_line(reply_to("what is |-5| + |3|")) == "8"


@pytest.mark.parametrize("question", ["limit of x*sin(x) as x -> oo", "limit of x^2 cos(x) as x goes to infinity"])
def test_a_limit_that_swings_ever_wider_does_not_exist_and_shows_no_sympy_internals(question):
    reply = reply_to(question)
    assert answer_line(reply) == "does not exist" and "oscillat" in reply
    assert not any(word in reply for word in ("AccumBounds", "sign", "langle", "nan", "zoo"))


@pytest.mark.parametrize(
    ("question", "result"),
    [
        ("Find lim_{x \\to 0} \\frac{\\sin x}{x}", "1"),  # \\lim written without its backslash
        ("$$\\frac{x^{1}}{1!}+\\frac{x^{2}}{2!}$$ Simplify x^2 + 2x + x^2", "2x(x + 1)"),  # the command's own math
        ("Simplify $\\frac{x^{3}}{3!} + \\frac{x^2}{2!}$", "x^2(x + 3)/6"),  # braces inside \\frac, factorials
    ],
)
def test_latex_with_lim_frac_bare_functions_and_factorials_is_read(question, result):
    assert answer_line(reply_to(question)) == result


def test_latex_it_cannot_read_is_refused_without_a_mangled_fragment():
    reply = reply_to("simplify $\\frac{\\frac{\\frac{\\frac{\\frac{x}{2}}{3}}{4}}{5}}{6}}{7}$")
    assert "couldn't read the math" in reply and ")*(" not in reply
    assert "too large" in reply_to("what is $\\frac{1}{600!}$")  # n! is checked before it is computed


def test_a_latex_command_it_does_not_know_is_named_not_read_in_pieces():
    # \\binom{x^2}{2} was read as the product x^2 * 2.
    reply = reply_to("Simplify $\\binom{x^{2}}{2} + \\frac{a}{b}$")
    assert "couldn't read `\\binom`" in reply and "**Answer:**" not in reply


def test_a_limit_without_a_point_asks_for_one_and_hostile_points_are_not_evaluated():
    assert "approach" in reply_to("find the limit of sin(x)/x")
    # Only the tutor's own tokens reach sympy: no Python is evaluated from the point.
    assert "\\lim_" not in (answer("limit of 1/x as x goes to __import__('os')") or "")


def test_the_same_problem_asked_again_is_read_once_and_answered_the_same(monkeypatch):
    """A class asks the same problem many times: reading it was half the offline model's
    CPU per answer. What cannot be read is refused every time."""
    from chat.providers.offline import mathparse

    mathparse.read.cache_clear()
    first = answer("Solve 3y - 4 = 11")
    parsed = []
    original = mathparse.parse_expr
    monkeypatch.setattr(mathparse, "parse_expr", lambda *a, **k: parsed.append(a[0]) or original(*a, **k))
    assert answer("Solve 3y - 4 = 11") == first
    assert parsed == []
    for _ in range(2):
        with pytest.raises(mathparse.Unreadable):
            mathparse.read("(x +")
    assert parsed == ["(x +", "(x +"]


# --- contractions and products of functions with exponentials -------------------------------


def read_math(text: str):
    request = extract(text)
    assert request is not None, f"no math found in {text!r}"
    return request.intent, read(request.candidates[0])[1]


x, y = sp.symbols("x y")


@pytest.mark.parametrize(("text", "intent", "expected"), [
    ("what's sinx + 1", "evaluate", sp.sin(x) + 1),
    ("what’s cosy + 2", "evaluate", sp.cos(y) + 2),
    ("it's sinx + 1, simplify it", "simplify", sp.sin(x) + 1),
    ("how's tanx - 1 differentiated? differentiate it", "diff", sp.tan(x) - 1),
])
def test_the_letter_after_an_apostrophe_is_part_of_the_word_not_a_variable(text, intent, expected):
    assert read_math(text) == (intent, expected)


@pytest.mark.parametrize(("text", "expected"), [
    ("differentiate 3 cos(x) e^x", 3 * sp.cos(x) * sp.exp(x)),
    ("differentiate 5 sin(x) e^(3x)", 5 * sp.sin(x) * sp.exp(3 * x)),
    ("differentiate 2 ln(x) e^x", 2 * sp.log(x) * sp.exp(x)),
    ("differentiate (x^2+1) e^(-x)", (x**2 + 1) * sp.exp(-x)),
    ("differentiate sin(2x) pi", sp.pi * sp.sin(2 * x)),
])
def test_a_bracket_then_e_or_pi_is_one_product(text, expected):
    assert read_math(text) == ("diff", expected)


def test_the_derivative_of_a_function_times_an_exponential_uses_both():
    assert sp.simplify(sp.sympify(answer_line(reply_to("differentiate 3 cos(x) e^x")))
                       - sp.diff(3 * sp.cos(x) * sp.exp(x), x)) == 0


# --- what the reader reads: invisible and compatibility characters -------------------------------


@pytest.mark.parametrize(
    "text",
    ["solve 3\u200bx = 9",  # a zero-width space inside "3x"
     "sol\u200bve 3\u2060x\u00ad = 9\u200d",  # word joiner, soft hyphen, zero-width joiner
     "solve \uff13x \uff1d \uff19",  # full-width digits and equals sign
     "solve \u200e3x = 9\u200f"],  # direction marks
)
def test_invisible_and_full_width_characters_read_as_what_they_show(text):
    reply = reply_to(text)
    assert answer_line(reply) == "x = 3"
    assert "\u200b" not in reply and "\uff13" not in reply  # nothing odd in the LaTeX either


def test_superscripts_stay_powers_when_compatibility_forms_are_folded():
    assert answer_line(reply_to("solve x² = 16")) == "x = -4 or x = 4"
    assert answer_line(reply_to("solve x⁻¹ = 2")) == "x = 1/2"
    assert answer_line(reply_to("what is ½ + ¼")).startswith("3/4")


# --- systems: each equation once, every step says something --------------------------------------


@pytest.mark.parametrize(
    "message",
    ["Please solve 5x - 2 = 13. " * 40,  # one equation pasted over and over
     "solve 5x - 2 = 13 and 5x - 2 = 13",
     "solve 5x - 2 = 13 and 10x - 4 = 26"],  # the same equation times 2
)
def test_an_equation_said_again_is_one_equation_not_a_system(message):
    assert reply_to(message) == reply_to("solve 5x - 2 = 13")


@pytest.mark.parametrize("message", ["solve a + b = 5 and a*b = 6", "solve x^2 + y^2 = 10 and x - y = 2"])
def test_every_step_of_a_system_shows_what_it_gives(message):
    reply = reply_to(message)
    steps = [line for line in reply.splitlines() if line[:1].isdigit()]
    assert steps and all(not step.rstrip().endswith(":") for step in steps), reply
    assert all("\\(" in step for step in steps)  # the solutions are in the step, not only in the answer
