"""Function definitions and arguments checked with JSON Schema."""

import json

import pytest

from chat.functions.schema import (
    ARGUMENTS_MAX_CHARS,
    ARGUMENTS_MAX_DEPTH,
    DefinitionError,
    argument_error,
    clean_definition,
    clean_tools,
    validation_errors,
)
from tests.functions.conftest import WEATHER


def test_the_walkthrough_definition_is_accepted_as_is(quiz_definition):
    assert clean_definition(quiz_definition) == quiz_definition


def test_a_definition_wrapped_as_a_tool_is_unwrapped(quiz_definition):
    assert clean_definition({"type": "function", "function": quiz_definition})["name"] == "display_quiz"


def test_a_missing_schema_means_no_arguments():
    assert clean_definition({"name": "ping"})["parameters"] == {"type": "object", "properties": {}}


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "naïve", "semi;colon", None])
def test_names_follow_the_apis_rules(name):
    with pytest.raises(DefinitionError) as caught:
        clean_definition({"name": name, "parameters": {"type": "object"}})
    assert caught.value.field == "name"


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"type": "strng"}, "Not a valid JSON Schema"),
        ({"type": "object", "required": "title"}, "Not a valid JSON Schema at required"),
        ({"type": "object", "properties": {"n": {"minimum": "one"}}}, "properties → n → minimum"),
        ({"type": "array", "items": {"type": "string"}}, "must describe an object"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_schemas_are_refused_with_where_and_why(parameters, message):
    with pytest.raises(DefinitionError) as caught:
        clean_definition({"name": "f", "parameters": parameters})
    assert caught.value.field == "parameters" and message in caught.value.message


def test_a_schema_is_checked_against_the_draft_it_declares():
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "properties": {"n": {"type": "integer", "exclusiveMinimum": True, "minimum": 0}}}
    assert clean_definition({"name": "f", "parameters": draft4})["parameters"] == draft4
    with pytest.raises(DefinitionError):  # a boolean exclusiveMinimum is not 2020-12
        clean_definition({"name": "f", "parameters": {**draft4, "$schema": "https://json-schema.org/draft/2020-12/schema"}})


def test_strict_needs_closed_objects_with_every_property_required(quiz_definition):
    with pytest.raises(DefinitionError, match="additionalProperties"):
        clean_definition({**quiz_definition, "strict": True})
    strict = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}
    assert clean_definition({"name": "f", "parameters": strict, "strict": True})["strict"] is True


def test_unknown_keys_and_duplicate_names_are_refused(quiz_definition):
    with pytest.raises(DefinitionError, match="Unknown keys"):
        clean_definition({**quiz_definition, "paramaters": {}})
    tool = {"type": "function", "function": quiz_definition}
    with pytest.raises(DefinitionError, match="names must be unique"):
        clean_tools([tool, tool])
    assert clean_tools([{"type": "code_interpreter"}, tool]) == [{"type": "code_interpreter"}, tool]


def test_arguments_must_be_json_matching_the_schema():
    assert argument_error(WEATHER, '{"city": "Paris", "days": 3}') is None
    assert "not valid JSON" in argument_error(WEATHER, '{"city": ')
    assert "'city' is a required property" in argument_error(WEATHER, '{"days": 3}')
    assert "days" in argument_error(WEATHER, '{"city": "Paris", "days": 30}')
    assert argument_error({"name": "ping", "parameters": {"type": "object"}}, "") is None


def test_a_broken_schema_saved_before_validation_does_not_block_the_call():
    assert argument_error({"name": "old", "parameters": {"type": "strng"}}, '{"a": 1}') is None


def word(schema: dict) -> dict:
    return {"name": "f", "parameters": {"type": "object", "properties": {"w": schema}}}


@pytest.mark.parametrize(
    "parameters",
    [
        {"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:9/a.json"}}},
        {"type": "object", "properties": {"a": {"$ref": "https://json-schema.org/draft/2020-12/schema"}}},
        {"type": "object", "properties": {"a": {"$ref": "a.json"}}},
        {"type": "object", "properties": {"a": {"$ref": "file:///etc/passwd"}}},
        {"$id": "http://127.0.0.1:9/", "type": "object", "properties": {"a": {"$ref": "a.json#/x"}}},
        {"type": "object", "properties": {"a": {"$dynamicRef": "http://127.0.0.1:9/a.json#meta"}}},
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "definitions": {"a": {"$ref": "//127.0.0.1:9/a"}}},
        {"type": "object", "items": [{"$ref": "a.json"}]},
    ],
)
def test_references_outside_the_schema_are_refused(parameters):
    with pytest.raises(DefinitionError, match="points outside this schema") as caught:
        clean_definition({"name": "f", "parameters": parameters})
    assert caught.value.field == "parameters"


def test_an_unknown_meta_schema_is_refused_and_known_drafts_are_fine():
    with pytest.raises(DefinitionError, match='unknown "\\$schema"'):
        clean_definition({"name": "f", "parameters": {"$schema": "http://127.0.0.1:9/meta.json", "type": "object"}})
    for draft in ("http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2020-12/schema"):
        clean_definition({"name": "f", "parameters": {"$schema": draft, "type": "object"}})


def test_local_references_and_data_that_looks_like_references_are_fine():
    parameters = {
        "type": "object",
        "$defs": {"city": {"$anchor": "city", "type": "string", "enum": ["Oslo", "Paris"]}},
        "definitions": {"days": {"type": "integer", "default": {"$ref": "http://127.0.0.1:9/not-a-schema"}}},
        "properties": {
            "city": {"$ref": "#/$defs/city"},
            "again": {"$ref": "#city"},
            "days": {"$ref": "#/definitions/days"},
            "$ref": {"type": "string"},  # a property that happens to be named "$ref"
        },
    }
    definition = {"name": "f", "parameters": parameters}
    assert clean_definition(definition)["parameters"] == parameters
    assert argument_error(definition, '{"city": "Oslo", "again": "Paris", "days": 2}') is None
    assert "'Rome' is not one of" in argument_error(definition, '{"city": "Rome"}')


@pytest.mark.parametrize("pattern", [r"^(a)\1$", r"^(?=a)a$", r"(?<!x)y", "a{1000}{1000}"])
def test_patterns_the_linear_engine_cannot_run_are_refused_with_a_reason(pattern):
    for schema in (word({"type": "string", "pattern": pattern}), {"name": "f", "parameters": {"type": "object", "patternProperties": {pattern: {}}}}):
        with pytest.raises(DefinitionError, match="cannot be used") as caught:
            clean_definition(schema)
        assert "backreferences and lookarounds" in caught.value.message


def test_patterns_keep_json_schemas_meaning():
    definition = word({"type": "string", "pattern": r"^caf\u00e9 [a-z]+\d$"})
    assert clean_definition(definition)["parameters"] == definition["parameters"]
    assert argument_error(definition, '{"w": "caf\u00e9 au1"}') is None
    assert "does not match" in argument_error(definition, '{"w": "cafe au1"}')
    unanchored = word({"type": "string", "pattern": "b+"})  # JSON Schema patterns search, they are not anchored
    assert argument_error(unanchored, '{"w": "abbc"}') is None


def test_a_backtracking_pattern_answers_at_once():
    definition = word({"type": "string", "pattern": "^(a+)+$"})
    assert "does not match" in argument_error(definition, '{"w": "' + "a" * 5000 + '!"}')
    assert argument_error(definition, '{"w": "' + "a" * 5000 + '"}') is None
    # The student's form for the same function checks their answer the same way.
    assert "does not match" in validation_errors(definition["parameters"], {"w": "a" * 5000 + "!"})[0].message


def test_unique_items_keeps_json_equality():
    definition = word({"type": "array", "uniqueItems": True})
    assert "non-unique" in argument_error(definition, '{"w": [1, 1.0]}')
    assert "non-unique" in argument_error(definition, '{"w": [{"a": [1], "b": 2}, {"b": 2, "a": [1]}]}')
    assert argument_error(definition, '{"w": [1, true, "1", [1], {"1": 1}, null, false, 0]}') is None


def test_a_long_list_of_unsortable_items_is_checked_for_uniqueness_quickly():
    definition = word({"type": "array", "uniqueItems": True})
    items = [{"n": n} for n in range(8_000)]  # pairwise comparison: 3 * 10**7 steps
    assert argument_error(definition, json.dumps({"w": items}, separators=(",", ":"))) is None


def test_arguments_beyond_the_size_and_depth_limits_are_refused_unread():
    assert "too long" in argument_error(WEATHER, json.dumps({"city": "x" * ARGUMENTS_MAX_CHARS}))
    assert "nested too deeply" in argument_error(WEATHER, "[" * 50_000 + "]" * 50_000)
    deep = {"city": "Oslo", "extra": json.loads("[" * (ARGUMENTS_MAX_DEPTH + 1) + "]" * (ARGUMENTS_MAX_DEPTH + 1))}
    assert "nested too deeply" in argument_error(WEATHER, json.dumps(deep))


def test_a_schema_too_costly_to_evaluate_gives_up_with_a_reason():
    levels = {f"l{i}": {"allOf": [{"$ref": f"#/$defs/l{i + 1}"}] * 2} for i in range(40)}
    parameters = {"type": "object", "$defs": {**levels, "l40": {}}, "properties": {"n": {"$ref": "#/$defs/l0"}}}
    assert "took too long" in argument_error({"name": "bomb", "parameters": parameters}, '{"n": 1}')
    assert "took too long" in validation_errors(parameters, {"n": 1})[0].message


def test_a_schema_that_refers_to_itself_endlessly_gives_up_with_a_reason():
    parameters = {"type": "object", "properties": {"n": {"$ref": "#/properties/n"}}}
    assert "took too long" in argument_error({"name": "loop", "parameters": parameters}, '{"n": 1}')


def test_a_stored_remote_reference_is_not_followed_by_the_students_form():
    parameters = {"type": "object", "properties": {"n": {"$ref": "http://127.0.0.1:9/n.json"}}}
    assert validation_errors(parameters, {"n": 1}) == []
