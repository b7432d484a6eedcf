"""Sentences at a passage's edges, for the offline model's sentence choice (``answers``):
chunks overlap and are cut mid-sentence, so a sentence cut at one passage's edge is
completed from an overlapping passage of the same file, or left out when an earlier passage
holds it whole; and extraction may glue a section's title to its first sentence.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from dataclasses import dataclass

from chat.retrieval.quotes import LONGEST, SENTENCE


def _without(sentence: str, offset: int, title: tuple[int, int, str] | None) -> str:
    """The sentence less its section's title, when extraction glued the title to it; the
    word after a title that started the sentence starts it again ("Conclusion When a
    model …": "When" is no name)."""
    if title is None or not offset <= title[0] < offset + len(sentence):
        return sentence
    return (sentence[: title[0] - offset] + " " + sentence[title[1] - offset :]).strip()


def _cut_from(sentence: str, earlier: list[str]) -> bool:
    """Whether a passage's first or last "sentence" is a piece of one an earlier passage
    holds whole: overlapping chunks cut sentences, and a cut one ("0.5, step_num · …", the
    end of "d−0.5") reads as holding figures it does not."""
    piece = " ".join(sentence.split())
    return any(piece in " ".join(text.split()) for text in earlier)


# How much of a passage's edge is looked for in another passage of its file, to find where
# the two overlap.
_PROBE_CHARS = 80


@dataclass(frozen=True)
class _Completed:
    """A passage whose edge sentences were completed from overlapping passages: its text,
    where its own text starts and ends in it, and the passages holding the completed
    sentences whole (None: not completed at that edge)."""

    text: str
    start: int
    end: int
    before: int | None = None
    after: int | None = None


def _sentence_around(text: str, at: int) -> tuple[int, int] | None:
    """(start, end) of the sentence of ``text`` that runs across ``at`` (starts before it,
    ends after). The sentence pattern alone: the letters are counted when it is quoted."""
    for match in SENTENCE.finditer(text):
        if match.start() >= at:
            break
        if at < match.end() and match.end() - match.start() <= LONGEST:
            return match.start(), match.end()
    return None


def complete_edges(index: int, passages: list[str], files: list[str]) -> _Completed:
    """Passage ``index`` with the sentence cut at each of its edges completed from another
    passage of the same file that overlaps it (chunks overlap, so the neighbouring chunk
    holds a cut sentence whole when it is among the results)."""
    text = passages[index]
    completed = _Completed(text, 0, len(text))
    if len(text) < _PROBE_CHARS:
        return completed
    head, tail = text[:_PROBE_CHARS], text[-_PROBE_CHARS:]
    prefix = suffix = ""
    before = after = None
    for other, other_text in enumerate(passages):
        if other == index or files[other] != files[index] or len(other_text) < _PROBE_CHARS:
            continue
        if before is None:
            at = other_text.find(head)
            around = _sentence_around(other_text, at) if at > 0 else None
            if around:
                prefix, before = other_text[around[0] : at], other
        if after is None:
            at = other_text.find(tail)
            end = at + len(tail)
            around = _sentence_around(other_text, end) if 0 <= at and end < len(other_text) else None
            if around:
                suffix, after = other_text[end : around[1]], other
    return _Completed(prefix + text + suffix, len(prefix), len(prefix) + len(text), before, after)


# A PDF's running header (the paper's title above every page) starts the text of each page,
# and a page starts after a blank line; extraction glues it into the sentence a page break
# cuts ("train a single model, the MQAN,\n\nLanguage Models are Unsupervised Multitask
# Learners to infer …"), which then reads as naming the title and not the MQAN.
_PAGE_START = re.compile(r"\n\n([^\n]+)")
# A header is this many words at least, half of them capitalised (a title, not "In this
# section"), and is looked for in a page start's first HEADER_MOST words.
HEADER_LEAST, HEADER_MOST = 3, 16
_SENTENCE_END = ".!?:"


def running_headers(passages: list[str], files: list[str] | None = None) -> dict[str, str]:
    """File -> the running header its passages show: the longest run of title words that
    starts two or more different page starts of the file, then goes on differently."""
    starts: dict[str, set[tuple[str, ...]]] = {}
    for text, file in zip(passages, files or [""] * len(passages), strict=True):
        for match in _PAGE_START.finditer(text):
            starts.setdefault(file, set()).add(tuple(match.group(1).split()[:HEADER_MOST]))
    found = {}
    for file, heads in starts.items():
        shared = Counter()
        for a, b in itertools.combinations(heads, 2):
            common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            # One page start holding the other whole is the same page cut at a passage's end.
            if common < min(len(a), len(b)) and common >= HEADER_LEAST and _titled(a[:common]):
                shared[a[:common]] += 1
        if shared:
            header = max(shared, key=lambda words: (shared[words], len(words)))
            found[file] = " ".join(header)
    return found


def _titled(words: tuple[str, ...]) -> bool:
    return 2 * sum(w[:1].isupper() for w in words) >= len(words)


def without_headers(passages: list[str], files: list[str] | None = None) -> list[str]:
    """The passages less their file's running header at each page start: a sentence the
    page break cut mid-way (no full stop before the break, a small letter after the header)
    is joined again; elsewhere the page break stays."""
    headers = running_headers(passages, files)
    if not headers:
        return passages
    cleaned = []
    for text, file in zip(passages, files or [""] * len(passages), strict=True):
        header = headers.get(file)
        if header and "\n\n" + header in text:
            text = re.sub(r"\n\n" + re.escape(header) + r"(?:\s+|$)", functools.partial(_unglued, text), text)
        cleaned.append(text)
    return cleaned


def _unglued(text: str, match: re.Match) -> str:
    before, after = text[: match.start()].rstrip(), text[match.end() : match.end() + 1]
    return " " if before and before[-1] not in _SENTENCE_END and after.islower() else "\n\n"
