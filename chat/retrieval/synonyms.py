"""Words a student uses for what course material calls something else.

A small, general list (no paper's terms, no answers): everyday words for the vocabulary of
papers, textbooks and lecture notes. Each group's words stand in for each other; a query
word also searches for the rest of its group, at a lower weight than the word itself
(``SYNONYM_WEIGHT``), so a passage that uses the student's own word still ranks first.
Matching is on Snowball stems, so "biggest" finds "largest" and "larger" too.
"""

from __future__ import annotations

import functools
import re

from chat.retrieval.passages import stem

SYNONYM_WEIGHT = 0.5

GROUPS = [
    "big large huge biggest largest",
    "small little tiny smallest",
    "stop prevent block",
    "later subsequent following",
    "earlier previous preceding prior",
    "leave omit exclude remove",
    "score accuracy performance",
    "gigabytes gb",
    "megabytes mb",
    "corpus dataset",
    "word token",
    "mistake error",
]
# One-way: a student's general word for what papers write out in particular terms.
RELATED = {
    "math": ("probability", "equation", "conditional", "distribution"),
    "maths": ("probability", "equation"),
    "formula": ("equation",),
}


# British spellings a student may type; papers mostly use the American ones.
_BRITISH = re.compile(r"(?<=\w{3})is(e|es|ed|er|ers|ing|ation|ations)$")


@functools.cache
def _table() -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for group in GROUPS:
        words = group.split()
        for word in words:
            table.setdefault(stem(word), []).extend(w for w in words if stem(w) != stem(word))
    for word, related in RELATED.items():
        table.setdefault(stem(word), []).extend(related)
    return {key: tuple(dict.fromkeys(words)) for key, words in table.items()}


def weighted(words: list[str]) -> dict[str, float]:
    """The query's words at weight 1, their synonyms at ``SYNONYM_WEIGHT``."""
    weights = dict.fromkeys(words, 1.0)
    for word in words:
        weights.setdefault(_BRITISH.sub(r"iz\1", word), 1.0)
    for word in words:
        for other in _table().get(stem(word), ()):
            weights.setdefault(other, SYNONYM_WEIGHT)
    return weights
