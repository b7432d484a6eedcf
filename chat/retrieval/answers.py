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

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass

from chat.retrieval import synonyms
from chat.retrieval.passages import stem, stems
from chat.retrieval.questions import ANY, DEFINITION, NAME, NUMBER, REASON, SCORE, SHARE, kind_of
from chat.retrieval.quotes import sentences
from chat.retrieval.search import STOPWORDS, terms

# A sentence leads only if it, or it with its neighbours, covers at least this share of the
# question's weighted words.
MIN_COVERAGE = 0.25
# How much the sentences around one count towards covering the question: the one before
# often names what this one gives the figure for, a section heading may stand two before.
CONTEXT_WEIGHT = 0.4
CONTEXT_BEFORE, CONTEXT_AFTER = 2, 1
# How much a sentence holding the wanted kind of answer counts, against full coverage = 1.
KIND_BONUS = 0.75
# Two of the question's words standing together in a sentence ("common nouns") say more
# than each alone: this much for each such pair, at most PHRASES pairs.
PHRASE_BONUS, PHRASES = 0.1, 3
# Unless this share of the question's words (by rarity) is in the passages at all, nothing answers.
MIN_PRESENT = 0.4
# A question word no sentence holds cannot tell sentences apart; counted whole, a rare word
# the student chose ("unscaled") would keep every sentence under MIN_COVERAGE.
ABSENT_WEIGHT = 0.5

# Citations and years are numbers that answer nothing: "(Radford et al., 2018)", "[12]".
_CITATION = re.compile(r"\([^()]*\b(19|20)\d\d[a-z]?\)|\[\d+(?:[,–-]\s*\d+)*\]")
# Nor do references to parts of the text ("Table 3", "section 22") or a heading's number.
_REFERENCE = re.compile(
    r"\b((?i:sections?|tables?|figures?|fig\.|eqs?\.|equations?|appendix|chapters?|footnote)\s*)\d[\d.]*\b"
    r"|\b\d+(?:\.\d+)+\.?\s+(?=[A-Z][a-z])|^\s*\d+\.?\s+(?=[A-Z][a-z])"
)
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
_PERCENT = re.compile(r"\d\s?%|\bpercent\b")
# Names: "WebText", "GPT", "Reddit", "P100".
_PROPER = re.compile(r"(?<!^)(?<![.!?]\s)\b(?:[A-Z][a-z]+[A-Z]\w*|[A-Z]{2,}\w*|[A-Z]+\d+\w*|[A-Z][a-z]{2,})\b")
_DEFINES = re.compile(r"\b(is|are|refers? to|means|consists? of|is called|we call|called|known as|defined as)\b")
_BECAUSE = re.compile(r"\b(because|since|due to|in order to|so that|to counteract|to avoid|to prevent|this (is|was) why)\b", re.IGNORECASE)
# A figure measured on something: a percentage, a decimal, or one followed by what it is
# measured in ("55 F1", "28.4 BLEU", "6.4 points"); "3 out of 4 systems" counts instead.
_MEASURED = re.compile(r"^\d[\d,.]*\.\d|%$|^\d[\d,.]*\s?(?:[A-Z][A-Z0-9-]*\b|points?\b|accuracy\b|perplexity\b)")


_TOKEN = re.compile(r"\d[\d,.]*\d%?|\d%?|[^\W\d_]+")
# A number answers "how many X" when it stands within this many words of X.
NEAR = 4
# "How rare is ...": the word after "how" (or after "how many") is what the figure measures.
_FOCUS = re.compile(r"^how (?:many |much )?(?:\w+ )??([a-z]{3,})\b")


def focus_word(question: str) -> str | None:
    match = _FOCUS.search(" ".join(question.lower().split()))
    if not match or match.group(1) in STOPWORDS:
        return None
    return stem(match.group(1))


def _is_number(token: str, years: bool) -> bool:
    return token[0].isdigit() and (years or not _YEAR.match(token))


def _near(tokens: list[str], spots: list[int], wanted: set[str]) -> float:
    """1 when a spot stands within two words of one of the question's words ("beam size
    of 4"), less with every word between, 0.5 past NEAR words."""
    near = [i for i, tok in enumerate(tokens) if stem(tok) in wanted]
    distance = min((abs(i - j) for i in spots for j in near if i != j), default=NEAR + 1)
    return 1.0 - 0.1 * max(0, distance - 2) if distance <= NEAR else 0.5


def _strength(
    kind: str, sentence: str, wanted: set[str], question_words: set[str],
    years: bool = False, focus: str | None = None,
) -> float:
    """How well the sentence holds the kind of answer asked for: 1, less when the answer
    does not stand by the question's words, or 0."""
    plain = _REFERENCE.sub(lambda m: m.group(1) or "", _CITATION.sub("", sentence))
    if kind == SHARE:
        return 1.0 if _PERCENT.search(plain) else 0.0
    if kind in (NUMBER, SCORE):
        spans = [m for m in _TOKEN.finditer(plain)]
        tokens = [m.group(0) for m in spans]
        numbers = [i for i, tok in enumerate(tokens) if _is_number(tok, years)]
        if kind == SCORE:
            numbers = [i for i in numbers if _MEASURED.search(plain[spans[i].start() : spans[i].end() + 12])]
        if not numbers:
            return 0.2 if kind == SCORE and any(t[0].isdigit() for t in tokens) else 0.0
        if kind == SCORE:
            # A result is stated where the sentence covers the question ("our big model
            # achieves a BLEU score of 41.0"), seldom right by the question's words.
            return 1.0
        near = _near(tokens, numbers, wanted)
        if focus is None:
            return near
        # Best by the word the figure measures; by other words of the question, less.
        by_focus = _near(tokens, numbers, {focus}) if any(stem(t) == focus for t in tokens) else 0.0
        return max(by_focus, 0.8 * near)
    if kind == NAME:
        # A name the question did not already say: "The resulting dataset, WebText, ...".
        names = [m for m in _PROPER.finditer(plain) if stem(m.group(0)) not in question_words]
        return 1.0 if names else 0.0
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
    # How much of the question the sentence and its neighbours cover together.
    reach: float = 0.0


def _question_weights(question: str) -> dict[str, float]:
    """The question's word stems and their weights: its own words 1, synonyms less; a
    negated word also stands for its stem ("unscaled" for "scaled")."""
    weights: dict[str, float] = {}
    words = terms(question)
    for word, weight in synonyms.weighted(words).items():
        weights[stem(word)] = max(weight, weights.get(stem(word), 0.0))
    for word in words:
        if word.startswith("un") and len(word) > 5:
            weights.setdefault(stem(word[2:]), synonyms.SYNONYM_WEIGHT)
    return weights


def _pairs(text: str) -> set[tuple[str, str]]:
    """Neighbouring content words of the text, stemmed."""
    words = [stem(w) for w in terms_in_order(text)]
    return set(itertools.pairwise(words))


def terms_in_order(text: str) -> list[str]:
    """The text's words in order, question words and stopwords left out (repeats kept)."""
    return [w.lower() for w in _WORDS.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]


_WORDS = re.compile(r"[^\W_]+")


def candidates(question: str, passages: list[str]) -> list[Candidate]:
    """Every sentence of the passages that shares a word with the question, best first.
    A word counts by its weight (synonyms less) and its rarity among these sentences."""
    kind = kind_of(question)
    weights = _question_weights(question)
    own = {stem(w) for w in terms(question)}
    question_words = set(stems(question))
    focus = focus_word(question)
    years = bool(re.search(r"\b(when|year|years)\b", question.lower()))
    pool, seen = [], set()
    for index, text in enumerate(passages):
        found_here = [(sentence, set(stems(sentence)) & set(weights)) for _, sentence in sentences(text, letters=0.45)]
        for at, (sentence, have) in enumerate(found_here):
            if sentence in seen:
                continue
            seen.add(sentence)
            around = found_here[max(0, at - CONTEXT_BEFORE) : at] + found_here[at + 1 : at + 1 + CONTEXT_AFTER]
            pool.append((index, sentence, have, set().union(*(words for _, words in around))))
    frequency = Counter(s for _, _, have, _ in pool for s in have)
    rarity = {s: math.log(1 + len(pool) / (1 + frequency[s])) for s in weights}
    total = sum(weights[s] * rarity[s] * (1.0 if frequency[s] else ABSENT_WEIGHT) for s in own) or 1.0

    def covered(words: set[str]) -> float:
        return min(1.0, sum(weights[s] * rarity[s] for s in words) / total)

    pairs = _pairs(question)
    found = []
    for index, sentence, have, around in pool:
        # A sentence holding none of the question's words may still give the figure its
        # neighbour introduces ("The Winograd challenge ... . GPT-2 achieves 70.70%.").
        if not have and (kind == ANY or not around):
            continue
        if not (have | around) & own:
            continue  # only synonyms: a sentence about something else ("accuracy" for "score")
        coverage = (1 - CONTEXT_WEIGHT) * covered(have) + CONTEXT_WEIGHT * covered(have | around)
        strength = _strength(kind, sentence, set(weights), question_words, years, focus) if kind != ANY else 0.0
        score = coverage + KIND_BONUS * strength + PHRASE_BONUS * min(PHRASES, len(pairs & _pairs(sentence)))
        found.append(Candidate(index, sentence, coverage, strength > 0, score, covered(have | around)))
    found.sort(key=lambda c: (-c.score, c.passage))  # ties: the better-ranked passage
    return found


def lead_and_support(question: str, passages: list[str], support: int = 2) -> tuple[Candidate | None, list[Candidate]]:
    """The sentence that answers (or None) and up to ``support`` sentences that back it."""
    found = candidates(question, passages)
    kind = kind_of(question)
    answering = [c for c in found if max(c.coverage, c.reach) >= MIN_COVERAGE and (c.holds or kind == ANY)]
    if not answering:
        return None, []
    lead = answering[0]
    backing = [c for c in sorted(found, key=lambda c: (-c.coverage, c.passage)) if c is not lead and c.coverage >= MIN_COVERAGE]
    return lead, backing[:support]
