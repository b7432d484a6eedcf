"""Reading what clients send: JSON (the /v1 bodies, the browser's JSON fields) and whole
numbers in query strings. One parser, so every surface refuses the same things.

``json.loads`` accepts values that fail later, far from the request, as 500s:

- unpaired surrogates (``"\\ud800"``): no database and no response can encode them as UTF-8;
- NUL characters: PostgreSQL's text and jsonb refuse them;
- ``NaN``, ``Infinity`` and numbers too large for a float (``1e400``): not JSON, and jsonb
  refuses them;
- nesting deep enough to exhaust Python's recursion (in ``json.loads`` itself, then in every
  recursive walk: validation, rendering, ``json.dumps``).

They are refused here, at parse time, with the path of the offending value
(``messages[0].content``), in the API's ``param`` notation.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Levels of arrays and objects, counting the outermost. A function's JSON Schema sent in a
# /v1 body sits 5 levels down and each nested object in it adds 2, so this leaves room for
# ~29 levels of nested objects — far more than any real schema — while every recursive walk
# of the value stays far from Python's recursion limit (1000).
MAX_JSON_DEPTH = 64

_UNENCODABLE = re.compile("[\x00\ud800-\udfff]")


class BadInput(ValueError):
    """Input refused; ``path`` names the offending value ("" for the whole document).
    ``syntax`` is true when the text is not JSON at all."""

    def __init__(self, message: str, path: str = "", *, syntax: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.syntax = syntax


def _refuse_constant(name: str):
    raise BadInput(f"{name} is not a JSON number.", syntax=True)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BadInput(f"The number {text[:40]} is too large.")
    return value


def loads(raw: str | bytes) -> Any:
    """The JSON value in ``raw``, or BadInput."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadInput(f"The JSON is nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects.") from None
    except BadInput:
        raise
    except ValueError as exc:  # includes UnicodeDecodeError and ints of more than 4300 digits
        raise BadInput(f"This is not valid JSON: {exc}.", syntax=True) from None
    check_value(value)
    return value


class Decoder(json.JSONDecoder):
    """``loads`` for APIs that take a decoder class (Django's ``forms.JSONField(decoder=…)``):
    a refusal is a JSONDecodeError, which they turn into a form error."""

    def decode(self, s: str, *args) -> Any:
        try:
            return loads(s)
        except BadInput as exc:
            raise json.JSONDecodeError(exc.message, s, 0) from None


def check_value(value: Any, path: str = "") -> None:
    """Refuse unencodable strings (values or keys) and nesting past MAX_JSON_DEPTH."""
    stack = [(value, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, where)
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise BadInput(f"The JSON is nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects.", where)
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key, where)
                    stack.append((child, f"{where}.{key}" if where else key, depth + 1))
            else:
                stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))


def check_text(text: str, path: str = "") -> str:
    """``text`` if it can be stored and sent back as UTF-8 (no NUL, no unpaired surrogate)."""
    found = _UNENCODABLE.search(text)
    if found is not None:
        what = "a NUL character" if found.group() == "\x00" else f"an unpaired surrogate (\\u{ord(found.group()):04x})"
        where = f"Invalid '{path}': the string" if path else "The text"
        raise BadInput(f"{where} contains {what}; send valid Unicode text.", path)
    return text


_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")
BIGINT_MAX = 2**63 - 1  # the largest value a 64-bit column (a message's seq) holds


def whole_number(raw: str) -> int | None:
    """A non-negative integer written with ASCII digits only (``int()`` also takes "٣", " 1"
    and "1_0", and ``str.isdigit()`` takes "²", which ``int()`` refuses) that fits a 64-bit
    column; None for anything else."""
    if not _WHOLE_NUMBER.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= BIGINT_MAX else None


class ObjectIdConverter:
    """``<id:thread_id>`` in URLs: a path segment naming an object — anything but "/" and NUL.
    PostgreSQL's text cannot hold NUL, so looking such an id up would fail (a 500) instead of
    finding nothing; refused here, the URL simply does not match (a 404)."""

    regex = "[^/\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
