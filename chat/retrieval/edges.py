"""Sentences at a passage's edges, for the offline model's sentence choice (``answers``):
chunks overlap and are cut mid-sentence, so a sentence cut at one passage's edge is
completed from an overlapping passage of the same file, or left out when an earlier passage
holds it whole; and extraction may glue a section's title to its first sentence.
"""

from __future__ import annotations

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
