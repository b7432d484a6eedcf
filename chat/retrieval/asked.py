"""What a question asks, read once per answer for the offline model's sentence choice
(``answers``): the question as asked, its main clause and that clause normalised, which
most rules match against (``read``), and what the rules derive from them: the words it is
about and their weights, what a figure should stand next to, the kind of thing a name
should be, what a count is counted in or per, and whether it asks for a date, a time of
day, a sum of money or what a thing does.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from chat.retrieval import questions, synonyms
from chat.retrieval.matching import terms_in_order
from chat.retrieval.passages import stem, stems
from chat.retrieval.questions import SCORE, asked_words
from chat.retrieval.search import STOPWORDS, terms


@dataclass(frozen=True)
class Question:
    """A question read once: as asked, its main clause (less a scene-setting clause before
    the question word, see ``questions.main_clause``), that clause normalised (lower case,
    single spaces, no leading filler such as "roughly"), and the kind of answer it wants."""

    text: str
    main: str
    clause: str
    kind: str


def read(question: str | Question) -> Question:
    """The question read once (a Question is returned as it is)."""
    if isinstance(question, Question):
        return question
    main = questions.main_clause(question)
    clause = questions.normalised(main)
    return Question(question, main, clause, questions.clause_kind(clause))


# "What should the players bring?": the verb a "what does X <verb>?" question ends with
# (see ``answers.VERB_BONUS``).
_WHAT_DOES_X_VERB = re.compile(
    r"^what (?:do|does|did|should|must|can|could|will|would|may|might|shall|has|have|had) (?:[\w'’-]+ ){1,3}([a-z]+)\W*$"
)


# "How rare is ...": the word after "how" (or after "how many") is what the figure measures.
_FOCUS = re.compile(r"^how (?:many |much )?(?:\w+ )??([a-z]{3,})\b")


def focus_word(question: str) -> str | None:
    match = _FOCUS.search(" ".join(question.lower().split()))
    if not match or match.group(1) in STOPWORDS:
        return None
    return stem(match.group(1))


def _focus(question: Question) -> set[str]:
    """Stems of what a figure should stand next to: the thing asked about ("update steps",
    "vocabulary"), a unit asked for ("in gigabytes"), and the words that name the kind of
    answer ("how long" → days, hours)."""
    asked = asked_words(question.clause)
    words = asked + questions.cues(question.clause) + questions.change_words(question.clause)
    found = {s for w in words for s in stems(w) if s not in STOPWORDS and not s.isdigit()}
    found |= set(_compounds(" ".join(asked)))
    old = focus_word(question.main)
    return found | ({old} if old else set())


def asked_phrase(question: Question) -> tuple[str, set[str]] | None:
    """(head, modifiers) of what a figure question asks about, stemmed: "how large is the
    model's token vocabulary" → (vocabulary, {model, token}); None for a one-word phrase."""
    words = asked_words(question.clause)
    if questions._UNIT.search(question.clause):
        words = words[:-1]  # the unit asked for ("…, in gigabytes") is no part of the phrase
    if len(words) < 2:
        return None
    head = stem(words[-1])
    return head, {stem(w) for w in words[:-1]} - {head} - STOPWORDS


# "How many tokens are in the final vocabulary (of the model)?": what holds the things counted.
_CONTAINER = re.compile(
    r"^how many [\w-]+(?: [\w-]+)? (?:are|is|were|was) (?:there )?in (?:the |a |an |its |their |this |that )?"
    r"(?:[\w-]+ ){0,2}?([\w-]+)(?=\s(?:of|for|on|at|in|during|after|before|by|when)\b|\W*$)"
)


def contained_in(question: str | Question) -> frozenset[str]:
    """Stems of what a "how many X are in Y" question counts X in (Y and its synonyms); empty for any other question."""
    match = _CONTAINER.match(read(question).clause)
    if not match or match.group(1) in STOPWORDS:
        return frozenset()
    return frozenset(stem(w) for w in synonyms.weighted([match.group(1)]))


# "What model of graphics card …": the thing the answer is a model of is named too.
_OF_WHAT = re.compile(
    r"^(?:what|which) (?:model|make|brand|version|variant|edition|family)s? of ((?:[a-z-]+ ){0,2}[a-z-]+)"
)


def kind_words(question: Question) -> set[str]:
    """Stems of the words for the kind of thing asked ("what dataset", "which optimizer"),
    and for "what model of graphics card" also of the thing it is a model of, with that
    thing's synonyms (the paper may write "GPU"): a name right by one of them says it is one."""
    found = {stem(w) for w in asked_words(question.text)}
    of_what = _OF_WHAT.match(question.clause)
    if of_what:
        found |= {s for w in synonyms.weighted(terms_in_order(of_what.group(1))) for s in stems(w)}
    return found


# A question for a count or a duration, which a result in a measure does not give.
_COUNTING = re.compile(r"(?:roughly |about |approximately )?(?:how many|how long|how often|how much (?:\w+ )?time)\b")
# Words saying a thing is missing: in a question, it asks about the absence.
_ABSENCE = re.compile(r"\b(?:no|not|none|without|never|zero|lacks?|lacking|absent|missing|n['’]t)\b", re.IGNORECASE)


# "How many X per Y", "for each Y", "in every Y": the item Y a count is given for.
_PER_ITEM = re.compile(r"\b(?:per|each|every|a single|one)\s+(?:(?:individual|single)\s+)?([a-z][a-z-]+)")


def per_item(question: str) -> frozenset[str]:
    """Stems of the items a "how many X per Y" question counts X for (Y)."""
    return frozenset(stem(w) for w in _PER_ITEM.findall(question.lower()) if w not in STOPWORDS)


def per_items_said(question: str) -> frozenset[str]:
    """Stems of the items a question counts per, with their synonyms ("update": "step")."""
    words = [w for w in _PER_ITEM.findall(question.lower()) if w not in STOPWORDS]
    return frozenset(stem(w) for w in synonyms.weighted(words))


# "What date …", "in which year …" asks for a date ("how many years" a count, "when" may be
# answered by a time span).
_DATE_ASKED = re.compile(r"\b(?:what|which) (?:date|year|month|day)s?\b")


# "When does the club meet?" asks for a time: a date, a day, a time of day (see ``strength``).
_WHEN_ASKED = re.compile(r"^when\b")
# "What time …", "at what hour …" asks for a time of day: "8:15 am", "at 4 pm", "14:30", "noon".
_CLOCK_ASKED = re.compile(r"^(?:what|which) (?:time|hour)\b")


# "How much does it cost", "what is the fee": a sum of money, a figure by a currency's sign
# or name ("$3.50", "12 pounds"), not a label's number ("Year 5", "Room 12").
_PRICE_ASKED = re.compile(
    r"\b(?:cost|costs|price|prices|priced|pay|paid|fee|fees|fare|fares|charge|charged|spend|spent)\b"
)

# "How much is the milk?": nothing between "how much" and the verb, so no quantity of a
# thing ("how much data is …") but what the thing comes to, a price.
_HOW_MUCH_IS = re.compile(r"^how much (?:is|are|was|were|will|would)\b")


def price_asked(question: str | Question) -> bool:
    """Whether a figure question asks for a sum of money (and names no other unit: "what is
    the training cost in FLOPs" asks for a count, "how much time did it spend" a duration)."""
    text = read(question).clause
    priced = _PRICE_ASKED.search(text) or _HOW_MUCH_IS.match(text)
    return bool(priced) and not questions._UNIT.search(text) and not _HOW_MUCH_TIME.match(text)


def asked_verb(question: str | Question) -> str | None:
    """The stem of the verb a "what does X <verb>?" question ends with ("bring"), or None."""
    match = _WHAT_DOES_X_VERB.match(read(question).clause)
    if not match or match.group(1) in STOPWORDS:
        return None
    return synonyms.verb_base(stem(match.group(1)))


def _question_weights(question: Question) -> dict[str, float]:
    """The question's word stems and their weights: its own words 1, synonyms less; a
    negated word also stands for its stem ("unscaled" for "scaled")."""
    weights: dict[str, float] = {}
    words = content_words(question)
    for word, weight in synonyms.weighted(words).items():
        # A verb's forms are one word here: "took" in a sentence is "take" of the question.
        for s in map(synonyms.verb_base, stems(word)):
            weights[s] = max(weight, weights.get(s, 0.0))
    adjective = how_adjective(question)
    # "How rare…": a sentence saying "extremely rare" is about the thing asked; "how well…"
    # only asks for a result, and "well calibrated" is about something else.
    if adjective and adjective not in words and adjective not in STOPWORDS and question.kind != SCORE:
        weights.setdefault(stem(adjective), ADJECTIVE_WEIGHT)
    for word in words:
        if word.startswith("un") and len(word) > 5:
            weights.setdefault(stem(word[2:]), synonyms.SYNONYM_WEIGHT)
    return weights


# "How well…", "how large is…": the adjective says what kind of figure is wanted (see
# ``_focus``), not what it is about; a sentence that repeats it ("prohibitively large
# compared to…") is no nearer the answer.
_HOW_ADJECTIVE = re.compile(r"^\W*(?:\w+\W+){0,2}?how (?!many\b|much\b)(\w+)\b", re.IGNORECASE)


ADJECTIVE_WEIGHT = 1.0


# "How much wall-clock time did …" asks a duration as "how long" does: its words name the
# kind of answer (a figure in seconds or days, see ``questions.cues``), not what it is about.
_HOW_MUCH_TIME = re.compile(r"^how much ((?:[\w-]+ )?time)\b")


_SET_ASIDE = re.compile(
    r"\b(?:apart from|aside from|other than|besides|except(?: for)?)\s+((?:[\w-]+\s*){1,3})", re.IGNORECASE
)


def content_words(question: str | Question) -> list[str]:
    """The question's searchable words less a "how <adjective>" one, the words of "how much
    … time" and those it sets aside ("apart from its size")."""
    question = read(question)
    words = terms(question.text)
    adjective = how_adjective(question)
    if adjective in words and len(words) > 1:
        words = [w for w in words if w != adjective]
    duration = _HOW_MUCH_TIME.match(question.clause)
    if duration:
        measure = set(terms(duration.group(1)))
        words = [w for w in words if w not in measure] or words
    # "…, apart from its size?": what the question sets aside is no part of the answer.
    aside = {w for m in _SET_ASIDE.finditer(question.text) for w in terms(m.group(0))}
    return [w for w in words if w not in aside] or words


def how_adjective(question: Question) -> str | None:
    match = _HOW_ADJECTIVE.match(question.main)
    return match.group(1).lower() if match else None


def _compounds(question: str) -> dict[str, set[str]]:
    """Two neighbouring question words as the text may write them in one ("batch size",
    "batchsize"; "data set", "dataset")."""
    words = terms_in_order(question)
    return {stem(a + b): {stem(a), stem(b)} for a, b in itertools.pairwise(words) if a.isalpha() and b.isalpha()}
