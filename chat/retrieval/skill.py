"""The offline model's file_search skill: search first, then answer extractively.

With file_search enabled, a user's question (one no other offline skill answers, such as
an equation) becomes a file_search call. When the results come back, the answer quotes
first the sentence that answers the question (see ``answers``), then at most two that back
it, each followed by its source marker; or it says plainly that nothing answers.
"""

from __future__ import annotations

import json
import re

from chat.providers.offline import explain, mathtutor, model
from chat.providers.offline.model import (
    Reply,
    answered_call,
    json_arguments,
    last_message,
    message_text,
    register_skill,
    register_tool_caller,
)
from chat.retrieval import answers

_MARKED = re.compile(r"^(【\d+:\d+†[^】]*】) \(([^,\n]+), pages? [^)]*\)\n", re.M)
MAX_QUOTES = 3  # the answer and at most two quotes that back it
# The answer is sought in the best few passages only: further down, a sentence that
# happens to share the question's words more often misleads than answers.
MAX_PASSAGES = 4
# The longest query the model writes: a question pasted with 250,000 characters of text is
# not searched for (nor counted as output tokens) whole; a search query is a sentence or two.
MAX_QUERY = 400
_QUESTION = re.compile(r"[^.!?\n]*\?")
_COUNT = re.compile(r"\b(one|two|three|four|five|[1-5])\s+sentences?\b", re.I)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def quote_count(query: str) -> int:
    """"Explain in two sentences" asks for two quotes; otherwise a few."""
    match = _COUNT.search(query)
    if not match:
        return MAX_QUOTES
    word = match.group(1).lower()
    return _NUMBERS.get(word) or int(word)


def search_query(text: str) -> str:
    """What to search for, as a model would write it: the message itself when it is short;
    else its last question (a sentence ending in "?") when that is short enough, else its
    first ``MAX_QUERY`` characters, cut at a word."""
    if len(text.strip()) <= MAX_QUERY:
        return text.strip()
    text = " ".join(text.split())
    questions = [q.strip() for q in _QUESTION.findall(text[-20 * MAX_QUERY :]) if q.strip()]
    if questions and len(questions[-1]) <= MAX_QUERY:
        return questions[-1]
    return text[:MAX_QUERY].rsplit(" ", 1)[0] if " " in text[:MAX_QUERY] else text[:MAX_QUERY]


def _others_answer(request) -> bool:
    """Greetings, math and a request to explain the previous answer ("Could you explain this
    to me?") keep their own skills even when files are attached. An explain request with no
    answer before it to explain is searched for: "this" is then most likely the file."""
    text = message_text(last_message(request))
    if model.GREETING.match(text):
        return True
    if explain.is_explain_request(text) and explain.previous_exchange(request) is not None:
        return True
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
    """Lead with the sentence that answers the question, then at most two quotes that
    back it, each followed by its source marker; or say plainly that nothing answers."""
    # The answer is sought in the best few; the rest may hold whole a sentence they cut.
    found = passages(output)
    if not found:
        if output.startswith("No files to search"):
            return (
                "There are no processed files to search yet. Attach a file to the conversation or to "
                "the assistant, wait until it is processed, and ask again."
            )
        return f"I searched the attached files for “{model.quoted(query)}” but found nothing relevant."
    lead, support = answers.lead_and_support(
        query, [text for _, _, text in found], min(quote_count(query), MAX_QUOTES) - 1,
        files=[name for _, name, _ in found], searched=MAX_PASSAGES,
    )
    if lead is None:
        marker, name, _ = found[0]
        return (
            f"I searched the attached files for “{model.quoted(query)}” but found no passage that answers it. "
            f"The nearest one is in *{name}*{marker}, if you want to read around it."
        )
    marker, name, _ = found[lead.passage]
    lines = [f"From *{name}*: “{lead.sentence}”{marker}"]
    if support:
        lines += ["", "Also in the files:"]
        lines += [f"- “{c.sentence}”{found[c.passage][0]}" for c in support]
    lines += ["", "_(I'm the offline model, so I quote the files rather than paraphrase them.)_"]
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
    query = search_query(message_text(message))
    if not query:
        return None
    return Reply(tool_calls=(("file_search", json_arguments(query=query)),))


def forced_search(request, name: str) -> str | None:
    """The query for a file_search call that the run's tool_choice forces: the user's message."""
    if name != "file_search":
        return None
    users = [message_text(m) for m in request.messages if m.get("role") == "user"]
    return json_arguments(query=search_query(users[-1] if users else ""))


def register() -> None:
    """Called from RetrievalConfig.ready(); SKILL_ORDER says where the skill goes."""
    register_skill("file_search", file_search_skill)
    register_tool_caller(forced_search)
