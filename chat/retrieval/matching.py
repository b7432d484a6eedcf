"""Which of a question's words a text holds, and how fully, for the offline model's choice
of the sentence that answers (``answers``).

A word of the question is held by its Snowball stem, by a word sharing a long beginning
("normalization" for "norm"), by an acronym the passages define for its words, by two of its
words written as one ("batchsize"), by a short name spelled from its words ("FLOPs"), or by a
dimension's symbol ("dmodel"). A few question words are held by what a text states rather
than says: "at least 3" holds "minimum", "each training step" holds "single", "8:15 am"
holds "time".
"""

from __future__ import annotations

import functools
import itertools
import re

from chat.retrieval import synonyms
from chat.retrieval.passages import stem, stems
from chat.retrieval.search import STOPWORDS

# How much a word of the sentence that only shares its beginning with a question word
# counts ("normalization" for "norm", "accuracy" for "accurate"), and how long that
# beginning must be.
PREFIX_FACTOR, PREFIX_LETTERS = 0.5, 4


_ABBREVIATION = re.compile(r"\b[A-Z]{3,5}\b")
# "Wall Street Journal (WSJ)": an acronym defined in the passages stands for its words.
_DEFINED_ACRONYM = re.compile(r"((?:[A-Z][\w’'-]*\s+){1,5})\(([A-Z][A-Za-z]{1,5})\)")


# A dimension's symbol as a PDF's text leaves it, its subscript run on: "dmodel", "dk",
# "d_ff". It stands for the words "dimension" (or size, width) and its subscript's word.
_DIMENSION_SYMBOL = re.compile(r"\bd_?(model|ff|k|q|v|hidden|inner|emb|embed|head)\b")
_SUBSCRIPT_WORDS = {
    "k": "key",
    "q": "query",
    "v": "value",
    "ff": "feed forward",
    "emb": "embedding",
    "embed": "embedding",
}
_DIMENSION_WORDS = frozenset(stem(w) for w in ("dimension", "dimensions", "dimensionality", "size", "width"))


@functools.lru_cache(maxsize=64)
def symbol_stems(token: str) -> frozenset[str]:
    """The stems a dimension's symbol stands for ("dk" → dimension, size, width, key); empty for any other token."""
    match = _DIMENSION_SYMBOL.fullmatch(token)
    if not match:
        return frozenset()
    subscript = match.group(1)
    return _DIMENSION_WORDS | {stem(w) for w in _SUBSCRIPT_WORDS.get(subscript, subscript).split()}


def _stem_of(token: str) -> str:
    return stem(token.rstrip("%"))


# "At least 3 karma" states a minimum, "at most 512 tokens" a maximum, in other words than
# the question's "minimum"/"maximum".
_BOUNDS = {
    stem("minimum"): re.compile(r"\b(?:at least|no fewer than|no less than|not less than)\s+\d", re.IGNORECASE),
    stem("maximum"): re.compile(r"\b(?:at most|up to|no more than|not more than)\s+\d", re.IGNORECASE),
}


def _bounds(text: str, weights: dict[str, float]) -> dict[str, float]:
    """The question's "minimum"/"maximum" stems that the text states a figure as, in other words."""
    return {bound: 1.0 for bound, pattern in _BOUNDS.items() if bound in weights and pattern.search(text)}


# "GPT-2 no hint", "trained without dropout": a word right after "no" or "without" is what
# the thing lacks; asked about the thing with it ("with the task hint"), it covers nothing.
_NEGATED_WORD = re.compile(r"\b(?:no|without)\s+[^\W\d_]+", re.IGNORECASE)


def _unsaid(text: str) -> str:
    """The text less the words it says are missing ("no hint")."""
    # Most sentences say neither word: looking for them first is cheaper than the pattern.
    if "no" not in text and "No" not in text and "ithout" not in text:
        return text
    return _NEGATED_WORD.sub(" ", text)


# "A single update" in the question, "each training step" in the sentence: the same one-by-one
# item, said with another word; the question's "single" (or "individual") is covered by it.
_ONE_BY_ONE = re.compile(r"\b(?:each|every|per)\s+([a-z][a-z-]+)(?:\s+([a-z][a-z-]+))?", re.IGNORECASE)
_ONE = frozenset(stem(w) for w in ("single", "individual"))


def _one_by_one(text: str, items: frozenset[str], ones: set[str]) -> dict[str, float]:
    """The question's "single"/"individual" stems (``ones``), covered when the text gives a
    figure for each of the ``items`` the question counts per; else nothing."""
    # The item may follow a word that says which ("each training step").
    if ones and items and any(stem(w) in items for m in _ONE_BY_ONE.finditer(text) for w in m.groups() if w):
        return dict.fromkeys(ones, 1.0)
    return {}


_CLOCK = re.compile(
    r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?:\s?[ap]\.?m\b\.?)?"
    r"|\b(?:1[0-2]|0?[1-9])(?:\.[0-5]\d)?\s?[ap]\.?m\b\.?|\b(?:1[0-2]|[1-9]) o['’]clock\b|\b(?:noon|midday|midnight)\b",
    re.IGNORECASE,
)
_TIME_WORDS = frozenset(stem(w) for w in ("time", "hour"))


def _clock_said(text: str, weights: dict[str, float]) -> dict[str, float]:
    """The question's "time" (or "hour") stem, covered when the text states a time of day:
    "leaves at 8:15 am" says what time as surely as the word would; else nothing."""
    return dict.fromkeys(_TIME_WORDS & set(weights), 1.0) if _CLOCK.search(text) else {}


def _acronyms(passages: list[str]) -> dict[str, set[str]]:
    """Acronyms the passages define ("Children’s Book Test (CBT)") and the stems of the
    words they stand for."""
    found: dict[str, set[str]] = {}
    for text in passages:
        for match in _DEFINED_ACRONYM.finditer(text):
            words = match.group(1).split()
            letters = match.group(2).upper()
            words = words[-len(letters) :]
            if "".join(w[0] for w in words).upper() == letters:
                found[stem(letters)] = {stem(w) for w in re.findall(r"[^\W_]+", " ".join(words))}
    return found


class _Matcher:
    """Which of the question's stems a sentence holds, and how fully: the stem itself, a
    word sharing its first PREFIX_LETTERS+ letters ("normalization" for "norm") at
    PREFIX_FACTOR, an acronym the passages define for words of the question, two of its
    words written as one."""

    def __init__(
        self,
        weights: dict[str, float],
        acronyms: dict[str, set[str]],
        compounds: dict[str, set[str]],
        names: dict[str, re.Pattern] | None = None,
        ordered: list[str] | None = None,
    ):
        self.weights = weights
        self.ordered = [w for w in ordered or [] if w.isalpha()]
        self.spelled_cache: dict[str, dict[str, float]] = {}
        self.names = names or {}
        self.compounds = compounds
        self.long = [q for q in weights if len(q) >= PREFIX_LETTERS and not q.isdigit()]
        self.acronyms = {a: words & set(weights) for a, words in acronyms.items() if words & set(weights)}
        self.cache: dict[str, dict[str, float]] = {}

    def of_word(self, word: str) -> dict[str, float]:
        if word not in self.cache:
            got: dict[str, float] = {}
            if word in self.weights:
                got[word] = 1.0
            elif word in self.acronyms:
                got.update(dict.fromkeys(self.acronyms[word], 1.0))
            elif word in self.compounds:
                got.update(dict.fromkeys(self.compounds[word], 1.0))
            elif len(word) >= PREFIX_LETTERS and not word.isdigit():
                for q in self.long:
                    if word.startswith(q) or q.startswith(word):
                        got[q] = PREFIX_FACTOR
            self.cache[word] = got
        return self.cache[word]

    def __call__(self, text: str) -> dict[str, float]:
        got: dict[str, float] = {}
        words = set(stems(text))
        bases = synonyms.verb_bases()
        if not words.isdisjoint(bases):
            words = {bases.get(w, w) for w in words}
        for word in words:
            if word in self.names and not self.names[word].search(text):
                continue  # "2" of "GPT-2" in "WikiText-2"
            for q, factor in self.of_word(word).items():
                got[q] = max(factor, got.get(q, 0.0))
        # A dimension's symbol stands for its words: "dmodel" for "model dimension".
        for word in set(_DIMENSION_SYMBOL.findall(text)):
            for q in symbol_stems("d" + word) & set(self.weights):
                got[q] = max(1.0, got.get(q, 0.0))
        # A short name spelled from the question's words: "FLOPs", "ConvS2S".
        for word in set(_SPELLED.findall(text)):
            for q, factor in self.spelled(word).items():
                got[q] = max(factor, got.get(q, 0.0))
        # An abbreviation in capitals stands for the word it begins: "<UNK>" for "unknown".
        for word in set(_ABBREVIATION.findall(text)):
            for q in self.long:
                if q.startswith(word.lower()):
                    got[q] = max(PREFIX_FACTOR, got.get(q, 0.0))
        return got

    def spelled(self, token: str) -> dict[str, float]:
        """The question's words a short name is spelled from: pieces that begin neighbouring
        words, in order ("FL"oating "OP"erations → FLOPs, one word may be passed over),
        "2" for "to" and a plural "s" free ("Conv" "S" "2" "S" → convolutional
        sequence-to-sequence)."""
        if token not in self.spelled_cache:
            found = _spell(token.lower(), self.ordered, 0, False, first=True)
            self.spelled_cache[token] = (
                {stem(w): 1.0 for w in found if stem(w) in self.weights} if found and len(set(found)) >= 2 else {}
            )
        return self.spelled_cache[token]


# A mixed-case or digit-joined short name: "FLOPs", "ConvS2S", "dModel"; not a plain word.
_SPELLED = re.compile(r"\b(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])[A-Za-z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*\b")


def _spell(rest: str, words: list[str], at: int, skipped: bool, first: bool = False) -> list[str] | None:
    if not rest or (rest == "s" and not first):
        return []
    if rest[0] == "2" and not first:
        return _spell(rest[1:], words, at, skipped)
    # The first piece may begin any word; each next one the next word, or the one after it once.
    end = len(words) if first else min(len(words), at + (1 if skipped else 2))
    for i in range(at, end):
        word = words[i]
        # The first piece has two letters at least: "LMs" spells nothing from "large model".
        for n in range(min(len(word), len(rest)), 1 if first else 0, -1):
            if rest[:n] == word[:n]:
                tail = _spell(rest[n:], words, i + 1, skipped or (i > at and not first))
                if tail is not None:
                    return [word, *tail]
    return None


def _union(*matches: dict[str, float]) -> dict[str, float]:
    got: dict[str, float] = {}
    for match in matches:
        for q, factor in match.items():
            got[q] = max(factor, got.get(q, 0.0))
    return got


def _pairs(text: str) -> set[tuple[str, str]]:
    """Neighbouring content words of the text, stemmed."""
    words = [stem(w) for w in terms_in_order(text)]
    return set(itertools.pairwise(words))


def terms_in_order(text: str) -> list[str]:
    """The text's words in order, question words and stopwords left out (repeats kept)."""
    return [w.lower() for w in _WORDS.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]


_WORDS = re.compile(r"[^\W_]+")
