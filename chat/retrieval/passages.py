"""Ranking chunks by their best passage.

A chunk is 800 tokens, two or three pages of a paper; a question is usually answered by a
sentence or two. Ranked whole, a chunk that mentions the question's words here and there
beats the one where they stand together. So the database's full-text engine picks the
candidates, and each candidate is scored again by its best window of ``PASSAGE_CHARS``
characters: BM25, a term's rarity counted over the candidates' windows, words reduced to
their Snowball English stems (the stemmer family of PostgreSQL's ``english`` configuration,
close to FTS5's ``porter``). The chunk is still what is returned.

Finding a query's words in the candidates is the costly part (a case-insensitive scan of
30 chunks' text per query): so each chunk stores, from ingest, where each stem of its
words stands (``term_index``), and a query reads only the lines of its own stems. Chunks
without it (tests, rows written by hand) are scanned as before; both give the same hits.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter

import snowballstemmer

# ~70 words of English: a few sentences.
PASSAGE_CHARS = 400
# BM25's usual constant for term-frequency saturation (windows have one length, so the
# length normalisation drops out).
K1 = 1.2

# Extraction NFKC-normalises ligatures; chunks indexed before it did still hold "ﬁlter".
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


# A word as the scan sees it: the run a match starting at a word boundary extends over.
_RUN = re.compile(r"\w+")
# The first line of a stored index: an index of another format is not read (the text is scanned).
TERMS_FORMAT = "#terms 1"  # no stem starts with "#"


def term_index(text: str) -> str:
    """Where each word's stem stands in ``text``: a line ``stem offset offset…`` per stem
    (offsets into the text with ligatures unfolded, as the scan sees it), after a line
    naming the format."""
    where: dict[str, list[int]] = {}
    for word in _RUN.finditer(unfold(text)):
        where.setdefault(stem(word.group()), []).append(word.start())
    return "\n".join([TERMS_FORMAT, *(f"{s} {' '.join(map(str, offsets))}" for s, offsets in where.items() if s)])


def _matcher(stems: set[str]) -> re.Pattern:
    """Words that may stem to one of ``stems``: those starting with the stem (less its last
    letter, which stemming may have changed: "studies" -> "studi")."""
    prefixes = sorted({s[:-1] if len(s) > 3 else s for s in stems}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, prefixes)) + r")\w*", re.I)


def _lookup(stems: set[str]) -> re.Pattern:
    """The lines of a stored ``term_index`` for ``stems``: (stem, its offsets)."""
    # From the newline, not ^ in MULTILINE mode: a pattern starting with a literal is
    # found by a fast scan for it, not tried at every character (half the time).
    return re.compile(r"\n(" + "|".join(map(re.escape, stems)) + r") ([^\n]*)")


# Small words a heading's title may hold between its capitalised ones.
_JOINING = ("and", "of", "for", "the", "to", "in", "on", "with", "vs")
# A numbered section heading, as extraction leaves it inline: "... tasks. 2.1. Training
# Dataset Most prior work ...". The title is the capitalised words after the number (small
# joining words allowed between them); the capitalised word that starts the section's first
# sentence ("The", "We") is not part of it. It starts the text, a line or follows a
# sentence's end (not "Figure 2. Results"), and is not a page number alone on its line (no
# newline inside).
_HEADING = re.compile(
    r"\d\d?(?:\.\d\d?){0,3}\.?[ \t]+"
    r"((?!(?:The|A|An|We|In|This|Our|It|As|To|For|Of|On)\b)[A-Z][\w’'-]*"
    r"(?:[ \t]+(?:(?!(?:The|A|An|We|In|This|Our|It|As|To|For|Of|On)\b)[A-Z][\w’'-]*|" + "|".join(_JOINING) + r"\.?)){0,7})"
    r"(?=\s+[\"“(]?[A-Z])"
)


# What may stand before a heading's number, past the spaces: a sentence's end or a line's.
_BEFORE_HEADING = (".", "!", "?", ":", "\n")


def headings(text: str) -> list[tuple[int, int, str]]:
    """(start, end, title) of each numbered section heading in ``text``, in order; a section
    runs from its heading to the next one. Cached by text: a chunk's headings are asked for
    by every query that ranks it, and by the answer that quotes it."""
    return list(_headings(text))


@functools.lru_cache(maxsize=1024)
def _headings(text: str) -> tuple[tuple[int, int, str], ...]:
    found = []
    # What stands before the number is checked here, not by a look-behind in the pattern:
    # a pattern starting with a digit is searched for fast (a scan for digits), which
    # cuts the cost of a query's 30 chunks from ~4 ms to ~1.
    for match in _HEADING.finditer(text):
        at = match.start()
        # Spaces before the number are passed over: a chunk is cut at a token's start and
        # a token carries its leading space, so a heading opening the chunk stands after it
        # (" 6.3 Parsing ...").
        before = at - 1
        while before >= 0 and text[before] in " \t":
            before -= 1
        if before < 0 or text[before] in _BEFORE_HEADING and (before < at - 1 or text[before] == "\n"):
            found.append((match.start(1), match.end(1), match.group(1)))
    return tuple(found)


# A section whose heading names what the question asks for ("Training Dataset" for "what
# dataset was it trained on?") is about it, whether or not each of its sentences repeats
# the words: every window of the section gains this many times the value of each of the
# question's terms in the title (times the share of the title's words that are the
# question's: "Text Memorization" is only half about "which text ..."). A heading holding
# only other words of the question ("Question Answering" for "what score does it get on
# conversational question answering?") is no such evidence: it names a neighbouring topic.
HEADING_WEIGHT = 2.0


def _in_names(hits: list[tuple[int, str]], text: str, names: dict[str, re.Pattern]) -> list[tuple[int, str]]:
    """The hits, less those of a name's number standing outside the name ("2" of "GPT-2"
    in "Table 2")."""
    where = {number: {m.end() - len(number) for m in pattern.finditer(text)} for number, pattern in names.items()}
    return [(at, s) for at, s in hits if s not in where or at in where[s]]


# A title is at most eight words: its number stands at most this many characters before a word of it.
TITLE_CHARS = 120
_NUMBER_THEN_SPACE = re.compile(r"\d\.?[ \t]")


def _may_head(text: str, hits: list[tuple[int, str]]) -> bool:
    """Whether one of the hits may stand in a heading's title: a capitalised word with a
    number not far before it. Finding the headings costs a scan of the text; most chunks of
    most queries are spared it."""
    if not hits:
        return False
    text = unfold(text)
    return any(text[at].isupper() and _NUMBER_THEN_SPACE.search(text, max(0, at - TITLE_CHARS), at) for at, _ in hits)


def _named(title: str, weight: dict[str, float], asked: set[str]) -> dict[str, float]:
    """{the query's stems in the title: the share of the title's words that are the
    query's}; empty unless the title holds one of ``asked`` (what the question asks for)."""
    words = [stem(w) for w in _WORD.findall(title) if w.lower() not in _JOINING]
    named = {s for s in words if s in weight}
    share = sum(w in weight for w in words) / max(1, len(words))
    return dict.fromkeys(named, share) if named & asked else {}


def _sections(text: str, weight: dict[str, float], asked: set[str]) -> list[tuple[int, int, dict[str, float]]]:
    """(start, end, ``_named`` of its title) of each heading in ``text`` (ligatures
    unfolded, as the hits' offsets are)."""
    return [(start, end, _named(title, weight, asked)) for start, end, title in headings(unfold(text))]


# How much of a chunk's start is looked for in the chunk before it, to find where it begins there.
_PROBE_CHARS = 80


def sections_at_start(texts: list[str]) -> list[str]:
    """For a document's chunks in order, the title of the section each one begins inside
    ("" before the first heading): a chunk that starts in the middle of "2.1. Training
    Dataset" is about the training data though it does not hold the heading. A heading
    counts for the next chunk if it stands before the point where that chunk begins in
    this one (chunks overlap); one inside the overlap is the next chunk's own."""
    titles, current = [], ""
    for text, following in zip(texts, [*texts[1:], None], strict=True):
        titles.append(current)
        if following is None:
            break
        begins = text.rfind(following[:_PROBE_CHARS]) if following.strip() else -1
        begins = len(text) if begins < 0 else begins
        current = next((title for start, _, title in reversed(headings(text)) if start < begins), current)
    return titles


# A question that names its subject ("the biggest GPT-2") is about the document that keeps
# naming it: a term found in most of one document's candidate chunks (and few of the
# others') adds this share of its value to each of that document's chunks, even to the one
# (a table) that does not repeat the name.
FOCUS_WEIGHT = 1.0
# A question asking for a figure is answered where a figure stands by its words: windows
# holding a number (not a year or a citation) count this much more.
NUMBER_BONUS = 0.25
_FIGURE = re.compile(r"(?<![\w.])(?!(?:19|20)\d\d\b)\d[\d,.]*\b(?!\s*[\])])")
# A figure standing right by what is asked for says more than the topic's words around it:
# "from 512 to 1024 tokens" for "how many tokens …", "3.5 days" for "how long …" (its cue
# words). Such a window counts this much more (instead of NUMBER_BONUS for any figure).
BY_ASKED_BONUS = 0.4
# "By": within this many characters (two or three words) either side of the asked word.
BY_CHARS = 24


def _figure_by(text: str, hits: list[tuple[int, str]], start: int, end: int, focus: set[str]) -> bool:
    """Whether a figure stands by (before, or after the end of) a hit of ``focus`` between
    ``start`` and ``end``."""
    for at, s in hits:
        if start <= at < end and s in focus:
            word = _RUN.match(text, at)
            after = word.end() if word else at
            if _FIGURE.search(text, max(0, at - BY_CHARS), at) or _FIGURE.search(text, after, after + BY_CHARS):
                return True
    return False


def best_passage_scores(
    query_terms: dict[str, float], texts: dict[int, str], documents: dict[int, int] | None = None,
    numeric: bool = False,
) -> dict[int, float]:
    return {cid: score for cid, (score, _) in best_passages(query_terms, texts, documents, numeric).items()}


def best_passages(
    query_terms: dict[str, float], texts: dict[int, str], documents: dict[int, int] | None = None,
    numeric: bool = False, indexes: dict[int, str] | None = None, names: dict[str, re.Pattern] | None = None,
    asked: set[str] | None = None, opening: dict[int, str] | None = None,
    focus: set[str] | None = None,
) -> dict[int, tuple[float, str]]:
    """For each chunk id, (score, the start of its best window's text): the BM25 score of its best window of PASSAGE_CHARS (a window
    starts at each occurrence of a query word) against the query's terms, each term's
    score times its weight; a term's rarity is counted over these chunks. ``documents``
    (chunk id -> document id) adds each document's focus on the query's terms;
    ``numeric`` favours windows that hold a figure; ``indexes`` (chunk id -> its stored
    ``term_index``) spares scanning those chunks' text; ``opening`` (chunk id -> the title
    of the section it begins inside, ``sections_at_start``) is the heading of its windows
    before its own first heading; with ``numeric``, ``focus`` (stems of what a figure
    question asks for and of the words that stand by its kind of answer) favours windows
    where a figure stands right by one of them."""
    weight: dict[str, float] = {}
    for term, w in query_terms.items():
        weight[stem(term)] = max(w, weight.get(stem(term), 0.0))
    if not weight or not texts:
        return dict.fromkeys(texts, (0.0, ""))
    matcher = _matcher(set(weight))
    # Only stems that are one word can be looked up (any other is a scan's corner case).
    lookup = _lookup(set(weight)) if indexes and all(_RUN.fullmatch(s) for s in weight) else None
    found: dict[int, list[tuple[int, str]]] = {}
    # Rarity: in how many of the candidates' windows (a grid of PASSAGE_CHARS windows,
    # half overlapping) each term occurs.
    windows: set[tuple[int, int, str]] = set()
    total = 0
    half = PASSAGE_CHARS // 2
    for chunk_id, text in texts.items():
        index = (indexes.get(chunk_id) or "") if lookup else ""
        if index.partition("\n")[0] == TERMS_FORMAT:
            # The words with one of our stems, where the scan would match them: at a word
            # that starts like one of the stems.
            unfolded = unfold(text)
            found[chunk_id] = sorted(
                (at, line[1]) for line in lookup.finditer(index) for at in map(int, line[2].split())
                if matcher.match(unfolded, at)
            )
        else:
            hits = [(m.start(), stem(m.group())) for m in matcher.finditer(unfold(text))]
            found[chunk_id] = [(at, s) for at, s in hits if s in weight]
        if names:
            found[chunk_id] = _in_names(found[chunk_id], unfold(text), names)
        for at, s in found[chunk_id]:
            windows.add((chunk_id, at // half, s))
            windows.add((chunk_id, at // half - 1, s))
        total += max(1, -(-len(text) // half) - 1)
    frequency = Counter(s for _, _, s in windows)
    value = {t: weight[t] * math.log(1 + (total - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in weight}
    # A term's score in a window holding it n times, by n: worked out once per query.
    most = Counter(s for hits in found.values() for _, s in hits)
    gain = {s: [value[s] * n * (K1 + 1) / (n + K1) for n in range(most[s] + 1)] for s in weight}
    scores, where = {}, {}
    for chunk_id, hits in found.items():
        # The section the chunk begins inside runs to the chunk's first heading: the text is
        # scanned for its headings when that section's title names what is asked.
        begun = _named(opening[chunk_id], weight, asked or set()) if opening and opening.get(chunk_id) else {}
        sections = _sections(texts[chunk_id], weight, asked or set()) if begun or _may_head(texts[chunk_id], hits) else []
        if begun:
            sections.insert(0, (-1, -1, begun))
        # The words of a heading that names what is asked count through the heading, not
        # again as the window's (its number still counts: "2" of "2.1." is no title word);
        # any other heading's words count as the window's own.
        inside = {at for at, _ in hits if any(start <= at < end for start, end, named in sections if named)}
        # The window slides from one hit to the next: counts are kept, not rebuilt.
        windows, end = [], 0
        counts: dict[str, int] = {}
        for start, (at, _) in enumerate(hits):
            while end < len(hits) and hits[end][0] < at + PASSAGE_CHARS:
                if hits[end][0] not in inside:
                    counts[hits[end][1]] = counts.get(hits[end][1], 0) + 1
                end += 1
            titled = next((named for begin, _, named in reversed(sections) if begin <= at), {})
            score = math.fsum([gain[s][n] for s, n in counts.items() if n])
            windows.append((score + HEADING_WEIGHT * math.fsum([value[s] * share for s, share in titled.items()]), at))
            if at not in inside:
                counts[hits[start][1]] -= 1
        best, best_at = max(windows, default=(0.0, 0))
        if numeric:
            # Best first, and only while a figure could still change the best: most
            # windows are never scanned for one.
            top = BY_ASKED_BONUS if focus else NUMBER_BONUS
            text = unfold(texts[chunk_id])
            for score, at in sorted(windows, reverse=True):
                if score * (1 + top) <= best:
                    break
                start, end = max(0, at - PASSAGE_CHARS // 4), at + PASSAGE_CHARS
                if focus and _figure_by(text, hits, start, end, focus):
                    bonus = BY_ASKED_BONUS
                elif _FIGURE.search(text, start, end):
                    bonus = NUMBER_BONUS
                else:
                    continue
                if score * (1 + bonus) > best:
                    best, best_at = score * (1 + bonus), at
        scores[chunk_id] = best
        # Its first quarter: enough to tell a repeated caption or an overlap's copy from
        # another passage, not so much that the text after a repeat makes it look new.
        where[chunk_id] = " ".join(texts[chunk_id][best_at:best_at + PASSAGE_CHARS // 4].split()) if best else ""
    if documents:
        for chunk_id, bonus in _focus(found, documents, value).items():
            scores[chunk_id] += bonus
    return {chunk_id: (scores.get(chunk_id, 0.0), where.get(chunk_id, "")) for chunk_id in texts}


def _focus(found: dict[int, list[tuple[int, str]]], documents: dict[int, int], value: dict[str, float]) -> dict[int, float]:
    """Each chunk's share of its document's focus: for every term, the share of the
    document's candidate chunks holding it less the share of the other candidates holding
    it, times the term's value."""
    per_document: dict[int, list[set[str]]] = {}
    for chunk_id, hits in found.items():
        per_document.setdefault(documents.get(chunk_id, 0), []).append({s for _, s in hits})
    if len(per_document) < 2:
        return {}
    everywhere = [have for chunks in per_document.values() for have in chunks]
    holding = Counter(term for have in everywhere for term in have)
    bonus = {}
    for document, chunks in per_document.items():
        holding_here = Counter(term for have in chunks for term in have)
        total = 0.0
        for term, term_value in value.items():
            inside = holding_here[term] / len(chunks)
            outside_chunks = len(everywhere) - len(chunks)
            outside = (holding[term] - inside * len(chunks)) / max(1, outside_chunks)
            total += term_value * max(0.0, inside - outside)
        bonus[document] = FOCUS_WEIGHT * total
    return {chunk_id: bonus[documents.get(chunk_id, 0)] for chunk_id in found}
