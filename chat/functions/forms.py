"""Forms for the browser's side of function calling.

- ``FunctionForm``: a tutor defines a function tool (name, description, JSON Schema, strict),
  or pastes a whole definition.
- ``CallForm``: the student's form for one pending call — a quiz form for display_quiz, a
  form generated from the JSON Schema for any other function, raw JSON where a schema
  cannot be expressed as fields. Field names are ``c<call index>.<path>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django import forms

from chat import user_input
from chat.functions import quizzes
from chat.functions.schema import DESCRIPTION_MAX, NAME_RULE, DefinitionError, clean_definition, validation_errors


class FunctionForm(forms.Form):
    definition = forms.CharField(
        label="Paste a whole definition (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"}),
        help_text='A JSON function definition, e.g. {"name": …, "description": …, "parameters": {…}}. '
        "When given, it fills in the fields below.",
    )
    name = forms.CharField(label="Name", required=False, max_length=64, help_text=NAME_RULE)
    description = forms.CharField(
        label="Description", required=False, max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the function does; the model reads it to decide when to call it.",
    )
    parameters = forms.CharField(
        label="Parameters (JSON Schema)", required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "code"}),
        help_text='A JSON Schema for the arguments, with "type": "object". Empty means no arguments.',
    )
    # No colon: the label follows its checkbox.
    strict = forms.BooleanField(label="Strict (the model must follow the schema exactly)", label_suffix="", required=False)

    def __init__(self, *args, taken: set[str] = frozenset(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.taken = taken

    @classmethod
    def initial_for(cls, definition: dict) -> dict:
        return {
            "name": definition["name"],
            "description": definition.get("description", ""),
            "parameters": json.dumps(definition.get("parameters") or {}, indent=2),
            "strict": bool(definition.get("strict")),
        }

    def clean(self):
        data = self.cleaned_data
        if (data.get("definition") or "").strip():
            try:
                raw = user_input.loads(data["definition"])
            except user_input.BadInput as exc:
                self.add_error("definition", exc.message)
                return data
            field_name = "definition"
        else:
            if not (data.get("name") or "").strip():
                self.add_error("name", "Give the function a name (or paste a whole definition).")
                return data
            parameters = None
            if (data.get("parameters") or "").strip():
                try:
                    parameters = user_input.loads(data["parameters"])
                except user_input.BadInput as exc:
                    self.add_error("parameters", exc.message)
                    return data
            raw = {"name": data["name"].strip(), "description": data.get("description", ""), "parameters": parameters}
            if data.get("strict"):
                raw["strict"] = True
            field_name = None
        try:
            definition = clean_definition(raw)
        except DefinitionError as exc:
            target = field_name or (exc.field if exc.field in self.fields else None)
            self.add_error(target, exc.message)
            return data
        if definition["name"] in self.taken:
            self.add_error(field_name or "name", f"This assistant already has a function named {definition['name']!r}.")
            return data
        data["function"] = definition
        return data


# --- the student's forms -------------------------------------------------------------------------


@dataclass
class Field:
    kind: str  # object | text | textarea | number | integer | checkbox | select | lines | multi | json
    name: str
    label: str
    help: str = ""
    required: bool = False
    value: Any = ""
    error: str = ""
    choices: list = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    schema: dict = field(default_factory=dict)

    @property
    def input_id(self) -> str:
        return "f-" + self.name.replace(".", "-")


UNEXPRESSIBLE = ("anyOf", "oneOf", "allOf", "$ref", "not", "if", "patternProperties")


def _kind_of(schema: dict) -> str | None:
    kind = schema.get("type", "object" if "properties" in schema else None)
    if isinstance(kind, list):
        rest = [k for k in kind if k != "null"]
        kind = rest[0] if len(rest) == 1 else None
    return kind


def _label(name: str, schema: dict) -> str:
    return schema.get("title") or name.replace("_", " ").capitalize()


def build_field(schema: dict, name: str, label: str, required: bool) -> Field:
    """The form field for one schema node; raw JSON where fields cannot express it."""
    help_text = schema.get("description", "")
    common = {"name": name, "label": label, "help": help_text, "required": required, "schema": schema}
    kind = _kind_of(schema)
    if not isinstance(schema, dict) or any(k in schema for k in UNEXPRESSIBLE) or kind is None:
        return Field("json", **common)
    if "enum" in schema:
        return Field("select", choices=[json.dumps(v) if not isinstance(v, str) else v for v in schema["enum"]], **common)
    if kind == "object":
        props = schema.get("properties", {})
        if not props and schema.get("additionalProperties", True) is not False:
            return Field("json", **common)
        needed = set(schema.get("required", []))
        children = [build_field(sub, f"{name}.{key}", _label(key, sub), key in needed) for key, sub in props.items()]
        return Field("object", children=children, **common)
    if kind == "array":
        items = schema.get("items", {})
        if isinstance(items, dict) and "enum" in items:
            return Field("multi", choices=[str(v) for v in items["enum"]], **common)
        if isinstance(items, dict) and _kind_of(items) in ("string", "number", "integer") and not any(k in items for k in UNEXPRESSIBLE):
            return Field("lines", **common)
        return Field("json", **common)
    if kind == "boolean":
        return Field("checkbox", **common)
    if kind in ("number", "integer"):
        return Field(kind, **common)
    if kind == "string":
        long = schema.get("maxLength", 0) > 200
        return Field("textarea" if long else "text", **common)
    return Field("json", **common)


class Unreadable(Exception):
    pass


def _number(raw: str, integer: bool):
    try:
        return int(raw) if integer else float(raw) if any(c in raw for c in ".eE") else int(raw)
    except ValueError:
        raise Unreadable("Enter a whole number." if integer else "Enter a number.") from None


def read_field(f: Field, data) -> Any:
    """The JSON value of a field from POST data; ``...`` means "left empty"."""
    raw = data.get(f.name, "")
    if f.kind == "object":
        value = {}
        for child in f.children:
            child_value = read_field(child, data)
            if child_value is not ...:
                value[child.name.rsplit(".", 1)[-1]] = child_value
        return value if (value or f.required or "." not in f.name) else ...
    if f.kind == "checkbox":
        return raw in ("on", "true", "1")
    if f.kind == "multi":
        picked = data.getlist(f.name) if hasattr(data, "getlist") else []
        return [v for v in f.schema["items"]["enum"] if str(v) in picked] if picked else ...
    f.value = raw
    if raw.strip() == "":
        return ...
    try:
        if f.kind == "select":
            for option in f.schema["enum"]:
                if (option if isinstance(option, str) else json.dumps(option)) == raw:
                    return option
            raise Unreadable("Choose one of the options.")
        if f.kind in ("number", "integer"):
            return _number(raw.strip(), f.kind == "integer")
        if f.kind == "lines":
            item_kind = _kind_of(f.schema.get("items", {}))
            lines = [line.strip() for line in raw.splitlines() if line.strip()]
            return [_number(x, item_kind == "integer") for x in lines] if item_kind != "string" else lines
        if f.kind == "json":
            try:
                return user_input.loads(raw)
            except user_input.BadInput as exc:
                raise Unreadable(exc.message) from None
    except Unreadable as exc:
        f.error = str(exc)
        return ...
    return raw


def _fill(f: Field, data) -> None:
    """Put submitted values back in the fields, so a refused form keeps what was typed."""
    if f.kind == "object":
        for child in f.children:
            _fill(child, data)
    elif f.kind == "multi":
        f.value = data.getlist(f.name) if hasattr(data, "getlist") else []
    else:
        f.value = data.get(f.name, "")


def prefill(f: Field, value: Any) -> None:
    """Show the model's arguments in the fields, for the user to check or change."""
    if value is ... or value is None:
        return
    if f.kind == "object" and isinstance(value, dict):
        for child in f.children:
            prefill(child, value.get(child.name.rsplit(".", 1)[-1], ...))
    elif f.kind == "checkbox":
        f.value = bool(value)
    elif f.kind == "multi":
        f.value = [str(v) for v in value] if isinstance(value, list) else []
    elif f.kind == "lines" and isinstance(value, list):
        f.value = "\n".join(str(v) for v in value)
    elif f.kind == "json":
        f.value = json.dumps(value, indent=2, ensure_ascii=False)
    elif f.kind == "select" and not isinstance(value, str):
        f.value = json.dumps(value)
    else:
        f.value = str(value)


def _find(f: Field, name: str) -> Field | None:
    if f.name == name:
        return f
    for child in f.children:
        if found := _find(child, name):
            return found
    return None


def _errors(f: Field) -> bool:
    return bool(f.error) or any(_errors(c) for c in f.children)


class CallForm:
    """The form for one pending function call, and its output once filled in."""

    def __init__(self, index: int, call: dict, definition: dict | None, data=None) -> None:
        self.index = index
        self.id = call["id"]
        self.name = call["function"]["name"]
        self.prefix = f"c{index}"
        self.definition = definition or {}
        self.data = data
        self.error = ""
        self.output: str | None = None
        try:
            self.arguments = json.loads(call["function"].get("arguments") or "{}")
        except ValueError:
            self.arguments = {}
        self.is_quiz = quizzes.is_quiz_function(self.name) and isinstance(self.arguments.get("questions"), list)
        if self.is_quiz:
            self.title = str(self.arguments.get("title") or "Quiz")
            self.questions = [self._question(i, q) for i, q in enumerate(self.arguments["questions"]) if isinstance(q, dict)]
        else:
            self.title = self.name
            schema = self.definition.get("parameters") or {"type": "object", "properties": {}}
            self.root = build_field(schema, self.prefix, self.name, True)
            self.root.help = self.definition.get("description", "")
            self.raw_value = ""
            if data is None:
                prefill(self.root, self.arguments)
        if data is not None:
            self._read(data)

    def _question(self, i: int, q: dict) -> dict:
        choices = [str(c) for c in q.get("choices") or []]
        kind = q.get("question_type") or (quizzes.MULTIPLE_CHOICE if choices else quizzes.FREE_RESPONSE)
        if kind == quizzes.MULTIPLE_CHOICE and not choices:
            kind = quizzes.FREE_RESPONSE
        return {
            "name": f"{self.prefix}.q{i}", "id": f"f-{self.prefix}-q{i}", "number": i + 1,
            "text": str(q.get("question_text", "")), "type": kind, "choices": choices, "value": "", "error": "",
        }

    def _place(self, problem, *, use_fields: bool) -> None:
        """Show a schema error at its field, or above the form when no field shows it."""
        where = list(map(str, problem.absolute_path))
        if use_fields:
            if problem.validator == "required" and "'" in problem.message:
                where.append(problem.message.split("'")[1])
            target = _find(self.root, ".".join([self.prefix, *where]))
            if target is not None and target is not self.root and target.kind != "object":
                if not target.error:
                    target.error = "This field is required." if problem.validator == "required" else problem.message
                return
        if not self.error:
            self.error = f"At {'.'.join(where) or 'the top level'}: {problem.message}"

    @property
    def raw_name(self) -> str:
        return f"{self.prefix}.__raw__"

    def _read(self, data) -> None:
        if self.is_quiz:
            answers = []
            for q in self.questions:
                q["value"] = data.get(q["name"], "")
                if not q["value"].strip():
                    q["error"] = "Answer this question." if q["type"] == quizzes.FREE_RESPONSE else "Choose an answer."
                elif q["type"] == quizzes.MULTIPLE_CHOICE and q["value"] not in q["choices"]:
                    q["error"] = "Choose one of the answers shown."
                answers.append({"question_text": q["text"], "answer": q["value"]})
            missing = [str(q["number"]) for q in self.questions if q["error"]]
            if missing:
                self.error = f"Answer every question before you submit (question {', '.join(missing)} still needs an answer)."
                return
            self.answers = answers
            self.output = json.dumps(answers, ensure_ascii=False)
            return
        schema = self.root.schema
        raw = data.get(self.raw_name, "")
        if raw.strip():  # the raw-JSON editor wins when used
            self.raw_value = raw
            try:
                value = user_input.loads(raw)
            except user_input.BadInput as exc:
                self.error = f"The JSON output is refused: {exc.message}"
                return
        else:
            _fill(self.root, data)
            value = read_field(self.root, data)
            if _errors(self.root):
                self.error = "Fix the fields marked below."
                return
        problems = validation_errors(schema, value)
        if problems:
            for problem in problems:
                self._place(problem, use_fields=not raw.strip())
            self.error = self.error or "Fix the fields marked below."
            return
        self.output = json.dumps(value, ensure_ascii=False)
