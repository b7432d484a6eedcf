"""Choosing the sentence that answers a question, by rules (the offline model has no
language model to read with).

A question's first words say what kind of answer it wants: "how many", "what share" a
number; "which", "who", "what dataset" a name; "what is X" a definition; "why" a reason.
Every sentence of the found passages is scored by how much of the question it covers
(its content words, Snowball-stemmed, synonyms at a lower weight) and whether it holds
that kind of answer. The best one that does leads; when none covers enough of the
question, there is no answer to lead with, and the caller says so.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from chat.retrieval import synonyms
from chat.retrieval.passages import stem, stems
from chat.retrieval.quotes import sentences
from chat.retrieval.search import terms

NUMBER, SHARE, NAME, DEFINITION, REASON, ANY = "number", "share", "name", "definition", "reason", "any"
# A sentence leads only if it covers at least this share of the question's weighted words.
MIN_COVERAGE = 0.25
# How much the sentence before counts towards covering the question.
CONTEXT_WEIGHT = 0.4
# How much a sentence holding the wanted kind of answer counts, against full coverage = 1.
KIND_BONUS = 0.5

_KINDS = [
    (SHARE, re.compile(r"^(what|which) (share|fraction|percentage|percent|proportion|portion)\b|\bhow often\b|\bwhat rate\b")),
    (NUMBER, re.compile(
        r"^(how (many|much|long|large|big|small|wide|deep|tall|fast|accurate|well|good|high|low|often|rare|close|far)"
        r"|(what|which) (\w+ ){0,2}(numbers?|size|scores?|accuracy|f1|bleu|perplexity|values?|rate|year|amount|count|"
        r"dimensions?|coefficients?|percentage|ratio|length|width|depth|budget|cost)\b"
        r"|when\b)")),
    (NAME, re.compile(r"^(which|who|whom|whose|where)\b|^what (\w+ ){0,2}(dataset|data set|corpus|model|book|benchmark|method|"
                      r"optimi[sz]er|metric|task|language|company|name|tool|library|algorithm|architecture)s?\b")),
    (DEFINITION, re.compile(r"^(what (is|are) (an? |the )?\w|what does .+ mean\b|define |definition of )")),
    (REASON, re.compile(r"^why\b|\bwhat for\b|\bfor what reason\b")),
]
# Citations and years are numbers that answer nothing: "(Radford et al., 2018)", "[12]".
_CITATION = re.compile(r"\([^()]*\b(19|20)\d\d[a-z]?\)|\[\d+(?:[,–-]\s*\d+)*\]")
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.])\d[\d,.]*(?:\s?%|\s?(?:[KMB]|million|billion|thousand)\b)?")
_PERCENT = re.compile(r"\d\s?%|\bpercent\b")
_PROPER = re.compile(r"(?<!^)(?<![.!?]\s)\b(?:[A-Z][a-z]+[A-Z]\w*|[A-Z]{2,}\w*|[A-Z][a-z]{2,})\b")
_DEFINES = re.compile(r"\b(is|are|refers? to|means|consists? of|is called|we call|called|known as|defined as)\b")
_BECAUSE = re.compile(r"\b(because|since|due to|in order to|so that|to counteract|to avoid|to prevent|this (is|was) why)\b", re.I)


def kind_of(question: str) -> str:
    text = " ".join(question.lower().split())
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return ANY


_TOKEN = re.compile(r"\d[\d,.]*\d%?|\d%?|[^\W\d_]+")
# A number answers "how many X" when it stands within this many words of X.
NEAR = 4


_HEAD = re.compile(r"^(?:what|which) (?:\w+ ){0,2}?(\w+?)s? (?:is|are|was|were|do|does|did|has|have|had|can|could)\b")


def head_noun(question: str) -> str | None:
    """The thing a "what X"/"which X" question asks for: "dataset" in "What dataset was
    GPT-2 trained on?"."""
    match = _HEAD.search(" ".join(question.lower().split()))
    return stem(match.group(1)) if match else None


def _strength(kind: str, sentence: str, wanted: set[str], question_words: set[str], head: str | None = None) -> float:
    """How well the sentence holds the kind of answer asked for: 1, 0.5 (a number, but
    not next to the question's words), or 0."""
    plain = _CITATION.sub("", sentence)
    if kind == SHARE:
        return 1.0 if _PERCENT.search(plain) else 0.0
    if kind == NUMBER:
        tokens = _TOKEN.findall(plain)
        numbers = [i for i, tok in enumerate(tokens) if tok[0].isdigit()]
        if not numbers:
            return 0.0
        near = [i for i, tok in enumerate(tokens) if not tok[0].isdigit() and stem(tok) in wanted]
        distance = min((abs(i - j) for i in numbers for j in near), default=NEAR + 1)
        # "100,000 steps" answers "how many steps" better than "each step took 0.4 seconds".
        return 1.0 - 0.1 * (distance - 1) if distance <= NEAR else 0.5
    if kind == NAME:
        # A name the question did not already say, best right by the thing asked for:
        # "The resulting dataset, WebText, ...".
        names = [m for m in _PROPER.finditer(plain) if stem(m.group(0)) not in question_words]
        if not names:
            return 0.0
        if head is None:
            return 1.0
        tokens = _TOKEN.findall(plain)
        heads = [i for i, tok in enumerate(tokens) if stem(tok) == head]
        found = {stem(m.group(0)) for m in names}
        spots = [i for i, tok in enumerate(tokens) if stem(tok) in found]
        distance = min((abs(i - j) for i in spots for j in heads), default=NEAR + 1)
        return 1.0 - 0.1 * (distance - 1) if distance <= NEAR else 0.5
    if kind == DEFINITION:
        return 1.0 if _DEFINES.search(plain) else 0.0
    if kind == REASON:
        return 1.0 if _BECAUSE.search(plain) else 0.0
    return 0.0


@dataclass
class Candidate:
    passage: int  # index of the passage, best first
    sentence: str
    coverage: float
    holds: bool
    score: float


def candidates(question: str, passages: list[str]) -> list[Candidate]:
    """Every sentence of the passages that shares a word with the question, best first.
    A word counts by its weight (synonyms less) and its rarity among these sentences."""
    kind = kind_of(question)
    weights: dict[str, float] = {}
    for word, weight in synonyms.weighted(terms(question)).items():
        weights[stem(word)] = max(weight, weights.get(stem(word), 0.0))
    own = {stem(w) for w in terms(question)}
    question_words = set(stems(question))
    head = head_noun(question)
    pool, seen = [], set()
    for index, text in enumerate(passages):
        found_here = [(sentence, set(stems(sentence)) & set(weights)) for _, sentence in sentences(text, letters=0.45)]
        for at, (sentence, have) in enumerate(found_here):
            if sentence in seen:
                continue
            seen.add(sentence)
            # The sentence before often names what this one gives the figure for.
            before = found_here[at - 1][1] if at else set()
            pool.append((index, sentence, have, before))
    frequency = Counter(s for _, _, have, _ in pool for s in have)
    rarity = {s: math.log(1 + len(pool) / (1 + frequency[s])) for s in weights}
    total = sum(weights[s] * rarity[s] for s in own) or 1.0

    def covered(words: set[str]) -> float:
        return min(1.0, sum(weights[s] * rarity[s] for s in words) / total)

    found = []
    for index, sentence, have, before in pool:
        if not have:
            continue
        coverage = (1 - CONTEXT_WEIGHT) * covered(have) + CONTEXT_WEIGHT * covered(have | before)
        strength = _strength(kind, sentence, set(weights), question_words, head) if kind != ANY else 0.0
        score = coverage + KIND_BONUS * strength
        found.append(Candidate(index, sentence, coverage, strength > 0, score))
    found.sort(key=lambda c: (-c.score, c.passage))  # ties: the better-ranked passage
    return found


def lead_and_support(question: str, passages: list[str], support: int = 2) -> tuple[Candidate | None, list[Candidate]]:
    """The sentence that answers (or None) and up to ``support`` sentences that back it."""
    found = candidates(question, passages)
    kind = kind_of(question)
    answering = [c for c in found if c.coverage >= MIN_COVERAGE and (c.holds or kind == ANY)]
    if not answering:
        return None, []
    lead = answering[0]
    backing = [c for c in sorted(found, key=lambda c: (-c.coverage, c.passage)) if c is not lead and c.coverage >= MIN_COVERAGE]
    return lead, backing[:support]
