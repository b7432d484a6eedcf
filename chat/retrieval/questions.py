"""What kind of answer a question asks for, from its first words: "how many", "what share"
a number; "which", "who", "what dataset" a name; "what is X" a definition; "why" a reason.
Used by the ranking (figure questions prefer passages holding a figure) and by the offline
model's choice of the sentence that answers."""

from __future__ import annotations

import re

NUMBER, SHARE, SCORE, NAME, DEFINITION, REASON, ANY = "number", "share", "score", "name", "definition", "reason", "any"
_KINDS = [
    (
        SHARE,
        re.compile(
            r"^(what|which) (share|fraction|percentage|percent|proportion|portion)\b|\bhow often\b|\bwhat rate\b"
        ),
    ),
    # A result: a figure measured on something (a percentage, a decimal, "55 F1", "6.4 points").
    (
        SCORE,
        re.compile(
            r"^(how (accurate|well|good|badly|much (better|worse))\b"
            r"|(what|which) (\w+ ){0,2}(scores?|accuracy|f1|bleu|perplexity|quality|error rate|performance|results?)\b)"
        ),
    ),
    (
        NUMBER,
        re.compile(
            r"^(how (many|much|long|large|big|small|wide|deep|tall|fast|high|low|often|rare|close|far)"
            r"|(what|which) (\w+ ){0,2}(numbers?|size|values?|rate|year|amount|count|"
            r"dimensions?|coefficients?|percentage|ratio|length|width|depth|budget|cost)\b"
            r"|when\b)"
        ),
    ),
    (
        NAME,
        re.compile(
            r"^(which|who|whom|whose|where)\b|^what (\w+ ){0,2}(dataset|data set|corpus|model|book|benchmark|method|"
            r"optimi[sz]er|metric|task|language|company|name|tool|library|algorithm|architecture)s?\b"
            # "What are the animals called?" asks for their name, not what they are.
            r"|^what (is|are|was|were) [^?]*\b(called|named)\b"
        ),
    ),
    (DEFINITION, re.compile(r"^(what (is|are) (an? |the )?\w|what does .+ mean\b|define |definition of )")),
    (REASON, re.compile(r"^why\b|\bwhat for\b|\bfor what reason\b")),
]


# Words before the question word that do not change what is asked: "Into how many parts…",
# "Roughly how many…", "So, what share…".
_LEAD = re.compile(
    r"^((and|but|so|ok|okay|then|also|roughly|approximately|about|around|exactly|just|in|into|for|by|to|at|on|of|"
    r"with|after|over|under|from|within|across|up to)\b[\s,]*)+"
)


def normalised(question: str) -> str:
    """The question in lower case with single spaces, less filler words before its question word."""
    text = " ".join(question.lower().split())
    return _LEAD.sub("", text) or text


def kind_of(question: str) -> str:
    text = normalised(question)
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return ANY


def wants_figure(question: str) -> bool:
    return kind_of(question) in (NUMBER, SHARE, SCORE)


# Words that stand next to the kind of answer asked for, whatever the subject: a duration
# is given in days or hours, a size as a size, a share as a percentage. The ranking adds
# them to the question at a low weight (``CUE_WEIGHT``).
CUE_WEIGHT = 0.3
_CUES = [
    (re.compile(r"^how long\b|^how much (?:[\w-]+ )?time\b"), "time days hours minutes seconds weeks months length"),
    (re.compile(r"^how (big|large|small|huge|tiny)\b"), "size"),
    (re.compile(r"^how (wide|narrow)\b"), "width size dimension dimensionality"),
    (re.compile(r"^how (deep|shallow)\b"), "depth layers"),
    (re.compile(r"^how (fast|quick|quickly|slow|slowly)\b"), "speed time second"),
    (re.compile(r"^how (often|frequently|rare|rarely|common)\b"), "times frequency rate"),
    (re.compile(r"\bcost\b"), "cost"),
    (re.compile(r"^when\b"), "year date"),
    (re.compile(r"^how (good|well|accurate|badly)\b"), "score accuracy performance"),
]
_SHARE_CUES = "percent percentage fraction share"


def cues(question: str) -> list[str]:
    """Words that usually stand next to the answer this question asks for."""
    text = normalised(question)
    words = [w for pattern, cue in _CUES if pattern.search(text) for w in cue.split()]
    if kind_of(question) == SHARE:
        words += _SHARE_CUES.split()
    return list(dict.fromkeys(words))


# The offline model's answer rules tell a few more kinds apart than the ranking needs (h-answer):
# "what goes wrong when…" or "what's the catch with…" wants a consequence, "what kind of X"
# a sort of X, and "what throughput…" a figure as much as "what size…" does; "what do they
# conclude from X" wants the conclusion drawn ("this suggests that …").
EFFECT, SORT, CONCLUSION, MANNER = "effect", "sort", "conclusion", "manner"
_ANSWER_KINDS = [
    # "What does a ticket cost?": a sum of money, however many words name the thing.
    (NUMBER, re.compile(r"^what (?:do|does|did|will|would|should) [^?]*\bcosts?\W*$")),
    # "What minimum score did a post need?": a threshold is a count, whatever it counts.
    (
        NUMBER,
        re.compile(
            r"^(what|which) (is |are |was |were )?(the |a |an )?(minimum|maximum|lowest|highest|smallest|largest)"
            r" (\w+ )?(score|value|number|count|amount|threshold|limit|requirement)s?\b"
        ),
    ),
    (
        CONCLUSION,
        re.compile(
            r"^what (do|does|did|can|could|should|would) (\w+ ){1,3}(conclude|infer|deduce|learn|take away)\b"
            r"|^what (is|was|are|were) (the |their |its )?(conclusions?|takeaways?|lessons?|implications?)\b"
        ),
    ),
    (
        EFFECT,
        re.compile(
            r"^what (goes|went|can go|could go) wrong\b|^what (happens|happened|problems?|issues?|effects?) "
            r"|^what(?:['’]s| is| are| was| were) (?:the |a |its |their )?(?:catch|drawbacks?|downsides?|disadvantages?|trade-?offs?)\b"
            r"|^what does (\w+ ){1,4}(cause|lead to|result in)\b"
        ),
    ),
    (SORT, re.compile(r"^(what|which) (kinds?|types?|sorts?|forms?) of\b")),
    # "How are the weights adjusted …?", "how was the data collected?": a way of doing it.
    (MANNER, re.compile(r"^how (is|are|was|were) (?!\w+ (many|much)\b)[^?]*?\b\w+(ed|en|wn)\b")),
    # "What is the averaged ROUGE score of …": a result however many words name it.
    (
        SCORE,
        re.compile(
            r"^(what|which) (is|are|was|were) (the |its |their |a |an )?(\w+ ){0,3}"
            r"(scores?|accuracy|f1|bleu|rouge|perplexity|error rate)\b"
        ),
    ),
    (
        NUMBER,
        re.compile(
            r"^(what|which) (is |are |was |were )?(the |its |their |a |an )?(\w+ ){0,2}"
            r"(throughput|speed|capacity|memory|duration|time|temperature|price|date|day|month|"
            r"weight|distance|frequency|dimensionality|probability|height|age|mass|volume|variance|mean|average|range|"
            r"numbers?|size|count|amount|length|width|depth|rate|budget|cost)\b"
        ),
    ),
]
# The words that name what is asked about end at the first of these: "how many *update
# steps* was…", "which *children's novel* from…".
_PHRASE_END = re.compile(
    r"\b(is|are|was|were|be|been|do|does|did|has|have|had|can|could|will|would|should|may|might|must|"
    r"of|in|into|inside|within|between|among|per|than|as|on|at|for|from|with|by|to|about|over|after|before|during|"
    r"when|where|while|if|each|every|the|a|an|its|their|this|that|these|those|which|who|it|they|there|and|or|but|not)\b"
    r"|[,;:?!.]"
)
_ASKED = re.compile(
    r"^(?:how (?:many|much)|(?:what|which)(?: (?:kinds?|types?|sorts?|forms?) of)?|how \w+ "
    r"(?:is|are|was|were|does|do|did) (?:the |a |an |its |their |this |that )?)\s*(.*)$"
)
_UNIT = re.compile(r"\bin (?:(?:number|terms|units) of )?(\w+)\s*[,?.]?\s*$|, in (?:(?:number|terms|units) of )?(\w+),")


# A question may open with a clause that sets the scene before it asks: "In the standard
# configuration, how many heads…", "If you tokenize raw bytes, how many symbols…". What it
# asks for is then said after the comma (h-ans).
_QUESTION_WORD = r"(?:how|what|which|who|whom|whose|why|when|where)\b"
_SCENE_THEN_QUESTION = re.compile(
    rf"^(?!\W*{_QUESTION_WORD})[^?]*?,\s*(?=(?:(?:roughly|approximately|about|exactly) )?{_QUESTION_WORD})", re.I
)


def main_clause(question: str) -> str:
    """The question less a scene-setting clause before its question word."""
    return _SCENE_THEN_QUESTION.sub("", question.strip(), count=1)


def answer_kind(question: str) -> str:
    """The kind of answer, telling apart also consequences (EFFECT) and sorts of a thing (SORT)."""
    return clause_kind(normalised(main_clause(question)))


def clause_kind(clause: str) -> str:
    """``answer_kind`` of a main clause already normalised (see ``normalised``)."""
    for kind, pattern in _ANSWER_KINDS:
        if pattern.search(clause):
            return kind
    return kind_of(clause)


def asked_words(question: str) -> list[str]:
    """The words naming what the question asks about, its head noun last: "How many update
    steps…" → [update, steps]; "How large is the model's token vocabulary?" → [model, token,
    vocabulary]; and a unit asked for ("…, in gigabytes, …") after them."""
    text = normalised(question).replace("’", "'").replace("'s ", " ")
    found: list[str] = []
    match = _ASKED.search(text)
    if match:
        rest = match.group(1)
        end = _PHRASE_END.search(rest)
        found = re.findall(r"[a-z][a-z0-9-]*", rest[: end.start()] if end else rest)[:4]
    unit = _UNIT.search(text)
    if unit:
        found.append(unit.group(1) or unit.group(2))
    return found


# "How much worse…" is answered by a drop, "how much better…" by a gain (h-answer).
_CHANGES = [
    (
        re.compile(r"\bhow much (worse|lower|less|smaller|slower)\b|\bhow (far|much) does .* (drop|fall|decrease)\b"),
        "drops drop falls decreases decrease loses reduces lower worse",
    ),
    (
        re.compile(r"\bhow much (better|higher|more|larger|faster)\b|\bhow much does .* (improve|gain|increase)\b"),
        "improves improvement gains increases increase higher better",
    ),
]


def change_words(question: str) -> list[str]:
    """Words that state the change a "how much worse/better" question asks about."""
    text = normalised(question)
    return [w for pattern, words in _CHANGES if pattern.search(text) for w in words.split()]


# "What minimum …", "at least how many …": the question asks for a
# requirement (a figure stated as a minimum); "how many … can it see" and "how many … are in
# the vocabulary" ask what a thing has.
_MINIMUM = re.compile(r"\b(minimum|at least|fewest|threshold|cut-?off)\b")
_CAPACITY = re.compile(
    r"\b(can|could|maximum|at most|up to|longest|largest|most|capacity|hold|holds|fit|fits|(?:are|is|were|was) in)\b"
)


def asks_minimum(question: str) -> bool | None:
    """True when the question asks for a minimum, False when it asks what a thing has or
    can do (a capacity), None when it says neither."""
    text = normalised(question)
    if _MINIMUM.search(text):
        return True
    return False if _CAPACITY.search(text) else None
