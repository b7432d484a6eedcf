"""Explaining a Python program in words, statement by statement (for the offline model's
explain skill: "what does this code do?" after it ran code).

Read with :mod:`ast`, never run. Each statement gets one plain sentence; the body of a
loop, a condition or a function is explained nested under it.
"""

from __future__ import annotations

import ast

MAX_LINES = 40  # statements explained; a longer program is summarised after that
MAX_SHOWN = 100  # characters of code quoted in one line of the explanation


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"

_OPERATORS = {ast.Add: "Add", ast.Sub: "Subtract", ast.Mult: "Multiply", ast.Div: "Divide",
              ast.FloorDiv: "Divide (rounding down)", ast.Mod: "Take the remainder of", ast.Pow: "Raise"}


def _code(node: ast.AST) -> str:
    text = _clip(ast.unparse(node))
    return f"`{text}`" if "`" not in text else f"``{text}``"


def _range_words(call: ast.Call) -> str | None:
    if not (isinstance(call.func, ast.Name) and call.func.id == "range") or call.keywords:
        return None
    args = [ast.unparse(a) for a in call.args]
    if len(args) == 1:
        return f"from 0 up to (not including) `{args[0]}`"
    if len(args) == 2:
        return f"from `{args[0]}` up to (not including) `{args[1]}`"
    if len(args) == 3:
        return f"from `{args[0]}` up to (not including) `{args[1]}`, in steps of `{args[2]}`"
    return None


def _value_words(value: ast.AST) -> str:
    if isinstance(value, (ast.List, ast.Tuple)) and not value.elts:
        return "an empty list"
    if isinstance(value, ast.List):
        return f"the list {_code(value)}"
    if isinstance(value, ast.BinOp) and isinstance(value.left, ast.List) and isinstance(value.op, ast.Mult):
        return f"a list of {_code(value.right)} copies of {_code(value.left.elts[0]) if value.left.elts else 'nothing'}"
    if isinstance(value, (ast.ListComp, ast.GeneratorExp)):
        return f"the values {_code(value.elt)} for each {_code(value.generators[0].target)} in {_code(value.generators[0].iter)}"
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "sum":
        return f"the sum of {_code(value.args[0])}" if value.args else _code(value)
    return _code(value)


def _call_words(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name) and func.id == "print":
        shown = ", ".join(
            "a line of text with the values filled in" if isinstance(a, ast.JoinedStr) else _code(a) for a in call.args[:5]
        ) + (f" and {len(call.args) - 5} more values" if len(call.args) > 5 else "")
        return f"Print {shown or 'an empty line'}."
    if isinstance(func, ast.Attribute) and func.attr == "append" and len(call.args) == 1:
        return f"Append {_code(call.args[0])} to the end of {_code(func.value)}."
    if isinstance(func, ast.Attribute) and func.attr in ("show", "savefig"):
        return "Show the figure drawn so far." if func.attr == "show" else f"Save the figure as {_code(call.args[0]) if call.args else 'a file'}."
    return f"Call {_code(call)}."


def describe_statement(node: ast.stmt) -> str:
    if isinstance(node, ast.Import):
        return "Load the " + ", ".join(f"`{a.name}`" + (f" (as `{a.asname}`)" if a.asname else "") for a in node.names) + " module" + ("s" if len(node.names) > 1 else "") + "."
    if isinstance(node, ast.ImportFrom):
        return f"Load {', '.join(f'`{a.name}`' for a in node.names)} from the `{node.module}` module."
    if isinstance(node, ast.Assign):
        targets = " and ".join(_code(t) for t in node.targets)
        return f"Set {targets} to {_value_words(node.value)}."
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return f"Set {_code(node.target)} to {_value_words(node.value)}."
    if isinstance(node, ast.AugAssign):
        verb = _OPERATORS.get(type(node.op), "Update")
        if isinstance(node.op, ast.Add):
            return f"Add {_code(node.value)} to {_code(node.target)}."
        if isinstance(node.op, ast.Sub):
            return f"Subtract {_code(node.value)} from {_code(node.target)}."
        return f"{verb} {_code(node.target)} by {_code(node.value)}, keeping the result in it."
    if isinstance(node, ast.For):
        span = _range_words(node.iter) if isinstance(node.iter, ast.Call) else None
        return f"Repeat the lines below for each {_code(node.target)} " + (span or f"in {_code(node.iter)}") + ":"
    if isinstance(node, ast.While):
        return f"Repeat the lines below as long as {_code(node.test)} is true:"
    if isinstance(node, ast.If):
        return f"If {_code(node.test)}, do the lines below:"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = ", ".join(a.arg for a in node.args.args)
        return f"Define a function `{node.name}({args})` that runs the lines below when called:"
    if isinstance(node, ast.Return):
        return f"Give back {_code(node.value)} as the function's result." if node.value else "Leave the function."
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return _call_words(node.value)
    if isinstance(node, ast.With):
        return f"With {', '.join(_code(item.context_expr) for item in node.items)} open, do the lines below:"
    if isinstance(node, ast.Break):
        return "Stop the loop early."
    if isinstance(node, ast.Continue):
        return "Skip to the next round of the loop."
    return f"Run {_code(node)}."


def _walk(body: list[ast.stmt], depth: int, lines: list[str]) -> None:
    for node in body:
        if len(lines) >= MAX_LINES:
            return
        header = _clip(ast.unparse(node).splitlines()[0])
        lines.append(f"{'   ' * depth}- `{header}` — {describe_statement(node)}")
        for part in ("body", "orelse"):
            inner = getattr(node, part, None)
            if isinstance(inner, list) and inner and isinstance(node, (ast.For, ast.While, ast.If, ast.With, ast.FunctionDef, ast.AsyncFunctionDef)):
                if part == "orelse":
                    lines.append(f"{'   ' * depth}- Otherwise:" if isinstance(node, ast.If) else f"{'   ' * depth}- When the loop ends normally:")
                _walk(inner, depth + 1, lines)


def explain_program(code: str) -> str | None:
    """A nested Markdown list explaining each statement, or None if it is not Python."""
    lines: list[str] = []
    try:
        _walk(ast.parse(code).body, 0, lines)
    except (SyntaxError, ValueError, RecursionError):  # not Python, or nested deeper than we read
        return None
    if len(lines) >= MAX_LINES:
        lines.append("- … and so on: the rest of the program is longer than I explain line by line.")
    return "\n".join(lines) if lines else None
