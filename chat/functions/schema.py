"""Function definitions and their arguments, checked with JSON Schema.

A function tool is ``{"type": "function", "function": {name, description, parameters,
strict}}`` as the Assistants API stores it. Its ``parameters`` must be a valid JSON
Schema (checked against the meta-schema of the draft it declares, 2020-12 by default)
describing an object; the model's arguments must be JSON matching that schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError

# The API's rule for function names.
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
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


def check_parameters(schema: Any) -> None:
    """Raise DefinitionError("parameters", …) unless ``schema`` is a usable object schema."""
    if not isinstance(schema, dict):
        raise DefinitionError("parameters", "The parameters must be a JSON object (a JSON Schema).")
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
    if not isinstance(name, str) or not NAME_RE.match(name):
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
    """Why the model's ``arguments`` cannot be used for this function, or None."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError as exc:
        return f"The arguments for {definition.get('name')} are not valid JSON ({exc})."
    schema = definition.get("parameters") or EMPTY_PARAMETERS
    try:
        error = next(iter(sorted(validator_for(schema)(schema).iter_errors(value), key=lambda e: list(e.path))), None)
    except Exception:  # a broken schema saved before validation existed: let the caller decide
        return None
    if error is None:
        return None
    return f"The arguments for {definition.get('name')} do not match its parameters at {_where(error.absolute_path)}: {error.message}."


def validation_errors(schema: dict, value: Any) -> list[ValidationError]:
    return list(validator_for(schema)(schema).iter_errors(value))
