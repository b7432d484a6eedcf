"""The offline model's file_search skill: search first, then answer extractively.

With file_search enabled, a user's question (one no other offline skill answers, such as
an equation) becomes a file_search call. When the results come back, the answer quotes
the best sentences of the best passages, each followed by its source marker, or says
plainly that nothing relevant was found.
"""

from __future__ import annotations

import json
import re

from chat.providers.offline import model
from chat.providers.offline.model import (
    Reply,
    answered_call,
    json_arguments,
    last_message,
    message_text,
    register_skill,
    register_tool_caller,
)
from chat.retrieval.quotes import best_sentences

_MARKED = re.compile(r"^(【\d+:\d+†[^】]*】) \(([^,\n]+), pages? [^)]*\)\n", re.M)
MAX_QUOTES = 3
_COUNT = re.compile(r"\b(one|two|three|four|five|[1-5])\s+sentences?\b", re.I)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def quote_count(query: str) -> int:
    """"Explain in two sentences" asks for two quotes; otherwise a few."""
    match = _COUNT.search(query)
    if not match:
        return MAX_QUOTES
    word = match.group(1).lower()
    return _NUMBERS.get(word) or int(word)


def _others_answer(request) -> bool:
    """Greetings and math keep their own skills even when files are attached."""
    text = message_text(last_message(request))
    if model.GREETING.match(text):
        return True
    from chat.providers.offline import mathtutor

    try:
        return bool(mathtutor.answer(text))
    except Exception:
        return False


def _pending_search(request) -> tuple[str, str] | None:
    """(query, tool output) when the last message answers our file_search call."""
    call = answered_call(request, "file_search")
    if call is None:
        return None
    try:
        query = json.loads(call["function"].get("arguments") or "{}").get("query", "")
    except ValueError:
        query = ""
    return query, message_text(last_message(request))


def passages(output: str) -> list[tuple[str, str, str]]:
    """(marker, file name, passage text) from the tool output, best first."""
    found = []
    matches = list(_MARKED.finditer(output))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(output)
        found.append((match.group(1), match.group(2), output[match.end() : end].strip()))
    return found


def answer(query: str, output: str) -> str:
    found = passages(output)
    if not found:
        if output.startswith("No files to search"):
            return (
                "There are no processed files to search yet. Attach a file with the paper-clip "
                "(or on the assistant's Files page), wait until it shows “processed”, and ask again."
            )
        return f"I searched the attached files for “{query}” but found nothing relevant."
    quotes = []
    for marker, name, text in found[:6]:
        for _offset, sentence, score in best_sentences(text, query, 2):
            quotes.append((score, marker, name, sentence))
    quotes.sort(key=lambda q: -q[0])
    chosen, seen = [], set()
    for _score, marker, name, sentence in quotes:
        if sentence in seen:
            continue
        seen.add(sentence)
        chosen.append((marker, name, sentence))
        if len(chosen) == quote_count(query):
            break
    if not chosen:
        marker, name, text = found[0]
        chosen = [(marker, name, text[:300].strip() + "…")]
    names = sorted({name for _, name, _ in chosen})
    lines = [f"Here is what {', '.join(f'*{n}*' for n in names)} says (quoted as written; I'm the offline model, so I quote rather than paraphrase):", ""]
    for marker, _name, sentence in chosen:
        lines.append(f"- “{sentence}”{marker}")
    return "\n".join(lines)


def file_search_skill(request) -> Reply | None:
    if "file_search" not in request.enabled_tools:
        return None
    pending = _pending_search(request)
    if pending is not None:
        return Reply(text=answer(*pending))
    message = last_message(request)
    if message.get("role") != "user" or _others_answer(request):
        return None
    query = message_text(message).strip()
    if not query:
        return None
    return Reply(tool_calls=(("file_search", json_arguments(query=query)),))


def forced_search(request, name: str) -> str | None:
    """The query for a file_search call that the run's tool_choice forces: the user's message."""
    if name != "file_search":
        return None
    users = [message_text(m) for m in request.messages if m.get("role") == "user"]
    return json_arguments(query=(users[-1] if users else "").strip())


register_skill(file_search_skill, first=True)
register_tool_caller(forced_search)
