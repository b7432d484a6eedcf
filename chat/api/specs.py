"""The /v1 request bodies, declared: one pydantic model per body, unknown fields refused.

``parse(Spec, data, owner)`` validates a body that ``user_input.loads`` has already parsed
(so no surrogates, NUL, NaN or deep nesting reach here) and turns the first error into the
API's 400 with a ``param`` path such as ``messages[0].content[0].text`` (``param_path``).
Rules that belong to the domain stay there and are called from validators: a function's
definition (``chat.functions.schema.clean_definition``), which models exist, which files
and vector stores the caller owns (the owner comes in the validation context).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chat.api.errors import ApiError, invalid, out_of_range
from chat.functions.schema import DefinitionError, clean_definition
from chat.models import Assistant, File, Message
from chat.providers import available_models
from chat.retrieval import search
from chat.retrieval.models import VectorStore

# The largest value an integer column holds everywhere (PostgreSQL's integer).
INT_MAX = 2**31 - 1
URL_MAX = 65_536  # an image URL may be a data: URL, but not an unbounded one
TEXT_MAX = 256_000  # instructions; a message's text is limited by MAX_MESSAGE_CHARS (Message.too_long)


class InvalidField(ValueError):
    """A validator's refusal that names a place below the field it checked (``path``)."""

    def __init__(self, message: str, path: tuple = (), code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.code = code


class Spec(BaseModel):
    # strict: "1" is not an integer and 1 is not a string, as the hosted API refused them.
    model_config = ConfigDict(extra="forbid", strict=True)


def _owner(info: ValidationInfo):
    return (info.context or {})["owner"]


def _owned_files(ids: list[str], info: ValidationInfo) -> list[str]:
    found = set(File.objects.filter(pk__in=ids, owner=_owner(info)).values_list("pk", flat=True))
    for file_id in ids:
        if file_id not in found:
            raise InvalidField(f"No file with id {file_id!r} found.")
    return ids


def _owned_stores(ids: list[str], info: ValidationInfo) -> list[str]:
    found = set(VectorStore.objects.filter(pk__in=ids, owner=_owner(info)).values_list("pk", flat=True))
    for store_id in ids:
        if store_id not in found:
            raise InvalidField(f"No vector store found with id {store_id!r}.")
    return ids


def _known_model(name: str) -> str:
    if name not in available_models():
        raise InvalidField(
            f"The model '{name}' does not exist or you do not have access to it. This server offers: {', '.join(available_models())}.",
            code="model_not_found",
        )
    return name


def _at_most_16(value: dict) -> dict:
    if len(value) > 16:
        raise InvalidField("too many properties. Expected an object with at most 16 properties.")
    return value


Metadata = Annotated[
    dict[Annotated[str, StringConstraints(max_length=64)], Annotated[str, StringConstraints(max_length=512)]],
    AfterValidator(_at_most_16),
]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX)]
ModelName = Annotated[str, AfterValidator(_known_model)]
# A decimal field's bounds are floats: api_error words its refusals as a decimal's by them.
Temperature = Annotated[float, Field(ge=0.0, le=float(Assistant.TEMPERATURE_MAX))]
TopP = Annotated[float, Field(ge=0.0, le=float(Assistant.TOP_P_MAX))]
PositiveInt = Annotated[int, Field(ge=1, le=INT_MAX)]
Detail = Literal["auto", "low", "high"]


# --- tools --------------------------------------------------------------------------------------


class FunctionDefinition(Spec):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    # The definition as the domain stores it, whichever surface defined it.
    _cleaned: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _usable(self):
        # The same rules as the Functions page and the admin (chat/functions/schema.py).
        definition = self.model_dump(exclude_unset=True)
        try:
            self._cleaned = clean_definition(definition)
        except DefinitionError as exc:
            raise InvalidField(exc.message, path=(exc.field,) if exc.field in definition else ()) from None
        return self


class FunctionTool(Spec):
    type: Literal["function"]
    function: FunctionDefinition


class RankingOptions(Spec):
    ranker: Literal["auto", "default_2024_08_21"] | None = None
    score_threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = None


class FileSearchOptions(Spec):
    max_num_results: Annotated[int, Field(ge=1, le=50)] | None = None
    ranking_options: RankingOptions | None = None


class FileSearchTool(Spec):
    type: Literal["file_search"]
    file_search: FileSearchOptions | None = None


class CodeInterpreterTool(Spec):
    type: Literal["code_interpreter"]


Tool = Annotated[FunctionTool | FileSearchTool | CodeInterpreterTool, Field(discriminator="type")]


def _unique_function_names(tools: list) -> list:
    seen = set()
    for i, tool in enumerate(tools):
        if isinstance(tool, FunctionTool):
            if tool.function.name in seen:
                raise InvalidField(f"Duplicate function name: {tool.function.name!r}.", path=(i, "function", "name"))
            seen.add(tool.function.name)
    return tools


Tools = Annotated[list[Tool], Field(max_length=128), AfterValidator(_unique_function_names)]


def dump_tools(tools: list | None) -> list[dict] | None:
    """Tools as stored: a function as ``clean_definition`` normalised it (the Functions
    page stores the same), any other tool as given."""
    if tools is None:
        return None
    return [
        {"type": "function", "function": t.function._cleaned} if isinstance(t, FunctionTool) else t.model_dump(exclude_unset=True)
        for t in tools
    ]


# --- tool resources -----------------------------------------------------------------------------


class StaticChunking(Spec):
    max_chunk_size_tokens: Annotated[int, Field(ge=100, le=4096)]
    chunk_overlap_tokens: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _overlap_at_most_half(self):
        if self.chunk_overlap_tokens > self.max_chunk_size_tokens // 2:
            raise InvalidField("must not exceed half of max_chunk_size_tokens.", path=("chunk_overlap_tokens",))
        return self


class StaticChunkingStrategy(Spec):
    type: Literal["static"]
    static: StaticChunking


class AutoChunkingStrategy(Spec):
    type: Literal["auto"]


ChunkingStrategy = Annotated[AutoChunkingStrategy | StaticChunkingStrategy, Field(discriminator="type")]


def chunking(strategy) -> tuple[int, int] | None:
    """(max tokens, overlap) of a static strategy; None (the server's) for auto or none."""
    if isinstance(strategy, StaticChunkingStrategy):
        return strategy.static.max_chunk_size_tokens, strategy.static.chunk_overlap_tokens
    return None


class CodeInterpreterResources(Spec):
    file_ids: Annotated[list[str], Field(max_length=20)] | None = None

    @field_validator("file_ids")
    @classmethod
    def _owned(cls, ids, info: ValidationInfo):
        return _owned_files(ids, info) if ids else ids


class InlineVectorStore(Spec):
    """A vector store created along with its assistant or thread (the hosted API's helper)."""

    file_ids: Annotated[list[str], Field(max_length=500)] | None = None
    chunking_strategy: ChunkingStrategy | None = None
    metadata: Metadata | None = None

    @field_validator("file_ids")
    @classmethod
    def _owned(cls, ids, info: ValidationInfo):
        return _owned_files(ids, info) if ids else ids


class FileSearchResources(Spec):
    vector_store_ids: Annotated[list[str], Field(max_length=1)] | None = None

    @field_validator("vector_store_ids")
    @classmethod
    def _owned(cls, ids, info: ValidationInfo):
        return _owned_stores(ids, info) if ids else ids


class FileSearchCreateResources(FileSearchResources):
    vector_stores: Annotated[list[InlineVectorStore], Field(max_length=1)] | None = None

    @model_validator(mode="after")
    def _one_way(self):
        if self.vector_store_ids and self.vector_stores:
            raise InvalidField("give either vector_store_ids or vector_stores, not both.", path=("vector_stores",))
        return self


class ToolResources(Spec):
    code_interpreter: CodeInterpreterResources | None = None
    file_search: FileSearchResources | None = None


class CreateToolResources(ToolResources):
    """On create, file_search may also describe a new vector store (``vector_stores``)."""

    file_search: FileSearchCreateResources | None = None


# --- messages -----------------------------------------------------------------------------------


class TextPart(Spec):
    type: Literal["text"]
    text: Annotated[str, StringConstraints(min_length=1)]

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        # The domain's rules (services.messages.add_message), refused here with their path.
        if Message.is_blank(text):
            raise PydanticCustomError("string_too_short", Message.BLANK, {"min_length": 1})
        _check_length(text)
        return text


class ImageFile(Spec):
    file_id: str
    detail: Detail = "auto"

    @field_validator("file_id")
    @classmethod
    def _owned(cls, file_id, info: ValidationInfo):
        _owned_files([file_id], info)
        return file_id


class ImageFilePart(Spec):
    type: Literal["image_file"]
    image_file: ImageFile


class ImageUrl(Spec):
    url: Annotated[str, StringConstraints(max_length=URL_MAX)]
    detail: Detail = "auto"


class ImageUrlPart(Spec):
    type: Literal["image_url"]
    image_url: ImageUrl


def _check_length(text: str) -> None:
    if Message.too_long(text):
        raise PydanticCustomError("string_too_long", "String too long", {"max_length": settings.MAX_MESSAGE_CHARS})


def _text_as_parts(value):
    """A message's content may be a plain string: the hosted API's shorthand for one text part."""
    if isinstance(value, str):
        if not value:
            raise PydanticCustomError("string_too_short", "String should have at least 1 character", {"min_length": 1})
        _check_length(value)
        return [{"type": "text", "text": value}]
    return value


ContentPart = Annotated[TextPart | ImageFilePart | ImageUrlPart, Field(discriminator="type")]
Content = Annotated[list[ContentPart], Field(min_length=1), BeforeValidator(_text_as_parts)]


class AttachmentTool(Spec):
    type: Literal["code_interpreter", "file_search"]


class Attachment(Spec):
    file_id: str
    tools: Annotated[list[AttachmentTool], Field(max_length=3)] | None = None

    @field_validator("file_id")
    @classmethod
    def _owned(cls, file_id, info: ValidationInfo):
        _owned_files([file_id], info)
        return file_id


class MessageCreate(Spec):
    role: Literal["user", "assistant"]
    content: Content
    attachments: list[Attachment] | None = None
    metadata: Metadata | None = None

    def cleaned(self) -> dict:
        """The message as chat.models.Message stores it."""
        parts = []
        for part in self.content:
            if isinstance(part, TextPart):
                parts.extend(Message.text_content(Message.clean_input(part.text)))
            else:
                parts.append(part.model_dump())
        return {
            "role": self.role,
            "content": parts,
            "attachments": [{"file_id": a.file_id, "tools": [t.model_dump() for t in a.tools or []]} for a in self.attachments or []],
            "metadata": self.metadata or {},
        }


class MetadataUpdate(Spec):
    metadata: Metadata | None = None


class Empty(Spec):
    pass


# --- assistants and threads ---------------------------------------------------------------------

ResponseFormatType = Literal["text", "json_object", "json_schema"]


class ResponseFormatObject(BaseModel):
    # The json_schema part goes to the model as given; only its type is this server's business.
    model_config = ConfigDict(extra="allow", strict=True)
    type: ResponseFormatType


ResponseFormat = Literal["auto"] | ResponseFormatObject
ReasoningEffort = Literal["minimal", "low", "medium", "high"]


def dump_response_format(value) -> dict | None:
    """``auto`` is the default, stored as None."""
    return None if value is None or value == "auto" else value.model_dump()


class AssistantUpdate(Spec):
    model: ModelName | None = None
    name: Annotated[str, StringConstraints(max_length=256)] | None = None
    description: Annotated[str, StringConstraints(max_length=512)] | None = None
    instructions: Text | None = None
    tools: Tools | None = None
    tool_resources: ToolResources | None = None
    metadata: Metadata | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: ReasoningEffort | None = None


class AssistantCreate(AssistantUpdate):
    model: ModelName
    tool_resources: CreateToolResources | None = None


class ThreadCreate(Spec):
    messages: list[MessageCreate] | None = None
    metadata: Metadata | None = None
    tool_resources: CreateToolResources | None = None


class ThreadUpdate(Spec):
    metadata: Metadata | None = None
    tool_resources: ToolResources | None = None


# --- runs ---------------------------------------------------------------------------------------


class TruncationAuto(Spec):
    type: Literal["auto"]
    last_messages: PositiveInt | None = None


class TruncationLastMessages(Spec):
    type: Literal["last_messages"]
    last_messages: PositiveInt


TruncationStrategy = Annotated[TruncationAuto | TruncationLastMessages, Field(discriminator="type")]


class NamedFunction(Spec):
    name: str


class FunctionChoice(Spec):
    type: Literal["function"]
    function: NamedFunction


class CodeInterpreterChoice(Spec):
    type: Literal["code_interpreter"]


class FileSearchChoice(Spec):
    type: Literal["file_search"]


ToolChoice = Literal["none", "auto", "required"] | Annotated[FunctionChoice | CodeInterpreterChoice | FileSearchChoice, Field(discriminator="type")]


class RunOptions(Spec):
    assistant_id: str
    model: ModelName | None = None
    instructions: Text | None = None
    tools: Tools | None = None
    metadata: Metadata | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    stream: bool | None = None
    max_prompt_tokens: PositiveInt | None = None
    max_completion_tokens: PositiveInt | None = None
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None

    def options(self) -> dict:
        """The keyword arguments of chat.engine.runs.create_run."""
        truncation = self.truncation_strategy
        return {
            "model": self.model,
            "instructions": self.instructions,
            "additional_instructions": getattr(self, "additional_instructions", None),
            "tools": dump_tools(self.tools),
            "metadata": self.metadata or {},
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_prompt_tokens": self.max_prompt_tokens,
            "max_completion_tokens": self.max_completion_tokens,
            "truncation_strategy": None if truncation is None else {"type": truncation.type, "last_messages": truncation.last_messages},
            "parallel_tool_calls": self.parallel_tool_calls,
            "response_format": dump_response_format(self.response_format),
            "tool_choice": self.tool_choice if isinstance(self.tool_choice, str | None) else self.tool_choice.model_dump(),
        }


class RunCreate(RunOptions):
    additional_instructions: Text | None = None
    additional_messages: list[MessageCreate] | None = None
    reasoning_effort: ReasoningEffort | None = None


class ThreadAndRunCreate(RunOptions):
    thread: ThreadCreate | None = None
    tool_resources: CreateToolResources | None = None


class ToolOutput(Spec):
    tool_call_id: str | None = None
    output: str | None = None


class ToolOutputsSubmit(Spec):
    tool_outputs: Annotated[list[ToolOutput], Field(max_length=128)]
    stream: bool | None = None


# --- vector stores ------------------------------------------------------------------------------

FileIds = Annotated[list[str], Field(max_length=500)]


class ExpiresAfter(Spec):
    anchor: Literal["last_active_at"]
    days: Annotated[int, Field(ge=1, le=365)]


class StoreUpdate(Spec):
    name: Annotated[str, StringConstraints(max_length=256)] | None = None
    metadata: Metadata | None = None
    expires_after: ExpiresAfter | None = None


class StoreCreate(StoreUpdate):
    file_ids: FileIds | None = None
    chunking_strategy: ChunkingStrategy | None = None
    description: Annotated[str, StringConstraints(max_length=512)] | None = None


Attributes = Annotated[dict[Annotated[str, StringConstraints(max_length=64)], Annotated[str, StringConstraints(max_length=512)] | float | bool], AfterValidator(_at_most_16)]


class SearchRankingOptions(Spec):
    ranker: Literal["none", "auto", "default-2024-11-15"] | None = None
    score_threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = None


# A search query is a question, not a document: what is searched (chat.retrieval.search)
# reads at most the first SEARCH_QUERY_MAX characters, so longer is refused, not cut.
SearchQuery = Annotated[str, StringConstraints(max_length=search.SEARCH_QUERY_MAX)]


class StoreSearch(Spec):
    query: SearchQuery | Annotated[list[SearchQuery], Field(min_length=1, max_length=16)]
    max_num_results: Annotated[int, Field(ge=1, le=50)] = 10
    ranking_options: SearchRankingOptions | None = None
    rewrite_query: bool | None = None  # accepted; the query is searched as written
    filters: dict | None = None

    def text(self) -> str:
        return self.query if isinstance(self.query, str) else " ".join(self.query)


class StoreFileCreate(Spec):
    file_id: str
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


class StoreFileUpdate(Spec):
    attributes: Attributes | None = None


class BatchFile(Spec):
    file_id: str
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


class BatchCreate(Spec):
    file_ids: FileIds | None = None
    files: Annotated[list[BatchFile], Field(max_length=500)] | None = None
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None


# --- errors -------------------------------------------------------------------------------------

NOUNS = {
    "string_type": "a string", "int_type": "an integer", "float_type": "a number", "bool_type": "a boolean",
    "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object", "list_type": "an array",
    "literal_error": None,
}


def param_path(loc: tuple, data: Any, *, missing: bool = False) -> str:
    """pydantic's ``loc`` as the API's ``param``: ``messages[0].content[0].text``.

    The ``loc`` also names union members (``tagged-union[…]``, ``literal[…]``) and, for a
    discriminated union, the tag (``('tools', 0, 'function', 'function', 'name')``). They are
    not places in the body: the walk follows the body itself and keeps only the keys and
    indexes it finds there; a tag is the first step into an object and equals its ``type``.
    A missing field is named although the body lacks it."""
    path, value, entered = "", data, False  # the body itself is never a union member
    for i, step in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(value, dict) and isinstance(step, str):
            if entered and "type" in value and step == value["type"] and not (last and missing):
                entered = False
                continue
            if step in value or (last and missing):
                path += f".{step}" if path else step
                value, entered = value.get(step), True
        elif isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
            path += f"[{step}]"
            value, entered = value[step], True
        elif last and missing and isinstance(step, str):
            path += f".{step}" if path else step
    return path


def _join(param: str, extra: tuple) -> str:
    for step in extra:
        param += f"[{step}]" if isinstance(step, int) else (f".{step}" if param else step)
    return param


def _first(exc: ValidationError) -> dict:
    """The first error; when a union failed every way, the member that got deepest into the
    body, preferring one that took the value's type (``{"type": "web"}`` is a bad tag, not a
    bad literal)."""
    errors = exc.errors()
    first = errors[0]
    if len(errors) > 1 and first["loc"] and any(isinstance(s, str) and "[" in s for s in first["loc"]):
        siblings = [e for e in errors if e["loc"][: len(first["loc"]) - 1] == first["loc"][:-1]]

        def took_the_type(e: dict) -> bool:
            if e["type"] == "literal_error":
                return isinstance(e.get("input"), str)
            return e["type"] not in NOUNS

        return max(siblings, key=lambda e: (len(e["loc"]), took_the_type(e)))
    return first


def api_error(exc: ValidationError, data: Any) -> ApiError:
    """The API's 400 for the first thing wrong in ``data`` (one place maps every spec's errors)."""
    error = _first(exc)
    kind, ctx = error["type"], error.get("ctx") or {}
    param = param_path(error["loc"], data, missing=kind == "missing")
    got = error.get("input")
    if kind == "missing":
        return invalid(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
    if kind == "extra_forbidden":
        return invalid(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")
    if kind == "union_tag_not_found":
        param = _join(param, ("type",))
        return invalid(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
    if kind == "union_tag_invalid":
        param = _join(param, ("type",))
        return invalid(f"Invalid value for '{param}': {str(ctx.get('tag'))[:100]!r}. Supported values are: {ctx.get('expected_tags')}.", param=param, code="invalid_value")
    if kind == "literal_error":
        return invalid(f"Invalid value for '{param}': {str(got)[:100]!r}. Supported values are: {ctx.get('expected')}.", param=param, code="invalid_value")
    if kind in NOUNS:
        return invalid(f"Invalid type for '{param}': expected {NOUNS[kind]}.", param=param, code="invalid_type")
    if kind == "string_too_long":
        return invalid(
            f"Invalid '{param}': string too long. Expected a string with maximum length {ctx['max_length']}, but got a string with length {len(got)} instead.",
            param=param, code="string_above_max_length",
        )
    if kind == "string_too_short":
        return invalid(f"Invalid '{param}': empty string. Expected a string with at least {ctx['min_length']} character.", param=param, code="empty_string")
    if kind == "too_long":
        noun = "array" if isinstance(got, list) else "object"
        return invalid(
            f"Invalid '{param}': {noun} too long. Expected an {noun} with maximum length {ctx['max_length']}, but got one with length {ctx.get('actual_length')} instead.",
            param=param, code=f"{noun}_above_max_length",
        )
    if kind == "too_short":
        return invalid(f"Invalid '{param}': expected a non-empty array.", param=param, code="empty_array")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        limit = next(iter(ctx.values()))
        # The field's kind, not the input's: a decimal field's bounds are floats (Temperature).
        return out_of_range(param, got, limit, above=kind.startswith("less"), decimal=isinstance(limit, float))
    if kind == "value_error":
        cause = ctx.get("error")
        message = getattr(cause, "message", None) or str(cause)
        param = _join(param, getattr(cause, "path", ()))
        return invalid(f"Invalid '{param}': {message}" if param else message, param=param or None, code=getattr(cause, "code", None))
    return invalid(f"Invalid '{param}': {error['msg']}.", param=param or None)


def parse[S: Spec](spec: type[S], data: dict, owner=None) -> S:
    """``data`` (a parsed JSON body) checked against ``spec``; the API's 400 otherwise."""
    try:
        return spec.model_validate(data, context={"owner": owner})
    except ValidationError as exc:
        raise api_error(exc, data) from None
