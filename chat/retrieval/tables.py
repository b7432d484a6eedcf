"""A table's rows in PDF text, so a figure in a table can be quoted with what it is.

PDF extraction flattens a table into one run of words and figures with no line breaks:
"Table 2: The Transformer achieves ... Model BLEU EN-DE EN-FR ByteNet [18] 23.75
GNMT + RL [38] 24.6 39.92 ... Transformer (big) 28.4 41.8 2.3 · 1019 Residual Dropout We
apply ...". As sentences that run is too long to quote and holds every row's figures.
Read as a table it is a header, then rows, each a short label (a few words, no sentence's
end, hardly any function words) followed by its cells (figures, "2.3 · 1019", "117M");
a row ends where its figures end and the next label starts, and the table ends at the first
run of words that cannot be a label (prose again). A table whose first column is itself a
figure with a unit ("117M 12 768 345M 24 1024") starts a row at each such figure.

A row is quoted as an extract, never rewritten: the table's caption (its first sentence),
the header and the row, each as it stands in the text and in the text's order, joined by
" … " where text between them is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chat.retrieval.search import STOPWORDS

# A cell: a figure as tables print them ("28.4", "2,048", "63.24%", "100K", "−0.5"), or "-"
# for an empty one. A figure followed by punctuation ("2.8,") belongs to a sentence.
_CELL = re.compile(r"[-−+±]?(?:\d[\d,]*\d|\d)(?:\.\d+)?(?:[KMBG%]|×10\d*)?|[-–—]")
# Joins two figures into one cell: "2.3 · 1019", "4.1 ± 0.2", "3 × 10".
_JOINERS = frozenset("·×±/")
# A first-column figure with a unit: "117M", "1542M", "100K"; two or more in one run of
# figures mean each starts a row.
_ROW_KEY = re.compile(r"\d+(?:\.\d+)?[KMB]")
# A word ending a sentence ("training.", "it?"); "al." and "et al." do not.
_SENTENCE_END = re.compile(r"(?<!\bal)(?<!\bvs)(?<!\be\.g)(?<!\bi\.e)[.!?]$")
# "Table 2:" or "Table 3." starts a caption.
_CAPTION = re.compile(r"\bTable \d+[:.]\s")
_SENTENCE_STOP = re.compile(r"(?<!\bal)(?<!\bvs)[.!?](?=\s)")
_WORD_BEFORE = re.compile(r"(\w+)\s+$")
_REFERRING = STOPWORDS | {"see", "cf", "also"}
# A label is at most this many words, with at most LABEL_STOPWORDS function words ("WSJ
# only, discriminative"); prose ("from 512 to 1024 tokens and a larger batch of 512") has
# more, or has them in most of its "labels".
MAX_LABEL, LABEL_STOPWORDS = 10, 2
# A table has at least this many rows and figures: two rows of one figure are a sentence's.
MIN_ROWS, MIN_CELLS = 3, 4
# Two rows will do when each has this many cells ("Dataset train 2.67% 0.66% 7.50% ...").
WIDE = 3
# At most this many words of header are quoted before a row (a header may be glued to the
# prose before it, and only the words right before the first row are the table's).
HEADER_WORDS = 14
# A caption after the table stands at most this many characters after its last row; one
# before it starts at most 2 × MAX_CAPTION characters before the header (a long caption
# may hold figures of its own: "Results are on Section 23"). Captions are quoted up to
# their first sentence's end, at most MAX_CAPTION characters.
CAPTION_GAP = 3
MAX_CAPTION = 300
SEPARATOR = " … "


@dataclass(frozen=True)
class Row:
    start: int  # of the row's label (or of its first cell), in the text
    end: int  # of its last cell
    quote: str  # what is quoted: caption, header and row, joined by SEPARATOR
    own: str  # the row alone (label and cells)
    context: str  # the caption and header (what the row's figures measure)
    table: tuple[int, int]  # the span of the whole table: header to last row
    # "max" or "min" for the row of the largest or smallest key, in a table whose rows are
    # keyed by a figure with a unit ("117M" ... "1542M").
    extreme: str = ""
    # The header and the row: the cells read under their column names ("Parameters Layers
    # dmodel 1542M 48 1600"), as the page shows them.
    read: str = ""


# A caption's subject: its first name ("Table 4: The Transformer generalizes ...").
_SUBJECT = re.compile(r"Table \d+[:.]\s+(?:(?:The|A|An|Our)\s+)?([A-Z][\w-]+)")
_UNITS = {"K": 1e3, "M": 1e6, "B": 1e9}
_LARGEST = frozenset("biggest largest highest deepest widest".split())
_SMALLEST = frozenset("smallest least lowest fewest shallowest".split())


def _magnitude(key: str) -> float:
    return float(key[:-1]) * _UNITS[key[-1]]


def extreme_asked(question: str) -> tuple[str, set[str]]:
    """("max" or "min" or "", the words asking it): "the biggest model", "the smallest"."""
    words = set(re.findall(r"[a-z]+", question.lower()))
    if words & _LARGEST:
        return "max", words & _LARGEST
    if words & _SMALLEST:
        return "min", words & _SMALLEST
    return "", set()


def _is_cell(token: str) -> bool:
    return bool(_CELL.fullmatch(token))


def _tokens(text: str) -> list[re.Match]:
    return list(re.finditer(r"\S+", text))


def _runs(tokens: list[re.Match]) -> list[tuple[bool, int, int]]:
    """(cells?, first, last+1) token runs: alternating words and figures; a joiner between
    two figures is part of the figures."""
    kinds = [_is_cell(t.group(0)) for t in tokens]
    for i in range(1, len(tokens) - 1):
        if tokens[i].group(0) in _JOINERS and kinds[i - 1] and kinds[i + 1]:
            kinds[i] = True
    runs: list[tuple[bool, int, int]] = []
    for i, kind in enumerate(kinds):
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, runs[-1][1], i + 1)
        else:
            runs.append((kind, i, i + 1))
    return runs


def _is_label(words: list[str]) -> bool:
    if not 1 <= len(words) <= MAX_LABEL:
        return False
    if any(_SENTENCE_END.search(w) and len(w) > 2 for w in words) or _CAPTION.search(" ".join(words) + " "):
        return False
    return sum(w.lower().strip("(),;:") in STOPWORDS for w in words) <= LABEL_STOPWORDS


def _has_stopword(words: list[str]) -> bool:
    return any(w.lower().strip("(),;:") in STOPWORDS for w in words)


def _split_cells(tokens: list[re.Match], first: int, last: int) -> list[tuple[int, int]]:
    """A run of figures as rows: split before each first-column figure with a unit when
    there are two or more of them, else one row."""
    keys = [i for i in range(first, last) if _ROW_KEY.fullmatch(tokens[i].group(0))]
    if len(keys) < 2 or any(b - a < 2 for a, b in zip(keys, keys[1:], strict=False)):
        return [(first, last)]
    bounds = ([first] if keys[0] != first else []) + keys + [last]
    return list(zip(bounds, bounds[1:], strict=False))


def _caption(text: str, start: int, end: int, limit: int) -> tuple[int, int] | None:
    """The span of the first sentence of the last caption starting in text[start:end]; "in
    Table 2." is a reference to one. It ends by ``limit`` (where the table's header starts)."""
    found = None
    for match in _CAPTION.finditer(text, start, end):
        before = _WORD_BEFORE.search(text, 0, match.start())
        if not (before and before.group(1).lower() in _REFERRING):
            found = match
    if found is None:
        return None
    limit = min(len(text), found.start() + MAX_CAPTION, limit)
    stop = _SENTENCE_STOP.search(text, found.end(), limit)
    return found.start(), stop.end() if stop else limit


def rows(text: str) -> list[Row]:
    """Every row of every table in the text, in order."""
    tokens = _tokens(text)
    runs = _runs(tokens)
    found: list[Row] = []
    # A table: a run of words (caption, header and the first row's label, glued to the
    # prose before them), its figures, then (label, figures) pairs while labels look like labels.
    i = 0
    while i < len(runs):
        if runs[i][0] or i + 1 >= len(runs):
            i += 1
            continue
        # runs[i] is words, runs[i + 1] figures: the lead; then pairs while they are rows.
        pairs = [(i, i + 1)]
        j = i + 2
        while j + 1 < len(runs) and _is_label([t.group(0) for t in tokens[runs[j][1] : runs[j][2]]]):
            pairs.append((j, j + 1))
            j += 2
        labels = [[t.group(0) for t in tokens[runs[w][1] : runs[w][2]]] for w, _ in pairs[1:]]
        count = sum(len(_split_cells(tokens, runs[c][1], runs[c][2])) for _, c in pairs)
        # Single digits are footnote marks and list numbers as often as cells ("Alec Radford * 1").
        cells = sum(len(tokens[k].group(0)) > 1 for _, c in pairs for k in range(runs[c][1], runs[c][2]))
        wide = all(runs[c][2] - runs[c][1] >= WIDE for _, c in pairs)
        if (
            (count < MIN_ROWS and not (count >= 2 and wide))
            or cells < MIN_CELLS
            or sum(map(_has_stopword, labels)) * 2 > len(labels)
        ):
            i += 1
            continue
        found += _table(text, tokens, runs, pairs)
        i = j
    return found


def _table(text: str, tokens: list[re.Match], runs, pairs) -> list[Row]:
    lead_words, lead_cells = runs[pairs[0][0]], runs[pairs[0][1]]
    # The header: the lead's last words, after the sentence that ends in it (a caption's or
    # the prose's), at most HEADER_WORDS.
    header_first = max(lead_words[1], lead_words[2] - HEADER_WORDS)
    for k in range(lead_words[2] - 1, header_first - 1, -1):
        if _SENTENCE_END.search(tokens[k].group(0)) and k + 1 < lead_words[2]:
            header_first = k + 1
            break
    start = tokens[header_first].start()
    end = tokens[runs[pairs[-1][1]][2] - 1].end()
    # The caption: before the header (in the lead, or a little before it when the caption
    # holds figures of its own: "Results are on Section 23"), or right after the last row.
    caption = _caption(text, max(0, start - 2 * MAX_CAPTION), start, start)
    if caption is None:
        after = _CAPTION.search(text, end, end + CAPTION_GAP + 12)
        caption = (
            _caption(text, after.start(), after.end(), len(text))
            if after and after.start() - end <= CAPTION_GAP
            else None
        )
    if caption and start <= caption[0] < end:
        caption = None
    header = (start, tokens[lead_words[2] - 1].end())
    spans: list[tuple[int, int]] = []
    # Rows keyed by a figure with a unit (model sizes "117M" ... "1542M"): which is the
    # largest and the smallest, for "the biggest model".
    keys = sorted(
        {
            k.group(0)
            for k in (_ROW_KEY.fullmatch(t.group(0)) for t in tokens[lead_cells[1] : runs[pairs[-1][1]][2]])
            if k
        },
        key=_magnitude,
    )
    keyed = len(_split_cells(tokens, lead_cells[1], lead_cells[2])) > 1 or any(
        len(_split_cells(tokens, runs[c][1], runs[c][2])) > 1 for _, c in pairs[1:]
    )
    # The first row's label cannot be told from the header: it is quoted with it.
    for first, last in _split_cells(tokens, lead_cells[1], lead_cells[2]):
        spans.append((start if not spans else tokens[first].start(), tokens[last - 1].end()))
    for words, figures in pairs[1:]:
        run = runs[figures]
        for n, (first, last) in enumerate(_split_cells(tokens, run[1], run[2])):
            label_start = tokens[runs[words][1]].start() if n == 0 else tokens[first].start()
            spans.append((label_start, tokens[last - 1].end()))
    # The first row's label is as long as the others' (the words before it are the header).
    widths = sorted(runs[w][2] - runs[w][1] for w, _ in pairs[1:])
    width = widths[len(widths) // 2] if widths else 0
    # In a table keyed by figures, a first row before the first key has a one-word label ("SOTA").
    first_key = bool(_ROW_KEY.fullmatch(tokens[lead_cells[1]].group(0)))
    width = (0 if first_key else 1) if keyed else width
    own_start = [tokens[max(header_first, lead_words[2] - width)].start()] if width else []
    found = []
    for n, (row_start, row_end) in enumerate(spans):
        pieces = [(row_start, row_end)]
        if row_start > header[1]:
            pieces.append(header)
        if caption:
            pieces.append(caption)
        pieces = _merged(text, sorted(pieces))
        quote = SEPARATOR.join(text[a:b] for a, b in pieces)
        context = " ".join(
            text[a:b] for a, b in [*([caption] if caption else []), header] if (a, b) != (row_start, row_end)
        )
        own_from = (own_start[0] if own_start else tokens[lead_cells[1]].start()) if n == 0 else row_start
        key = _ROW_KEY.match(text, own_from) if keyed else None
        extreme = ("max" if key.group(0) == keys[-1] else "min" if key.group(0) == keys[0] else "") if key else ""
        found.append(
            Row(
                row_start,
                row_end,
                quote,
                text[own_from:row_end],
                context,
                (start, end),
                extreme,
                text[header[0] : header[1]] + " " + text[own_from:row_end] if n else text[own_from:row_end],
            )
        )
    # A question that names no row asks of the caption's subject ("Table 4: The Transformer
    # generalizes well ..."): its rows come first, so they win a tie.
    subject = _SUBJECT.match(text, caption[0]) if caption else None
    return sorted(found, key=lambda row: not (subject and re.search(rf"\b{subject.group(1)}\b", row.own)))


def _merged(text: str, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Pieces in order, those with only spaces between them (or overlapping) made one."""
    merged: list[tuple[int, int]] = []
    for a, b in pieces:
        if merged and (a <= merged[-1][1] or not text[merged[-1][1] : a].strip()):
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged
