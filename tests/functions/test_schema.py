"""Function definitions and arguments checked with JSON Schema."""

import pytest

from chat.functions.schema import DefinitionError, argument_error, clean_definition, clean_tools
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
