"""Choosing the sentence that answers a question, by rules (the offline model has no
language model to read with).

A question's first words say what kind of answer it wants (``questions.answer_kind``):
"how many", "what share" a figure; "which", "who", "what dataset" a name; "what is X" a
definition; "why" a reason; "what goes wrong" a consequence; "what kind of X" a sort of X.
Every sentence of the best few passages is scored by
* how much of the question it covers: its content words, Snowball-stemmed, synonyms and
  words sharing a long beginning ("normalization" for "norm") at a lower weight, an
  acronym the passages define for its words, each word by its rarity among the sentences;
  the sentences just before and after count too (they often name what a figure is for),
  and a table's caption for its rows;
* whether it holds that kind of answer, and for a figure how near it stands to what the
  question asks about ("how many *update steps*", "in *gigabytes*", "how long" → days):
  a sentence that only mentions the topic holds no answer and loses to the one that gives
  it;
* neighbouring question words it repeats as a phrase, and the passage's rank.
The best sentence that holds an answer and covers enough of the question leads; when
none does, there is no answer to lead with, and the caller says so.

The question is read once (``asked.read``); which of its words a sentence holds is
``matching``'s, whether it holds the kind of answer ``strength``'s (figures: ``figures``),
and sentences cut at a passage's edge are ``edges``'.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from chat.retrieval import questions, synonyms, tables
from chat.retrieval.asked import (
    _ABSENCE,
    _CLOCK_ASKED,
    _COUNTING,
    _DATE_ASKED,
    _WHEN_ASKED,
    Question,
    _compounds,
    _focus,
    _question_weights,
    asked_phrase,
    asked_verb,
    contained_in,
    content_words,
    focus_word,
    kind_words,
    per_item,
    per_items_said,
    price_asked,
    read,
)
from chat.retrieval.edges import _Completed, _cut_from, _without, complete_edges, running_headers, without_headers
from chat.retrieval.figures import _COMPARATIVE, measures_in
from chat.retrieval.matching import (
    _BOUNDS,
    _ONE,
    _acronyms,
    _bounds,
    _clock_said,
    _Matcher,
    _one_by_one,
    _pairs,
    _union,
    _unsaid,
    symbol_stems,
    terms_in_order,
)
from chat.retrieval.passages import headings, stems
from chat.retrieval.questions import (
    ANY,
    CONCLUSION,
    DEFINITION,
    EFFECT,
    MANNER,
    NAME,
    NUMBER,
    REASON,
    SCORE,
    SHARE,
    SORT,
    answer_kind,
    asked_words,
)
from chat.retrieval.quotes import sentences
from chat.retrieval.search import name_numbers
from chat.retrieval.strength import (
    _BECAUSE,
    _CONSEQUENCE,
    _NAMING,
    _WHO,
    _WHY_NOT,
    _agrees,
    _named,
    _strength,
    directions,
)

# The rules' parts are read through this module by the offline model's skill and the tests.
__all__ = [
    "ANY",
    "CONCLUSION",
    "DEFINITION",
    "EFFECT",
    "MANNER",
    "NAME",
    "NUMBER",
    "REASON",
    "SCORE",
    "SHARE",
    "SORT",
    "Candidate",
    "Question",
    "SHORT_SENTENCE_WORDS",
    "_clock_said",
    "_named",
    "_strength",
    "answer_kind",
    "asked_verb",
    "candidates",
    "complete_edges",
    "contained_in",
    "content_words",
    "focus_word",
    "lead_and_support",
    "per_item",
    "price_asked",
    "read",
    "running_headers",
    "symbol_stems",
    "without_headers",
]

# A sentence of this many words is a statement however short ("The password is hunter2."),
# one of fewer most likely a fragment or a pointer ("See Table 2.").
SHORT_SENTENCE_WORDS = 4
# A sentence leads only if it, or it with its neighbours, covers at least this share of the
# question's weighted words.
MIN_COVERAGE = 0.25
# A name standing right by the word for the kind of thing asked ("the Adam optimizer" for
# "which optimization algorithm") says itself what it answers: half that coverage will do.
NAMED_COVERAGE = 0.125
# How much the sentences around one count towards covering the question: the one before
# often names what this one gives the figure for, a section heading may stand two before.
CONTEXT_WEIGHT = 0.6
CONTEXT_BEFORE, CONTEXT_AFTER = 2, 1
# How much a sentence holding the wanted kind of answer counts, against full coverage = 1.
KIND_BONUS = 0.75


# "What should the players bring?", "what does photosynthesis produce?": the answer is what
# the question's last word, its verb, acts on, so it stands by that verb; a sentence saying
# the verb itself gains this much over one that only names who does it and has the verb in a
# neighbour: more than the share of a two-word question a neighbour lends
# (CONTEXT_WEIGHT × ½). A subject of up to three words: a longer question's last word is
# seldom its verb.


VERB_BONUS = 0.35
# Two of the question's words standing together in a sentence ("common nouns") say more
# than each alone: this much for each such pair, at most PHRASES pairs.
PHRASE_BONUS, PHRASES = 0.1, 3
# A question word no sentence holds cannot tell sentences apart; counted whole, a rare word
# the student chose ("unscaled") would keep every sentence under MIN_COVERAGE.
ABSENT_WEIGHT = 0.5


# The search's order still says something: each later passage's sentences lose this much.
RANK_PENALTY = 0.02
# "In the comparison table, what …", "according to the results table …": the question says
# the answer stands in a table, so a table's row holding the kind of answer asked gains this
# much over a sentence of the prose that only mentions the table.
_TABLE_ASKED = re.compile(r"\btables?\b", re.IGNORECASE)
TABLE_ASKED_BONUS = 0.4
# A table's caption ("Table 4: The Transformer generalizes well to ..."), and a "sentence"
# holding this many figures, which is most likely a run of the table's rows; the caption
# stands at most TABLE_ROWS "sentences" away.
_CAPTION = re.compile(r"\bTable \d+[:.]")
_FIGURE = re.compile(r"(?<![\w.-])\d[\d,.]*\d?%?(?![\w-])")
TABLE_FIGURES, TABLE_ROWS = 3, 8
TABLE_LETTERS = 0.3


@dataclass
class Candidate:
    passage: int  # index of the passage, best first
    sentence: str
    coverage: float
    holds: bool
    score: float
    # How much of the question the sentence and its neighbours cover together.
    reach: float = 0.0
    # A name standing right by the word for the kind of thing asked ("the Adam optimizer").
    named: bool = False
    # How much of the question the sentence covers by its own words, its neighbours' aside.
    own: float = 0.0


def candidates(
    question: str | Question, passages: list[str], files: list[str] | None = None, searched: int | None = None
) -> list[Candidate]:
    """Every sentence of the first ``searched`` passages (all by default) that shares a word
    with the question, best first. A word counts by its weight (synonyms less) and its
    rarity among these sentences. With ``files`` (the file of each passage), a sentence cut
    at a passage's edge is completed from an overlapping passage of the same file among
    all ``passages`` and cited there, where it stands whole."""
    searched = len(passages) if searched is None else searched
    passages = without_headers(passages, files)
    completed = [
        complete_edges(i, passages, files) if files else _Completed(text, 0, len(text))
        for i, text in enumerate(passages[:searched])
    ]
    passages = [c.text for c in completed]
    q = read(question)
    wording = q.text
    kind = q.kind
    weights = _question_weights(q)
    own = {synonyms.verb_base(s) for w in content_words(q) for s in stems(w)}
    question_words = set(stems(wording))
    focus = _focus(q)
    asked = asked_words(wording)
    heads = kind_words(q)
    # A result's measure ("what translation quality") is the student's word, not the paper's.
    phrase = asked_phrase(q) if kind == NUMBER else None
    container = contained_in(q) if kind == NUMBER else frozenset()
    place = bool(re.match(r"\s*where\b", wording.lower()))
    compares = bool(_COMPARATIVE.search(wording))
    years = bool(re.search(r"\b(when|year|years|date|dates)\b", wording.lower()))
    table_asked = bool(_TABLE_ASKED.search(wording))
    bounded = any(bound in weights for bound in _BOUNDS)
    dated = bool(_DATE_ASKED.search(q.clause))
    clock = kind == NUMBER and bool(_CLOCK_ASKED.match(q.clause))
    priced = kind == NUMBER and not clock and price_asked(q)
    timed = kind == NUMBER and bool(_WHEN_ASKED.match(q.clause))
    way = directions(wording)
    naming = bool(_NAMING.search(wording))
    against = bool(_WHY_NOT.search(q.clause))
    who = bool(_WHO.match(q.clause))
    minimum = questions.asks_minimum(wording)
    measures = measures_in(wording)
    per = per_item(wording) - focus if kind == NUMBER else frozenset()
    each, ones = (per_items_said(wording), _ONE & set(weights)) if kind == NUMBER else (frozenset(), set())
    absent = bool(_ABSENCE.search(wording))
    counting = bool(_COUNTING.match(q.clause))
    match = _Matcher(weights, _acronyms(passages), _compounds(wording), name_numbers(wording), terms_in_order(wording))
    # A figure question may be answered by a table's rows, mostly figures.
    letters = TABLE_LETTERS if kind in (NUMBER, SCORE, SHARE) else 0.45
    extreme, extreme_words = tables.extreme_asked(wording)
    pool, seen = [], set()
    # A sentence completed at a passage's edge -> the passage holding it whole.
    cited: dict[str, int] = {}
    for index, text in enumerate(passages):
        # A short statement answers as well as a long one ("The password is hunter2.").
        split = sentences(text, letters=letters, words=SHORT_SENTENCE_WORDS)
        # A figure may stand in a table: its rows are quoted instead of the run of text
        # the table makes (too long a "sentence", holding every row's figures); that run
        # still stands as its neighbours' neighbour.
        rows = tables.rows(text) if kind in (NUMBER, SCORE, SHARE) else []
        spans = {row.table for row in rows}
        in_table = {o for o, s in split if any(o < end and start < o + len(s) for start, end in spans)}
        sections = headings(text)
        # Each sentence's section title: the last heading starting before the sentence ends.
        # Its words are the section's context, not the sentence's own (extraction may have
        # glued the heading to the section's first sentence).
        titles = [
            next((h for h in reversed(sections) if h[0] < offset + len(sentence)), None) for offset, sentence in split
        ]
        # (sentence, its own text less a glued title, the question's words it holds)
        found_here = []
        for (offset, sentence), title in zip(split, titles, strict=True):
            own_text = _without(sentence, offset, title)
            said = own_text if absent else _unsaid(own_text)
            have = match(said)
            extra = (
                (_one_by_one(said, each, ones) if ones else {})
                | (_bounds(said, weights) if bounded else {})
                | (_clock_said(said, weights) if clock else {})
            )
            found_here.append((sentence, own_text, _union(have, extra) if extra else have))
        titled = {title: match(title[2]) for title in set(titles) if title}
        captions = [at for at, (sentence, _, _) in enumerate(found_here) if _CAPTION.search(sentence)]
        for at, (sentence, own_text, have) in enumerate(found_here):
            if sentence in seen or split[at][0] in in_table:
                continue
            if index and at in (0, len(found_here) - 1) and _cut_from(sentence, passages[:index]):
                continue
            seen.add(sentence)
            around = found_here[max(0, at - CONTEXT_BEFORE) : at] + found_here[at + 1 : at + 1 + CONTEXT_AFTER]
            if len(_FIGURE.findall(sentence)) >= TABLE_FIGURES:
                # A row of a table: what it measures is in the table's caption, before or after it.
                near = [c for c in captions if c != at and abs(c - at) <= TABLE_ROWS]
                if near:
                    around = around + [found_here[min(near, key=lambda c: abs(c - at))]]
            section = [titled[titles[at]]] if titles[at] else []
            pool.append((index, at, sentence, own_text, have, _union(*(words for _, _, words in around), *section)))
            offset = split[at][0]
            edge = completed[index]
            if edge.before is not None and offset < edge.start:
                cited[sentence] = edge.before
            elif edge.after is not None and offset + len(sentence) > edge.end:
                cited[sentence] = edge.after
        for row in rows:
            if row.quote not in seen:
                seen.add(row.quote)
                have = match(row.own if absent else _unsaid(row.own))
                if row.extreme and row.extreme == extreme:
                    # "The biggest model": the row of the largest model size holds that word.
                    have.update({s: 1.0 for w in extreme_words for s in stems(w) if s in weights})
                # A row has no place among the passage's sentences (None): no sentence is before it.
                pool.append((index, None, row.quote, row.read, have, match(row.context)))
    frequency = Counter(s for _, _, _, _, have, _ in pool for s in have)
    rarity = {s: math.log(1 + len(pool) / (1 + frequency[s])) for s in weights}
    total = sum(weights[s] * rarity[s] * (1.0 if frequency[s] else ABSENT_WEIGHT) for s in own) or 1.0
    if phrase and not frequency[phrase[0]]:
        phrase = None  # a head noun no sentence holds ("top candidates" for "Top-k") tells none apart

    def covered(words: dict[str, float]) -> float:
        return min(1.0, sum(weights[s] * factor * rarity[s] for s, factor in words.items()) / total)

    pairs = _pairs(wording)
    verb = asked_verb(q) if kind == ANY else None
    found = []
    placed: dict[tuple[int, int], Candidate] = {}
    for index, at, sentence, own_text, have, around in pool:
        # A sentence holding none of the question's words may still give the figure its
        # neighbour introduces ("The Winograd challenge ... . GPT-2 achieves 70.70%.").
        if not have and (kind == ANY or not around):
            continue
        if not (set(have) | set(around)) & own:
            continue  # only synonyms: a sentence about something else ("accuracy" for "score")
        both = _union(have, around)
        coverage = (1 - CONTEXT_WEIGHT) * covered(have) + CONTEXT_WEIGHT * covered(both)
        strength = (
            _strength(
                kind,
                own_text,
                set(weights),
                question_words,
                years,
                focus,
                asked,
                place,
                compares,
                naming,
                heads,
                phrase,
                who,
                against,
                minimum,
                measures,
                per,
                absent,
                counting,
                dated,
                container,
                clock,
                priced,
                timed,
            )
            if kind != ANY or heads
            else 0.0
        )
        if kind == REASON and strength and _restates(own_text, match):
            strength *= RESTATING
        if strength and way and (stated := directions(own_text)) and not _agrees(stated, way):
            strength = 0.0  # "English-to-French" holds no answer for "from French into English"
        score = (
            coverage
            + KIND_BONUS * strength
            + PHRASE_BONUS * min(PHRASES, len(pairs & _pairs(sentence)))
            - RANK_PENALTY * index
            + (VERB_BONUS if verb and have.get(verb) == 1.0 else 0.0)
            + (TABLE_ASKED_BONUS if at is None and strength and table_asked else 0.0)
        )
        found.append(
            Candidate(
                cited.get(sentence, index),
                sentence,
                coverage,
                strength > 0,
                score,
                covered(both),
                kind == NAME and strength > 1,
                covered(have),
            )
        )
        if at is not None:
            placed[(index, at)] = found[-1]
    if kind == REASON:
        _reason_before_remedy(placed)
    found.sort(key=lambda c: (-c.score, c.passage))  # ties: the better-ranked passage
    return found


# "Why must the decoder be stopped from looking at later tokens?" — "… to prevent positions
# from attending to subsequent positions" restates what is asked, in other words, and gives
# no reason: a reason clause adding fewer than RESTATE_NEW words the question has not said
# holds the reason this much.
RESTATING, RESTATE_NEW = 0.5, 2


def _restates(sentence: str, match: _Matcher) -> bool:
    """Whether the clause after the sentence's reason word only repeats the question."""
    marker = _BECAUSE.search(sentence)
    if not marker:
        return False
    new = {w for w in terms_in_order(sentence[marker.end() :]) if not w.isdigit() and not match(w)}
    return len(new) < RESTATE_NEW


# "To avoid this, we prevent BPE from merging …": a remedy for what the sentence before
# says; asked why, that sentence gives the reason (when it states a cause or an effect).
_REMEDY_OF_THIS = re.compile(
    r"^\W*(?:to (?:avoid|counteract|prevent|address|fix|remedy|mitigate|overcome|solve|correct) (?:this|that|these|it)\b"
    r"|(?:because of|due to|for) this\b|this is why\b)",
    re.IGNORECASE,
)


def _reason_before_remedy(placed: dict[tuple[int, int], Candidate]) -> None:
    """Hand a remedy's place to the sentence before it that states what it remedies."""
    for (index, at), remedy in placed.items():
        before = placed.get((index, at - 1))
        if before is None or not remedy.holds or not _REMEDY_OF_THIS.search(remedy.sentence):
            continue
        if _BECAUSE.search(before.sentence) or _CONSEQUENCE.search(before.sentence):
            before.score, before.holds = max(before.score, remedy.score), True
            before.coverage, before.reach = max(before.coverage, remedy.coverage), max(before.reach, remedy.reach)
            remedy.score -= KIND_BONUS
            remedy.holds = False


def lead_and_support(
    question: str | Question,
    passages: list[str],
    support: int = 2,
    files: list[str] | None = None,
    searched: int | None = None,
) -> tuple[Candidate | None, list[Candidate]]:
    """The sentence that answers (or None) and up to ``support`` sentences that back it,
    sought in the first ``searched`` passages (see ``candidates``)."""
    question = read(question)
    found = candidates(question, passages, files, searched)
    kind = question.kind
    answering = [
        c
        for c in found
        if max(c.coverage, c.reach) >= (NAMED_COVERAGE if c.named else MIN_COVERAGE) and (c.holds or kind == ANY)
    ]
    if not answering:
        return None, []
    lead = answering[0]
    # A quote backs the answer by what it says itself: next to the answer, "Meetings are on
    # Friday." borrows the coverage of its neighbour "The password is hunter2.".
    backing = [
        c
        for c in sorted(found, key=lambda c: (-c.coverage, c.passage))
        if c is not lead and c.own >= MIN_COVERAGE and _backs(c, lead, files)
    ]
    return lead, backing[:support]


def _backs(quote: Candidate, lead: Candidate, files: list[str] | None) -> bool:
    """Whether ``quote`` may stand under the answer ``lead`` as more on the question: from
    the file the answer is quoted from, sharing enough of the question's words does; from
    another file, it must cover the question as well as the answer does. A word or two in
    common ("light", asked what photosynthesis does with light) is no source on the topic:
    a sentence on Edison's light bulb from a history file is not "also in the files"."""
    if files is None or files[quote.passage] == files[lead.passage]:
        return True
    return quote.coverage >= lead.coverage
