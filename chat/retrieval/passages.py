"""Ranking chunks by their best passage.

A chunk is 800 tokens, two or three pages of a paper; a question is usually answered by a
sentence or two. Ranked whole, a chunk that mentions the question's words here and there
beats the one where they stand together. So the database's full-text engine picks the
candidates, and each candidate is scored again by its best window of ``PASSAGE_CHARS``
characters (BM25 over all the candidates' windows, words reduced to their Snowball English
stems, the same stemmer family as PostgreSQL's ``english`` configuration and close to
FTS5's ``porter``). The chunk is still what is returned.
"""

from __future__ import annotations

import functools
import math
import re
from bisect import bisect_left
from collections import Counter

import snowballstemmer

# ~70 words of English (a few sentences); windows overlap by half so no pair of
# neighbouring sentences is cut apart.
PASSAGE_CHARS = 400
PASSAGE_STRIDE = 200
# BM25's usual constant for term-frequency saturation (windows have one length, so the
# length normalisation drops out).
K1 = 1.2

# pypdf keeps typographic ligatures ("ﬁlter"); unfolded so they match typed words.
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}


def unfold(text: str) -> str:
    for ligature, letters in _LIGATURES.items():
        if ligature in text:
            text = text.replace(ligature, letters)
    return text
_stemmer = snowballstemmer.stemmer("english")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@functools.lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    return _stemmer.stemWord(unfold(word.lower()))


def stems(text: str) -> list[str]:
    """The text's words, stemmed, in order."""
    return [stem(w) for w in _WORD.findall(text)]


def _matcher(stems: set[str]) -> re.Pattern:
    """Words that may stem to one of ``stems``: those starting with the stem (less its last
    letter, which stemming may have changed: "studies" -> "studi")."""
    prefixes = sorted({s[:-1] if len(s) > 3 else s for s in stems}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, prefixes)) + r")\w*", re.I)


def best_passage_scores(query_terms: dict[str, float], texts: dict[int, str]) -> dict[int, float]:
    """For each chunk id, the BM25 score of its best window of PASSAGE_CHARS against the
    query's terms (each term's score times its weight), document frequencies counted over
    all the windows of these chunks."""
    weight: dict[str, float] = {}
    for term, w in query_terms.items():
        weight[stem(term)] = max(w, weight.get(stem(term), 0.0))
    if not weight or not texts:
        return dict.fromkeys(texts, 0.0)
    matcher = _matcher(set(weight))
    counted: dict[int, list[Counter]] = {}
    frequency: Counter = Counter()
    for chunk_id, text in texts.items():
        text = unfold(text)
        hits = [(m.start(), stem(m.group())) for m in matcher.finditer(text)]
        hits = [(at, s) for at, s in hits if s in weight]
        offsets = [at for at, _ in hits]
        last_start = max(0, len(text) - PASSAGE_CHARS)
        counted[chunk_id] = []
        for start in [*range(0, last_start, PASSAGE_STRIDE), last_start]:
            inside = hits[bisect_left(offsets, start) : bisect_left(offsets, start + PASSAGE_CHARS)]
            counts = Counter(s for _, s in inside)
            counted[chunk_id].append(counts)
            frequency.update(counts.keys())
    total = sum(len(v) for v in counted.values())
    idf = {t: math.log(1 + (total - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in weight}
    return {
        chunk_id: max(sum(weight[t] * idf[t] * n * (K1 + 1) / (n + K1) for t, n in counts.items()) for counts in windows)
        for chunk_id, windows in counted.items()
    }
