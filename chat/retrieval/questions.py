"""What kind of answer a question asks for, from its first words: "how many", "what share"
a number; "which", "who", "what dataset" a name; "what is X" a definition; "why" a reason.
Used by the ranking (figure questions prefer passages holding a figure) and by the offline
model's choice of the sentence that answers."""

from __future__ import annotations

import re

NUMBER, SHARE, SCORE, NAME, DEFINITION, REASON, ANY = "number", "share", "score", "name", "definition", "reason", "any"
_KINDS = [
    (SHARE, re.compile(r"^(what|which) (share|fraction|percentage|percent|proportion|portion)\b|\bhow often\b|\bwhat rate\b")),
    # A result: a figure measured on something (a percentage, a decimal, "55 F1", "6.4 points").
    (SCORE, re.compile(
        r"^(how (accurate|well|good|badly|much (better|worse))\b"
        r"|(what|which) (\w+ ){0,2}(scores?|accuracy|f1|bleu|perplexity|quality|error rate|performance|results?)\b)")),
    (NUMBER, re.compile(
        r"^(how (many|much|long|large|big|small|wide|deep|tall|fast|high|low|often|rare|close|far)"
        r"|(what|which) (\w+ ){0,2}(numbers?|size|values?|rate|year|amount|count|"
        r"dimensions?|coefficients?|percentage|ratio|length|width|depth|budget|cost)\b"
        r"|when\b)")),
    (NAME, re.compile(r"^(which|who|whom|whose|where)\b|^what (\w+ ){0,2}(dataset|data set|corpus|model|book|benchmark|method|"
                      r"optimi[sz]er|metric|task|language|company|name|tool|library|algorithm|architecture)s?\b")),
    (DEFINITION, re.compile(r"^(what (is|are) (an? |the )?\w|what does .+ mean\b|define |definition of )")),
    (REASON, re.compile(r"^why\b|\bwhat for\b|\bfor what reason\b")),
]


def kind_of(question: str) -> str:
    text = " ".join(question.lower().split())
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return ANY


def wants_figure(question: str) -> bool:
    return kind_of(question) in (NUMBER, SHARE, SCORE)
