"""Checking request fields the way the hosted API did (400 with the offending `param`)."""

from __future__ import annotations

from chat.api.errors import invalid
from chat.api.http import check_fields
from chat.functions.schema import DefinitionError, clean_definition
from chat.models import File, Message
from chat.providers import available_models

TOOL_TYPES = ("code_interpreter", "file_search", "function")


def _type_error(param: str, expected: str):
    return invalid(f"Invalid type for '{param}': expected {expected}.", param=param, code="invalid_type")


def metadata(value, param: str = "metadata") -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error(param, "an object")
    if len(value) > 16:
        raise invalid(f"Invalid '{param}': too many properties. Expected an object with at most 16 properties.", param=param)
    for key, item in value.items():
        if len(key) > 64:
            raise invalid(f"Invalid '{param}': keys may be at most 64 characters.", param=param)
        if not isinstance(item, str):
            raise _type_error(f"{param}.{key}", "a string")
        if len(item) > 512:
            raise invalid(f"Invalid '{param}.{key}': string too long. Expected at most 512 characters.", param=f"{param}.{key}")
    return value


def string(value, param: str, *, max_length: int | None = None, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _type_error(param, "a string")
    if max_length is not None and len(value) > max_length:
        raise invalid(f"Invalid '{param}': string too long. Expected a string with maximum length {max_length}, but got a string with length {len(value)} instead.", param=param, code="string_above_max_length")
    return value


def number(value, param: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(param, "a number")
    if not low <= value <= high:
        raise invalid(f"Invalid '{param}': expected a value between {low} and {high}, got {value}.", param=param)
    return float(value)


# The largest value an integer column holds everywhere (PostgreSQL's integer).
INT_MAX = 2**31 - 1


def integer(value, param: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(param, "an integer")
    if not low <= value <= high:
        raise invalid(f"Invalid '{param}': expected an integer between {low} and {high}, got {value}.", param=param, code="integer_out_of_range")
    return value


def positive_int(value, param: str) -> int | None:
    return integer(value, param, 1, INT_MAX)


def obj(value, param: str) -> dict:
    """``value`` if it is a JSON object (a 400 naming ``param`` otherwise)."""
    if not isinstance(value, dict):
        raise _type_error(param, "an object")
    return value


def array(value, param: str, max_length: int | None = None) -> list:
    if not isinstance(value, list):
        raise _type_error(param, "an array")
    if max_length is not None and len(value) > max_length:
        raise invalid(f"Invalid '{param}': array too long. Expected an array with maximum length {max_length}, but got an array with length {len(value)} instead.", param=param, code="array_above_max_length")
    return value


def choice(value, param: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise invalid(f"Invalid value: {str(value)[:100]!r}. Supported values are: {shown}.", param=param, code="invalid_value")
    return value


def boolean(value, param: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _type_error(param, "a boolean")
    return value


def model(value, param: str = "model") -> str:
    string(value, param, optional=False)
    if value not in available_models():
        raise invalid(
            f"The model '{value}' does not exist or you do not have access to it. This server offers: {', '.join(available_models())}.",
            param=param,
            code="model_not_found",
        )
    return value


def tools(value, param: str = "tools") -> list[dict] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _type_error(param, "an array")
    if len(value) > 128:
        raise invalid(f"Invalid '{param}': array too long. Expected an array with maximum length 128.", param=param)
    names = set()
    for i, tool in enumerate(value):
        p = f"{param}[{i}]"
        if not isinstance(tool, dict):
            raise _type_error(p, "an object")
        kind = tool.get("type")
        if kind not in TOOL_TYPES:
            raise invalid(f"Invalid value: {kind!r}. Supported values are: 'code_interpreter', 'function', and 'file_search'.", param=f"{p}.type", code="invalid_value")
        if kind == "function":
            check_fields(tool, {"type", "function"}, ("function",), prefix=f"{p}.")
            fn = tool["function"]
            if not isinstance(fn, dict):
                raise _type_error(f"{p}.function", "an object")
            check_fields(fn, {"name", "description", "parameters", "strict"}, ("name",), prefix=f"{p}.function.")
            name = string(fn["name"], f"{p}.function.name", max_length=64, optional=False)
            if not name.replace("_", "").replace("-", "").isalnum():
                raise invalid(f"Invalid '{p}.function.name': string does not match pattern '^[a-zA-Z0-9_-]+$'.", param=f"{p}.function.name")
            if name in names:
                raise invalid(f"Duplicate function name: {name!r}.", param=f"{p}.function.name")
            names.add(name)
            if "parameters" in fn and not isinstance(fn["parameters"], dict):
                raise _type_error(f"{p}.function.parameters", "an object")
            try:  # the same rules as the Functions page and the admin
                clean_definition(fn)
            except DefinitionError as exc:
                field = f"{p}.function.{exc.field}" if exc.field in fn else f"{p}.function"
                raise invalid(f"Invalid '{field}': {exc.message}", param=field) from None
        elif kind == "file_search":
            check_fields(tool, {"type", "file_search"}, prefix=f"{p}.")
            if tool.get("file_search") is not None:
                file_search_options(tool["file_search"], f"{p}.file_search")
        else:
            check_fields(tool, {"type"}, prefix=f"{p}.")
    return value


RANKERS = ("auto", "default_2024_08_21")


def file_search_options(value, param: str) -> dict:
    """A file_search tool's options, as the hosted API bounded them (the run reads them)."""
    check_fields(obj(value, param), {"max_num_results", "ranking_options"}, prefix=f"{param}.")
    integer(value.get("max_num_results"), f"{param}.max_num_results", 1, 50)
    ranking = value.get("ranking_options")
    if ranking is not None:
        check_fields(obj(ranking, f"{param}.ranking_options"), {"ranker", "score_threshold"}, prefix=f"{param}.ranking_options.")
        if ranking.get("ranker") is not None:
            choice(ranking["ranker"], f"{param}.ranking_options.ranker", RANKERS)
        number(ranking.get("score_threshold"), f"{param}.ranking_options.score_threshold", 0, 1)
    return value


def tool_resources(owner, value, param: str = "tool_resources") -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _type_error(param, "an object")
    check_fields(value, {"code_interpreter", "file_search"}, prefix=f"{param}.")
    out = {}
    ci = value.get("code_interpreter")
    if ci is not None:
        check_fields(obj(ci, f"{param}.code_interpreter"), {"file_ids"}, prefix=f"{param}.code_interpreter.")
        ids = array(ci.get("file_ids") or [], f"{param}.code_interpreter.file_ids", 20)
        file_ids(owner, ids, f"{param}.code_interpreter.file_ids")
        out["code_interpreter"] = {"file_ids": ids}
    fs = value.get("file_search")
    if fs is not None:
        check_fields(obj(fs, f"{param}.file_search"), {"vector_store_ids"}, prefix=f"{param}.file_search.")
        ids = array(fs.get("vector_store_ids") or [], f"{param}.file_search.vector_store_ids", 1)
        from chat.retrieval.models import VectorStore

        for store_id in ids:
            if not isinstance(store_id, str) or not VectorStore.objects.filter(pk=store_id, owner=owner).exists():
                raise invalid(f"No vector store found with id {store_id!r}.", param=f"{param}.file_search.vector_store_ids")
        out["file_search"] = {"vector_store_ids": ids}
    return out


def file_ids(owner, ids: list, param: str) -> None:
    for file_id in ids:
        if not isinstance(file_id, str) or not File.objects.filter(pk=file_id, owner=owner).exists():
            raise invalid(f"No file with id {file_id!r} found.", param=param)


def truncation_strategy(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _type_error("truncation_strategy", "an object")
    check_fields(value, {"type", "last_messages"}, ("type",), prefix="truncation_strategy.")
    choice(value["type"], "truncation_strategy.type", ("auto", "last_messages"))
    last = value.get("last_messages")
    if value["type"] == "last_messages" and last is None:
        raise invalid("'truncation_strategy.last_messages' is required when the type is 'last_messages'.", param="truncation_strategy.last_messages")
    positive_int(last, "truncation_strategy.last_messages")
    return {"type": value["type"], "last_messages": last}


def tool_choice(value, run_tools: list[dict]):
    if value is None:
        return None
    if isinstance(value, str) and value in ("none", "auto", "required"):
        return value
    if isinstance(value, dict):
        kind = choice(value.get("type"), "tool_choice.type", TOOL_TYPES)
        if kind == "function":
            check_fields(value, {"type", "function"}, ("function",), prefix="tool_choice.")
            check_fields(obj(value["function"], "tool_choice.function"), {"name"}, ("name",), prefix="tool_choice.function.")
            name = string(value["function"]["name"], "tool_choice.function.name", optional=False)
            if not any(t.get("type") == "function" and t["function"]["name"] == name for t in run_tools):
                raise invalid(f"Invalid 'tool_choice': no function named {name!r} among the run's tools.", param="tool_choice")
        else:
            check_fields(value, {"type"}, prefix="tool_choice.")
        return value
    raise invalid("Invalid 'tool_choice': expected 'none', 'auto', 'required' or {\"type\": …}.", param="tool_choice")


def response_format(value):
    if value is None or value == "auto":
        return None if value is None else "auto"
    if isinstance(value, dict) and isinstance(value.get("type"), str) and value["type"] in ("text", "json_object", "json_schema"):
        return value
    raise invalid("Invalid 'response_format': expected 'auto' or {\"type\": 'text' | 'json_object' | 'json_schema'}.", param="response_format")


MESSAGE_FIELDS = {"role", "content", "attachments", "metadata"}


def message_input(owner, value, param: str) -> dict:
    """A message to create: {role, content (string or parts), attachments, metadata}."""
    if not isinstance(value, dict):
        raise _type_error(param, "an object")
    prefix = f"{param}." if param else ""  # a message posted on its own is the whole body
    check_fields(value, MESSAGE_FIELDS, ("role", "content"), prefix=prefix)
    role = choice(value["role"], f"{prefix}role", ("user", "assistant"))
    return {
        "role": role,
        "content": content_parts(owner, value["content"], f"{prefix}content"),
        "attachments": attachments(owner, value.get("attachments"), f"{prefix}attachments"),
        "metadata": metadata(value.get("metadata"), f"{prefix}metadata"),
    }


IMAGE_DETAILS = ("auto", "low", "high")
URL_MAX = 65_536  # an image URL may be a data: URL, but not an unbounded one


def content_parts(owner, value, param: str) -> list[dict]:
    if isinstance(value, str):
        if len(value) > 256_000:
            raise invalid(f"Invalid '{param}': string too long.", param=param)
        return Message.text_content(Message.clean_input(value))
    if not isinstance(value, list) or not value:
        raise invalid(f"Invalid '{param}': expected a string or a non-empty array of content parts.", param=param)
    parts = []
    for i, part in enumerate(value):
        p = f"{param}[{i}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            check_fields(part, {"type", "text"}, ("text",), prefix=f"{p}.")
            parts.extend(Message.text_content(Message.clean_input(string(part["text"], f"{p}.text", optional=False))))
        elif kind == "image_file":
            check_fields(part, {"type", "image_file"}, ("image_file",), prefix=f"{p}.")
            image = obj(part["image_file"], f"{p}.image_file")
            check_fields(image, {"file_id", "detail"}, ("file_id",), prefix=f"{p}.image_file.")
            file_ids(owner, [image["file_id"]], f"{p}.image_file.file_id")
            detail = choice(image.get("detail", "auto"), f"{p}.image_file.detail", IMAGE_DETAILS)
            parts.append({"type": "image_file", "image_file": {"file_id": image["file_id"], "detail": detail}})
        elif kind == "image_url":
            check_fields(part, {"type", "image_url"}, ("image_url",), prefix=f"{p}.")
            image = obj(part["image_url"], f"{p}.image_url")
            check_fields(image, {"url", "detail"}, ("url",), prefix=f"{p}.image_url.")
            url = string(image["url"], f"{p}.image_url.url", max_length=URL_MAX, optional=False)
            detail = choice(image.get("detail", "auto"), f"{p}.image_url.detail", IMAGE_DETAILS)
            parts.append({"type": "image_url", "image_url": {"url": url, "detail": detail}})
        else:
            raise invalid(f"Invalid value: {kind!r}. Supported values are: 'text', 'image_file' and 'image_url'.", param=f"{p}.type", code="invalid_value")
    return parts


def attachments(owner, value, param: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(param, "an array")
    out = []
    for i, item in enumerate(value):
        p = f"{param}[{i}]"
        if not isinstance(item, dict):
            raise _type_error(p, "an object")
        check_fields(item, {"file_id", "tools"}, ("file_id",), prefix=f"{p}.")
        file_ids(owner, [item["file_id"]], f"{p}.file_id")
        item_tools = array(item.get("tools") or [], f"{p}.tools", len(TOOL_TYPES))
        for j, tool in enumerate(item_tools):
            if not isinstance(tool, dict) or tool.get("type") not in ("code_interpreter", "file_search"):
                raise invalid("Invalid attachment tool: expected 'code_interpreter' or 'file_search'.", param=f"{p}.tools[{j}].type")
        out.append({"file_id": item["file_id"], "tools": [{"type": t["type"]} for t in item_tools]})
    return out
