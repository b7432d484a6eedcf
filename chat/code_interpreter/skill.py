"""The offline model's code_interpreter skill: it writes and runs real programs.

For requests it recognizes (Fibonacci numbers, the nth of them, primes below N, whether N
is prime, factorials, sums of series, tables, the mean, median or sum of numbers, "plot sin x"
or "graph y = … from a to b", or a pasted
```python block) it calls code_interpreter with a program; after the call it reports what the program actually
printed. Nothing is answered from a lookup table.
"""

from __future__ import annotations

import math
import re

import sympy

from chat.code_interpreter.explain import explain_program
from chat.code_interpreter.kernel import sandbox_name
from chat.providers.offline import mathparse, mathtutor, spelling
from chat.providers.offline.explain import register_explainer
from chat.providers.offline.model import (
    Reply,
    answered_call,
    full_stop,
    json_arguments,
    last_message,
    literal,
    message_text,
    register_skill,
    register_tool_caller,
)

NAME = "code_interpreter"
_NUM = r"(\d{1,6})"
PASTED = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S | re.I)


def _fibonacci(m: re.Match) -> str:
    """Each Fibonacci number is the sum of the two before it: starting from 0 and 1, the
    program keeps adding the last two numbers and appending the sum until it has n of them."""
    n = min(int(m.group(1)), 10_000)
    return (f"n = {n}\nfib = [0, 1]\nwhile len(fib) < n:\n    fib.append(fib[-1] + fib[-2])\n"
            f"fib = fib[:n]\nprint(f'The first {{n}} Fibonacci numbers:')\nprint(', '.join(map(str, fib)))")


def _nth_fibonacci(m: re.Match) -> str:
    """Counting F(1) = F(2) = 1, the program starts from the pair (0, 1) and moves it on n
    times, each time replacing (a, b) with (b, a + b); after n moves a is the nth number."""
    n = min(int(m.group(1)), 100_000)
    return (f"n = {n}\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, a + b\n"
            f"print(f'Fibonacci number {{n}} (counting F(1) = F(2) = 1) is {{a}}')")


def _is_prime(m: re.Match) -> str:
    """Trial division: n is prime when it is at least 2 and no number from 2 up to √n divides
    it, since a factor larger than √n would pair with one smaller."""
    n = int(m.group(1))
    return (f"import math\nn = {n}\ndivisor = next((d for d in range(2, math.isqrt(n) + 1) if n % d == 0), None)\n"
            f"if n < 2:\n    print(f'{{n}} is not prime: primes are at least 2.')\n"
            f"elif divisor is None:\n    print(f'{{n}} is prime: no number from 2 to {{math.isqrt(n)}} divides it.')\n"
            f"else:\n    print(f'{{n}} is not prime: {{n}} = {{divisor}} × {{n // divisor}}.')")


def _primes(m: re.Match) -> str:
    """The sieve of Eratosthenes: go through the numbers from 2 up; a number not yet crossed
    out is prime, and then every multiple of it is crossed out, since none of them can be prime."""
    n = min(int(m.group(1)), 10_000_000)
    return (f"n = {n}\nsieve = [True] * n\nprimes = []\nfor k in range(2, n):\n    if sieve[k]:\n"
            f"        primes.append(k)\n        for multiple in range(k * k, n, k):\n            sieve[multiple] = False\n"
            f"print(f'There are {{len(primes)}} primes below {{n}}:')\nprint(', '.join(map(str, primes[:200])) + (' …' if len(primes) > 200 else ''))")


def _factorial(m: re.Match) -> str:
    """n! is the product 1 × 2 × … × n; Python's math.factorial computes it exactly, however many digits."""
    n = min(int(m.group(1)), 5000)
    return f"import math\nn = {n}\nprint(f'{{n}}! = {{math.factorial(n)}}')"


SERIES = {
    "natural numbers": ("k", "the first {n} natural numbers"), "integers": ("k", "the first {n} positive integers"),
    "squares": ("k**2", "the squares of 1..{n}"), "cubes": ("k**3", "the cubes of 1..{n}"),
    "odd numbers": ("2*k - 1", "the first {n} odd numbers"), "even numbers": ("2*k", "the first {n} even numbers"),
    "reciprocals": ("sympy.Rational(1, k)", "1/k for k = 1..{n}"),
}


def _series(m: re.Match) -> str:
    """The program adds up the terms one by one, with exact (sympy) arithmetic, so fractions stay exact."""
    n, kind = min(int(m.group(1)), 1_000_000), m.group(2).lower()
    term, label = SERIES[kind]
    label = label.format(n=n)
    return (f"import sympy\nn = {n}\ntotal = sum({term} for k in range(1, n + 1))\n"
            f"print(f'The sum of {label} is {{total}}')")


def _table(m: re.Match) -> str:
    """A pandas table: one column of x values, and each further column computed from it for every row at once."""
    n = min(int(m.group(1)), 50)
    return (f"import pandas as pd\nn = {n}\ntable = pd.DataFrame({{'x': range(1, n + 1)}})\n"
            f"table['x²'] = table.x ** 2\ntable['x³'] = table.x ** 3\ntable['√x'] = (table.x ** 0.5).round(4)\n"
            f"print(table.to_string(index=False))")


def _times_table(m: re.Match) -> str:
    """A loop over 1 to 10 that prints each multiple of n."""
    n = min(int(m.group(1)), 1000)
    return f"n = {n}\nfor k in range(1, 11):\n    print(f'{{k:>2}} × {{n}} = {{k * n}}')"


# "plot sin x", "graph y = x^2 from -3 to 3", "draw cos(x) over [0, 2pi]", "can you draw me
# a graph of y = x^3 between -2 and 2", "show a plot of …": the verb (show, make… only
# with "a graph/plot of"), the expression, and an optional range; the expression is read by
# the math tutor's own safe tokenizer (never sympify: that evaluates Python).
_PLOT = re.compile(
    r"(?:\b(?:plot|graph|draw|sketch)\b(?:\s+(?:me|us))?"
    r"|\b(?:show|make|give|create|produce)\b(?:\s+(?:me|us))?(?=\s+(?:(?:a|an|the)\s+)?(?:graph|plot|chart)\s+of\b))"
    r"(?:\s+(?:a|an|the)(?=\s+(?:graph|plot|chart|function|curve)\s+of\b))?"
    r"(?:\s+(?:graph|plot|chart|function|curve)\s+of\b)?(.*)",
    re.I | re.S,
)
_RANGE = re.compile(
    r"\b(?:from|between|over|on|in)\s*[\[(]?\s*([-+\w.π*/ ]{1,40}?)\s*(?:\bto\b|\band\b|\.\.|,)\s*([-+\w.π*/]{1,40})", re.I
)
_PERIODIC = (sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc)
DEFAULT_RANGE = (-10.0, 10.0)
PERIODIC_RANGE = (-2 * math.pi, 2 * math.pi)  # two periods each side: the shape shows


# What the plotted expression may start with: a number, a bracket, a sign, a single letter
# ("x^2", "y = …") or a function's name; not a word ("plot the results", "graph theory: …").
_MATH_START = re.compile(rf"\s*(?:[-+(\d.√]|[a-z]\b|(?:{'|'.join(mathparse.FUNCTIONS)})\b)", re.I)


def _plotted(text: str) -> tuple[sympy.Expr, sympy.Symbol] | None:
    """The function that ``text`` starts with (its right side after "y ="), and its one
    variable; a bare letter ("graph G with 5 vertices") is no function to plot."""
    runs = mathparse.runs(mathparse.normalize(text)) if _MATH_START.match(text) else []
    written = mathparse.render(mathparse.tidy(runs[0])).rsplit("=", 1)[-1] if runs else ""
    try:
        expression = mathparse.read(written)[1] if written else None
    except mathparse.MathError:
        return None
    if expression is None or expression.is_Symbol or len(expression.free_symbols) != 1:
        return None
    return expression, next(iter(expression.free_symbols))


def _bound(text: str) -> float | None:
    try:
        value = mathparse.read(mathparse.render(mathparse.tidy(sum(mathparse.runs(mathparse.normalize(text)), []))))[1]
        return float(value) if value.is_real else None
    except (mathparse.MathError, TypeError, ValueError):
        return None


def critical_points(expression: sympy.Expr, variable: sympy.Symbol, low: float, high: float) -> list[float]:
    """Where the derivative is 0 inside [low, high], when sympy finds it quickly (a
    polynomial, a rational function or a short derivative): the plot's extremes lie there
    or at the ends, so sampling them gives the true range of y."""
    try:
        slope = sympy.diff(expression, variable)
        if not (slope.is_rational_function(variable) or sympy.count_ops(slope) <= 8):
            return []
        found = []
        for root in sympy.solve(slope, variable):
            value = complex(sympy.N(root))
            if abs(value.imag) < 1e-12 and low < value.real < high:
                found.append(round(value.real, 12))
        return sorted(found)[:50]
    except Exception:  # sympy gives up in many ways; the evenly spaced grid is still drawn
        return []


def _plot(m: re.Match) -> str | None:
    """The program samples the function at 401 evenly spaced x values (an odd count, so a
    range symmetric about 0 includes 0), plus the points where its slope is 0, computes y
    for each, and draws the points joined by a line with matplotlib (points where the
    function is undefined, such as log x for x ≤ 0, are left out)."""
    rest = m.group(1)[: mathparse.MAX_TEXT]  # the math tutor's bound on what it reads
    span = _RANGE.search(rest)
    found = _plotted(rest[: span.start()] if span else rest)
    if found is None:
        return None
    expression, variable = found
    if span:
        low, high = _bound(span.group(1)), _bound(span.group(2))
    else:
        low, high = PERIODIC_RANGE if expression.has(*_PERIODIC) else DEFAULT_RANGE
    if low is None or high is None or not low < high:
        return None
    label, name = sympy.sstr(expression).replace("**", "^"), variable.name
    critical = critical_points(expression, variable, low, high)
    return (
        "import numpy as np\nimport sympy\nimport matplotlib.pyplot as plt\n"
        f"{name} = sympy.Symbol({name!r})\nf = sympy.lambdify({name}, sympy.sympify({str(expression)!r}), 'numpy')\n"
        f"xs = np.union1d(np.linspace({low!r}, {high!r}, 401), {critical!r})\n"
        "with np.errstate(all='ignore'):\n    ys = np.broadcast_to(np.asarray(f(xs), dtype=float), xs.shape)\n"
        "ys = np.where(np.isfinite(ys), ys, np.nan)\n"
        "fig, ax = plt.subplots(figsize=(6, 4))\n"
        f"ax.plot(xs, ys)\nax.set_title({('y = ' + label)!r})\nax.set_xlabel({name!r})\nax.set_ylabel('y')\nax.grid(True)\n"
        "plt.show()\n"
        # Rounded to 6 places (+ 0 turns -0 into 0): a sampling error never shows as 5.6e-05.
        f"low, high = np.round([np.nanmin(ys), np.nanmax(ys)], 6) + 0\n"
        f"print(f'Plotted y = {label} for {name} from {{xs[0]:g}} to {{xs[-1]:g}}; "
        "y ranges from {low:g} to {high:g}.')"
    )


_STATISTICS = {"mean": "statistics.mean", "average": "statistics.mean", "median": "statistics.median", "sum": "sum"}
_NUMBER_LIST = r"(-?\d+(?:\.\d+)?(?:\s*(?:,|\band\b)\s*-?\d+(?:\.\d+)?)+)"


def _statistic(m: re.Match) -> str:
    """The numbers go into a Python list; the statistics module computes the mean (their sum
    divided by how many there are) or the median (the middle one once sorted, or the mean of
    the two middle ones)."""
    word, numbers = m.group(1).lower(), re.findall(r"-?\d+(?:\.\d+)?", m.group(2))
    function = _STATISTICS[word]
    return (
        f"import statistics\nvalues = [{', '.join(numbers)}]\n"
        f"print(f'The {word} of {{values}} is {{{function}(values)}}')"
    )


# A question about an attached table: its statistics, its columns, a plot of it.
_ABOUT_DATA = re.compile(
    r"\b(?:csv|tsv|data|dataset|table|spreadsheet|file|columns?|rows?|average|mean|median|sum|total|"
    r"max(?:imum)?|min(?:imum)?|highest|lowest|describe|summar\w*|plot|graph|chart|draw)\b", re.I)
_TABLE_STATISTICS = [  # (what the message says, the pandas method, the word in the answer)
    (r"\bmedian\b", "median", "median"), (r"\b(?:sum|total)\b", "sum", "sum"),
    (r"\b(?:max(?:imum)?|highest|largest)\b", "max", "maximum"),
    (r"\b(?:min(?:imum)?|lowest|smallest)\b", "min", "minimum"),
    (r"\b(?:mean|average|avg)\b", "mean", "mean"),
]
_ASKS_FOR_PLOT = re.compile(r"\b(?:plot|graph|chart|draw|visuali[sz]e)\b", re.I)


def data_program(text: str, files: tuple[str, ...]) -> str | None:
    """For a question about an attached CSV: a pandas program that reads the one the
    message names (the longest name it contains, case-insensitive), else the newest (files
    come oldest first), lists its columns, computes the statistic asked for (the mean unless another is named)
    of the numeric column the message names (every numeric column when none is named),
    and plots that column when asked. Column names are matched inside the program, against
    the message's words, since only the program sees the file."""
    tables = [name for name in files if name.lower().endswith((".csv", ".tsv"))]
    if not tables or not _ABOUT_DATA.search(text):
        return None
    named_tables = sorted((name for name in tables if name.lower() in text.lower()), key=len)
    table_name = sandbox_name((named_tables or tables)[-1])
    statistics = [(method, word) for pattern, method, word in _TABLE_STATISTICS if re.search(pattern, text, re.I)]
    method, word = statistics[0] if statistics else ("mean", "mean")
    words = sorted(set(re.findall(r"[a-z0-9_]+", text.lower())))[:200]
    program = (
        "import pandas as pd\n"
        f"name = {table_name!r}\n"
        "table = pd.read_csv(name, sep=None, engine='python')  # sniffs the delimiter: , ; or tab\n"
        "print(f'{name}: {len(table)} rows; columns: ' + ', '.join(f'{c} ({t})' for c, t in table.dtypes.astype(str).items()))\n"
        f"asked = set({words!r})\n"
        "numeric = list(table.select_dtypes('number').columns)\n"
        "named = [c for c in numeric if str(c).lower() in asked or str(c).lower() + 's' in asked or str(c).lower().rstrip('s') in asked]\n"
        "columns = named or numeric\n"
        "if not columns:\n    print('No column holds numbers, so there is nothing to compute.')\n"
        f"for column in columns:\n    print(f'The {word} of {{column}} is {{table[column].{method}():g}}')\n"
    )
    if _ASKS_FOR_PLOT.search(text):
        program += (
            "import matplotlib.pyplot as plt\n"
            "if columns:\n"
            "    labels = [c for c in table.columns if c not in numeric]\n"
            "    shown = table.set_index(labels[0]) if labels else table\n"
            "    ax = shown[columns].plot(kind='bar' if len(table) <= 30 else 'line', figsize=(6, 4))\n"
            "    ax.set_title(', '.join(map(str, columns)) + ' in ' + name)\n"
            "    plt.tight_layout()\n"
            "    plt.show()\n"
        )
    return program


RECIPES = [
    (re.compile(rf"\bfirst\s+{_NUM}\s+fibonacci", re.I), _fibonacci),
    (re.compile(rf"\b{_NUM}\s+fibonacci", re.I), _fibonacci),
    (re.compile(rf"\b{_NUM}(?:st|nd|rd|th)\s+fibonacci", re.I), _nth_fibonacci),
    (re.compile(rf"\bfibonacci\s+number\s+(?:no\.?\s*|#\s*)?{_NUM}\b", re.I), _nth_fibonacci),
    (re.compile(r"\bis\s+(\d{1,12})\s+(?:a\s+)?prime\b", re.I), _is_prime),
    (re.compile(rf"\bprimes?\b.*?\b(?:below|under|less than|up to|smaller than)\s+{_NUM}", re.I), _primes),
    (re.compile(rf"\bfactorial of\s+{_NUM}\b", re.I), _factorial),
    (re.compile(rf"\b{_NUM}\s*!(?!=)"), _factorial),
    (re.compile(rf"\b{_NUM}\s+factorial\b", re.I), _factorial),
    (re.compile(rf"\bsum of (?:the )?first\s+{_NUM}\s+({'|'.join(SERIES)})", re.I), _series),
    (re.compile(rf"\bmultiplication table (?:of|for)\s+{_NUM}", re.I), _times_table),
    (re.compile(rf"\btable of (?:squares|powers)[^0-9]*{_NUM}", re.I), _table),
    (re.compile(rf"\b({'|'.join(_STATISTICS)})\s+of\s+(?:the\s+)?(?:numbers\s+)?{_NUMBER_LIST}", re.I), _statistic),
    (_PLOT, _plot),
]


# The words of the recipes above, so that their misspellings are recognised too.
KEYWORDS = (
    "fibonacci", "primes", "prime", "numbers", "factorial", "natural", "integers", "squares", "powers",
    "cubes", "reciprocals", "multiplication", "table", "below", "under", "smaller", "first",
)


def recipe_for(text: str):
    """(the recipe's builder, the program) for a request a recipe recognises, or None."""
    text = spelling.correct(text)  # the recipes' words, even misspelt; numbers stay as written
    for pattern, build in RECIPES:
        match = pattern.search(text)
        if match:
            code = build(match)
            if code:
                return build, code
    return None


def asks_for_plot(text: str) -> bool:
    """Whether the message asks to plot a function this skill can read ("draw a graph of
    sin(x)"): such a request is for the plot recipe, never a file search or an equation."""
    match = _PLOT.search(spelling.correct(text))
    return bool(match) and _plot(match) is not None


def program_for(text: str) -> str | None:
    pasted = PASTED.search(text)
    if pasted and pasted.group(1).strip():
        return pasted.group(1).rstrip() + "\n"
    found = recipe_for(text)
    return found[1] if found else None


def _our_call(request) -> dict | None:
    """Our code_interpreter call that the last (tool) message answers."""
    return answered_call(request, NAME)


def report(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    images = [line for line in lines if line.startswith("[image shown to the user")]
    files = re.findall(r"sandbox:/mnt/data/\S+?(?=\])", output)
    body = [line for line in lines if not line.startswith("[image shown") and not line.startswith("[file saved")]
    text = "\n".join(body)
    if "Traceback" in text or re.search(r"^\w+Error\b", text, re.M):
        error = next((line for line in reversed(body) if re.match(r"^\w+(Error|Exception)\b", line)), body[-1] if body else "")
        answer = f"The code stopped with an error: {full_stop(f"`{error.strip()}`")} The full output is in the step above."
    elif not body:
        answer = "The code ran without printing anything."
    elif len(body) <= 3 and len(text) < 600:
        # Each line as Markdown shows it exactly: "y = x^3 - 3*x" or "my_var" stays as printed.
        answer = "I ran the code. It printed:\n\n" + "\n\n".join(literal(line) for line in body)
    else:
        answer = "I ran the code; here is what it printed:\n\n```\n" + text[:4000] + "\n```"
    if images:
        answer += "\n\nThe figure is shown above." if len(images) == 1 else f"\n\nThe {len(images)} figures are shown above."
    for name in files:
        answer += f"\n\n[Download {name.rsplit('/', 1)[-1]}]({name})"
    return answer


# A request that says how to answer it: with code. It is never searched for in the files.
ASKS_FOR_CODE = re.compile(
    r"\b(?:use|using|with|in|write|run)\s+(?:a\s+|some\s+)?(?:python|code|program|script)\b", re.I
)
NO_PROGRAM = (
    "I'm the offline model: I have no program of my own for this request. I can run Python you paste "
    "in a ```python block, or write one for Fibonacci numbers, primes, factorials, sums of series, "
    "tables, the mean, median or sum of numbers, and plots (\"plot sin x\", \"graph y = x^2 from -3 to 3\")."
)


# Said to whoever asks (a student cannot change the assistant; whoever set it up can).
NO_TOOL_TO_PLOT = (
    "I draw graphs by running a short Python program, and this assistant can't run code (its "
    "Code Interpreter tool is off), so I can't draw this one. Whoever set up the assistant can turn "
    "Code Interpreter on."
)


RAN = "Let me work that out with code."  # the words before each program this skill runs


def code_interpreter_skill(request) -> Reply | None:
    if NAME not in request.enabled_tools:
        # A plot asked for without the tool: say why, rather than solve "y = …" for x or
        # search the files (this skill is tried before file_search's).
        message = last_message(request)
        if message.get("role") == "user" and asks_for_plot(message_text(message)):
            return Reply(text=NO_TOOL_TO_PLOT)
        return None
    call = _our_call(request)
    if call is not None:
        return Reply(text=report(message_text(last_message(request))))
    message = last_message(request)
    if message.get("role") != "user":
        return None
    text = message_text(message)
    # A pasted program or a recipe's request ("plot sin x") comes first; then the data file.
    code = program_for(text) or data_program(text, request.code_files)
    if code is None:
        # Asked for code and no program: say so, unless the math tutor answers it.
        return Reply(text=NO_PROGRAM) if ASKS_FOR_CODE.search(text) and not mathtutor.answer(text) else None
    return Reply(text=RAN, tool_calls=((NAME, json_arguments(code=code)),))


def forced_code(request, name: str) -> str | None:
    """A program for a call that the run's tool_choice forces: the recipe for the request
    when one matches, else one that says what was asked (the answer then reports it)."""
    if name != NAME:
        return None
    users = [message_text(m) for m in request.messages if m.get("role") == "user"]
    text = users[-1] if users else ""
    code = program_for(text) or f"request = {text!r}\nprint('No program of mine computes this request:', request)\n"
    return json_arguments(code=code)


def explain_code_answer(question: str, answers: list[str]) -> str | None:
    """Explaining an answer that came from running code: the program, line by line, the
    idea behind it (for a recipe), and what it printed. None when no code ran for it (a
    plot refused for want of the tool): there is no program of mine to explain."""
    if not any(a.startswith((RAN, "I ran the code", "The code")) for a in answers):
        return None
    pasted = PASTED.search(question)
    if pasted and pasted.group(1).strip():
        code, idea = pasted.group(1), None
    elif found := recipe_for(question):
        (_, code), idea = found, found[0].__doc__
    else:
        return None
    lines = explain_program(code)
    if lines is None:
        return None
    parts = ["Here is what the program I ran does, line by line:", "", f"```python\n{code.rstrip()}\n```", "", lines]
    if idea:
        parts += ["", "**The idea:** " + " ".join(idea.split())]
    printed = next((a for a in reversed(answers) if a.startswith(("I ran the code", "The code"))), None)
    if printed:
        parts += ["", "**What it printed** (from my previous answer): " + printed.split("\n", 1)[-1].strip()]
    return "\n".join(parts)


spelling.add_keywords(*KEYWORDS)


def register() -> None:
    """Called from CodeInterpreterConfig.ready(); SKILL_ORDER says where the skill goes."""
    register_explainer("code_interpreter", explain_code_answer)
    register_skill("code_interpreter", code_interpreter_skill)
    register_tool_caller(forced_code)
