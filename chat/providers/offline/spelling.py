"""Tolerating typos in the words the offline model recognises ("fibbonaci", "factoral").

Skills add their keywords to one vocabulary; :func:`correct` replaces a word of the
message that is not a keyword but is within a small Damerau-Levenshtein distance of
exactly one (an insertion, deletion, substitution or swap of neighbours counts 1).
Short words are left alone: at four letters every word is a typo of some other word.
"""

from __future__ import annotations

import functools
import re

_VOCABULARY: set[str] = set()
# English words a letter away from a keyword, which are not typos of it (no dictionary
# ships with the model; these are the ones its keywords come near).
_REAL_WORDS = {"prices", "primed", "primer", "prized", "solver", "expend"}
# A keyword with one of these after it is the keyword inflected ("solved", "factory").
_SUFFIXES = ("s", "es", "d", "ed", "ing", "y", "er", "ers")
_WORD = re.compile(r"[A-Za-z]{6,}")
MAX_WORD = 30  # longer "words" (hashes, base64) are not typos of a keyword
# Requests are short; the rest of a long message is left as written (bounds the work on
# hostile input: about a tenth of a second for this much text).
MAX_TEXT = 4000


def add_keywords(*words: str) -> None:
    _VOCABULARY.update(word.lower() for word in words)
    closest_keyword.cache_clear()


def allowed_distance(word: str) -> int:
    """Edits forgiven in a word this long: one from six letters, two from nine."""
    return 2 if len(word) >= 9 else 1 if len(word) >= 6 else 0


def distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (optimal string alignment), or limit + 1 once above it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before, row = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (ca != cb))
            if before is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]


@functools.lru_cache(maxsize=4096)
def closest_keyword(word: str) -> str | None:
    """The one keyword this word is a typo of, or None (a keyword itself, none, or two)."""
    lowered = word.lower()
    limit = allowed_distance(lowered)
    if lowered in _VOCABULARY or lowered in _REAL_WORDS or not limit or len(lowered) > MAX_WORD:
        return None
    if any(lowered == keyword + suffix or lowered + suffix == keyword for keyword in _VOCABULARY for suffix in _SUFFIXES):
        return None  # another form of a keyword ("solved", "square"): the skills' patterns decide
    found: dict[int, list[str]] = {}
    for keyword in _VOCABULARY:
        # Typos rarely touch the first letter; requiring it keeps "prices" from "primes" apart.
        if keyword[0] != lowered[0]:
            continue
        if (d := distance(lowered, keyword, limit)) <= limit:
            found.setdefault(d, []).append(keyword)
    if not found:
        return None
    best = found[min(found)]
    if len(best) > 1:  # "primse": prime or primes? Prefer the one of the same length, if one is.
        best = [keyword for keyword in best if len(keyword) == len(lowered)]
    return best[0] if len(best) == 1 else None


def correct(text: str) -> str:
    """The text with each recognisable misspelling of a keyword replaced by the keyword."""
    cut = len(text) if len(text) <= MAX_TEXT else max(text.rfind(" ", 0, MAX_TEXT), 0)  # not inside a word
    head, rest = text[:cut], text[cut:]
    return _WORD.sub(lambda match: closest_keyword(match.group(0)) or match.group(0), head) + rest
