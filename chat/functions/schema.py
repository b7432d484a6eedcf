"""Function definitions and their arguments, checked with JSON Schema.

A function tool is ``{"type": "function", "function": {name, description, parameters,
strict}}`` as the Assistants API stores it. Its ``parameters`` must be a valid JSON
Schema (checked against the meta-schema of the draft it declares, 2020-12 by default)
describing an object; the model's arguments must be JSON matching that schema.

Every surface (the Functions page, the admin, ``/v1``) defines functions through
``clean_definition``, and every check of a value against a stored schema goes through
``_bounded_errors``. Schemas come from users, so both are hardened:

- nothing is ever fetched: only local references (``#/$defs/…``, ``#anchor``) are
  accepted, and the validator's registry refuses any retrieval, so even a schema stored
  before this rule cannot make the server open a URL or a file;
- ``pattern`` and ``patternProperties`` run on RE2 (linear time); a pattern RE2 cannot
  compile (backreferences, lookarounds) is refused when the function is defined;
- arguments are bounded in size and depth, validation in time (a deadline checked at
  every keyword), and the engine runs it off the event loop (``check_arguments``).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import re
import time
from typing import Any

import re2
import referencing
from asgiref.sync import sync_to_async
from jsonschema import (
    Draft3Validator,
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
    validators,
)
from jsonschema.exceptions import SchemaError, ValidationError
from referencing.exceptions import Unresolvable

# The API's rule for function names, ^[a-zA-Z0-9_-]{1,64}$ (matched in full: Python's "$"
# also matches before a final newline).
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME_RULE = "Use 1 to 64 letters, digits, underscores or dashes (no spaces)."
DESCRIPTION_MAX = 1024
EMPTY_PARAMETERS = {"type": "object", "properties": {}}


class DefinitionError(Exception):
    """A function definition that cannot be used; ``field`` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _where(path) -> str:
    parts = [str(p) for p in path]
    return " → ".join(parts) if parts else "the top level"


def validator_for(schema: dict) -> type:
    return validators.validator_for(schema, default=Draft202012Validator)


# --- patterns: RE2, never backtracking ------------------------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the user's error, not a server log line
_RE2_OPTIONS.never_capture = True  # only "does it match" is asked
# ECMA-262 (JSON Schema's regex dialect) writes a code point as \uXXXX; RE2 as \x{XXXX}.
_ECMA_UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9A-Fa-f]{4})")


class PatternError(ValueError):
    pass


# Each compiled pattern may grow a DFA cache of up to RE2's max_mem (8 MB): keep few.
@functools.lru_cache(maxsize=64)
def compile_pattern(pattern: str):
    """``pattern`` compiled by RE2, or PatternError saying why RE2 cannot run it."""
    try:
        return re2.compile(_ECMA_UNICODE_ESCAPE.sub(r"\1\\x{\2}", pattern), _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(reason) from None


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not compile_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        compiled = compile_pattern(pattern)
        for key, value in instance.items():
            if compiled.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _identity(value: Any) -> Any:
    """A hashable stand-in equal exactly when JSON Schema calls two values equal
    (1 == 1.0, but true != 1; object key order does not matter)."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_identity(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, _identity(item)) for key, item in value.items()))
    return ("other", repr(value))


def _unique_items(validator, unique, instance, schema):
    # jsonschema compares unsortable items pairwise (quadratic); hashing is linear.
    if unique and validator.is_type(instance, "array") and len({_identity(item) for item in instance}) < len(instance):
        yield ValidationError(f"{instance!r} has non-unique elements")


# --- the deadline, checked at every keyword ---------------------------------------------------

ARGUMENTS_MAX_CHARS = 100_000  # longer arguments are refused without being parsed
ARGUMENTS_MAX_DEPTH = 64  # nesting of arrays and objects in the arguments
VALIDATION_SECONDS = 2.0  # the time one check of a value against a schema may take

_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("schema_validation_deadline", default=float("inf"))


class ValidationTimeout(Exception):
    pass


def _with_deadline(keyword):
    @functools.wraps(keyword)
    def checked(validator, value, instance, schema):
        if time.monotonic() > _deadline.get():
            raise ValidationTimeout
        return keyword(validator, value, instance, schema)

    return checked


def _refuse_retrieval(uri: str):
    raise referencing.exceptions.NoSuchResource(ref=uri)


# jsonschema adds the drafts' own meta-schemas to this registry; anything else is unknown.
_NO_RETRIEVAL = referencing.Registry(retrieve=_refuse_retrieval)
_REPLACED_KEYWORDS = {"pattern": _pattern, "patternProperties": _pattern_properties, "uniqueItems": _unique_items}


def _bounded(cls: type) -> type:
    keywords = {name: _with_deadline(_REPLACED_KEYWORDS.get(name, keyword)) for name, keyword in cls.VALIDATORS.items()}
    return validators.extend(cls, keywords)


_BOUNDED = {
    cls: _bounded(cls)
    for cls in (Draft3Validator, Draft4Validator, Draft6Validator, Draft7Validator, Draft201909Validator, Draft202012Validator)
}


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if level <= ARGUMENTS_MAX_DEPTH:
                stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _bounded_errors(schema: dict, value: Any) -> list[ValidationError]:
    """Every error of ``value`` against ``schema``, sorted by place, without fetching anything.

    Raises ValidationTimeout past VALIDATION_SECONDS, Unresolvable for a reference that
    is not local, SchemaError (or another jsonschema error) for a broken stored schema."""
    cls = _BOUNDED.get(validator_for(schema)) or _BOUNDED[Draft202012Validator]
    token = _deadline.set(time.monotonic() + VALIDATION_SECONDS)
    try:
        return sorted(cls(schema, registry=_NO_RETRIEVAL).iter_errors(value), key=lambda e: list(map(str, e.path)))
    except RecursionError:
        raise ValidationTimeout from None
    finally:
        _deadline.reset(token)


# --- definitions ------------------------------------------------------------------------------

REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
# Keywords whose values are data, not schemas: nothing inside them is a reference or a pattern.
DATA_KEYWORDS = ("const", "enum", "default", "examples")


def _unsafe_part(schema: Any) -> str | None:
    """Why ``schema`` (any JSON) could make the server fetch something or backtrack, or None."""
    # Each node's path is (key, parent's path): linear however deep the schema nests.
    stack: list[tuple[Any, tuple | None]] = [(schema, None)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            stack.extend((item, (index, where)) for index, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in DATA_KEYWORDS:
                continue
            if key in REFERENCE_KEYWORDS and isinstance(value, str) and not value.startswith("#"):
                return (
                    f'At {_where(_unlink(where))}: "{key}": {json.dumps(value)} points outside this schema. Only local '
                    'references such as "#/$defs/name" are allowed; schemas are never fetched from the network or files.'
                )
            if key == "$schema" and isinstance(value, str) and validators.validator_for({key: value}, default=None) is None:
                return (
                    f'At {_where(_unlink(where))}: unknown "$schema" {json.dumps(value)}. Leave it out (2020-12) or name a '
                    "JSON Schema draft such as https://json-schema.org/draft/2020-12/schema; nothing is fetched."
                )
            patterns = [value] if key == "pattern" and isinstance(value, str) else []
            if key == "patternProperties" and isinstance(value, dict):
                patterns = list(value)
            for pattern in patterns:
                try:
                    compile_pattern(pattern)
                except PatternError as exc:
                    return (
                        f"At {_where(_unlink((key, where)))}: the pattern {json.dumps(pattern)} cannot be used ({exc}). "
                        "Patterns run on a linear-time engine: backreferences and lookarounds are not supported."
                    )
            stack.append((value, (key, where)))
    return None


def _unlink(where: tuple | None) -> list:
    path = []
    while where is not None:
        key, where = where
        path.append(key)
    return path[::-1]


def check_parameters(schema: Any) -> None:
    """Raise DefinitionError("parameters", …) unless ``schema`` is a usable object schema."""
    if not isinstance(schema, dict):
        raise DefinitionError("parameters", "The parameters must be a JSON object (a JSON Schema).")
    if problem := _unsafe_part(schema):
        raise DefinitionError("parameters", problem)
    cls = validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise DefinitionError(
            "parameters", f"Not a valid JSON Schema at {_where(exc.absolute_path)}: {exc.message}"
        ) from None
    if schema.get("type", "object") != "object":
        raise DefinitionError("parameters", 'The parameters must describe an object: use "type": "object".')


def _strict_problem(schema: dict, path: tuple = ()) -> str | None:
    """Structured Outputs' rules: every object closed and every property required."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            return f'At {_where(path)}: strict mode needs "additionalProperties": false.'
        missing = sorted(set(props) - set(schema.get("required", [])))
        if missing:
            return f"At {_where(path)}: strict mode needs every property in required (missing: {', '.join(missing)})."
        for name, sub in props.items():
            if problem := _strict_problem(sub, (*path, "properties", name)):
                return problem
    if isinstance(schema.get("items"), dict):
        return _strict_problem(schema["items"], (*path, "items"))
    for key in ("anyOf", "$defs", "definitions"):
        subs = schema.get(key)
        for index, sub in enumerate(subs.values() if isinstance(subs, dict) else subs or []):
            if problem := _strict_problem(sub, (*path, key, index)):
                return problem
    return None


def clean_definition(raw: Any) -> dict:
    """A function definition (bare or wrapped in {"type": "function", …}), normalised.

    Returns ``{"name", "description", "parameters", "strict"?}`` or raises DefinitionError.
    """
    if isinstance(raw, dict) and raw.get("type") == "function" and isinstance(raw.get("function"), dict):
        raw = raw["function"]
    if not isinstance(raw, dict):
        raise DefinitionError("definition", "A function definition is a JSON object with a name and parameters.")
    unknown = sorted(set(raw) - {"name", "description", "parameters", "strict"})
    if unknown:
        raise DefinitionError("definition", f"Unknown keys in the definition: {', '.join(unknown)}.")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise DefinitionError("name", f"Invalid function name {name!r}. {NAME_RULE}")
    description = raw.get("description", "") or ""
    if not isinstance(description, str):
        raise DefinitionError("description", "The description must be text.")
    if len(description) > DESCRIPTION_MAX:
        raise DefinitionError("description", f"The description can be at most {DESCRIPTION_MAX} characters.")
    parameters = raw.get("parameters")
    if parameters is None:
        parameters = dict(EMPTY_PARAMETERS)
    check_parameters(parameters)
    strict = raw.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise DefinitionError("strict", "strict must be true, false or left out.")
    if strict and (problem := _strict_problem(parameters)):
        raise DefinitionError("parameters", problem)
    definition = {"name": name, "description": description, "parameters": parameters}
    if strict is not None:
        definition["strict"] = strict
    return definition


def clean_tools(tools: Any) -> list[dict]:
    """An assistant's whole ``tools`` list: function entries checked, names unique."""
    if not isinstance(tools, list):
        raise DefinitionError("tools", "tools must be a JSON list.")
    cleaned, names = [], set()
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise DefinitionError("tools", f"Tool {index + 1} must be an object with a type.")
        if tool["type"] != "function":
            cleaned.append(tool)
            continue
        try:
            definition = clean_definition(tool.get("function"))
        except DefinitionError as exc:
            raise DefinitionError("tools", f"Function tool {index + 1}: {exc.message}") from None
        if definition["name"] in names:
            raise DefinitionError("tools", f"Two functions are named {definition['name']!r}; names must be unique.")
        names.add(definition["name"])
        cleaned.append({"type": "function", "function": definition})
    return cleaned


def argument_error(definition: dict, arguments: str) -> str | None:
    """Why the model's ``arguments`` cannot be used for this function, or None.

    Takes up to VALIDATION_SECONDS of CPU: call ``check_arguments`` from async code."""
    name = definition.get("name")
    if len(arguments or "") > ARGUMENTS_MAX_CHARS:
        return f"The arguments for {name} are too long ({len(arguments)} characters; at most {ARGUMENTS_MAX_CHARS})."
    try:
        value = json.loads(arguments or "{}")
    except ValueError as exc:
        return f"The arguments for {name} are not valid JSON ({exc})."
    except RecursionError:
        value = None
    if value is None or _depth(value) > ARGUMENTS_MAX_DEPTH:
        return f"The arguments for {name} are nested too deeply (at most {ARGUMENTS_MAX_DEPTH} levels)."
    schema = definition.get("parameters") or EMPTY_PARAMETERS
    try:
        errors = _bounded_errors(schema, value)
    except ValidationTimeout:
        return f"The arguments for {name} took too long to check against its parameters; send simpler arguments."
    except Exception:  # a broken schema saved before validation existed: let the caller decide
        return None
    if not errors:
        return None
    return f"The arguments for {name} do not match its parameters at {_where(errors[0].absolute_path)}: {errors[0].message}."


async def check_arguments(definition: dict, arguments: str) -> str | None:
    """``argument_error`` in a worker thread, so a slow schema never holds the event loop."""
    check = sync_to_async(argument_error, thread_sensitive=False)
    try:
        # The deadline inside stops the work; this one only guards against a stuck thread.
        return await asyncio.wait_for(check(definition, arguments), VALIDATION_SECONDS * 2)
    except TimeoutError:
        return f"The arguments for {definition.get('name')} took too long to check against its parameters."


def validation_errors(schema: dict, value: Any) -> list[ValidationError]:
    """Why ``value`` does not fit ``schema`` (a broken stored schema finds nothing wrong)."""
    try:
        if _depth(value) > ARGUMENTS_MAX_DEPTH:
            return [ValidationError(f"The value is nested too deeply (at most {ARGUMENTS_MAX_DEPTH} levels).")]
        return _bounded_errors(schema, value)
    except ValidationTimeout:
        return [ValidationError("This value took too long to check against the schema.")]
    except (SchemaError, Unresolvable, PatternError):
        return []
