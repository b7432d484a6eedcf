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
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass

from chat.retrieval import questions, synonyms, tables
from chat.retrieval.passages import headings, stem, stems
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
from chat.retrieval.quotes import LONGEST, SENTENCE, sentences
from chat.retrieval.search import STOPWORDS, name_numbers, terms

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
_WHAT_DOES_X_VERB = re.compile(
    r"^what (?:do|does|did|should|must|can|could|will|would|may|might|shall|has|have|had) (?:[\w'’-]+ ){1,3}([a-z]+)\W*$"
)
VERB_BONUS = 0.35
# Two of the question's words standing together in a sentence ("common nouns") say more
# than each alone: this much for each such pair, at most PHRASES pairs.
PHRASE_BONUS, PHRASES = 0.1, 3
# A question word no sentence holds cannot tell sentences apart; counted whole, a rare word
# the student chose ("unscaled") would keep every sentence under MIN_COVERAGE.
ABSENT_WEIGHT = 0.5

# Citations and years are numbers that answer nothing: "(Radford et al., 2018)", "[12]".
_CITATION = re.compile(r"\([^()]*\b(19|20)\d\d[a-z]?\)|\[\d+(?:[,–-]\s*\d+)*\]")
# Nor do references to parts of the text ("Table 3", "section 22") or a heading's number.
_REFERENCE = re.compile(
    r"\b((?i:sections?|tables?|figures?|fig\.|eqs?\.|equations?|appendix|chapters?|footnote)\s*)\d[\d.]*\b"
    # A heading's number starts the sentence or follows one ("... model. 6.2 Model Variations");
    # mid-sentence, "discriminative 91.3 Transformer" is a table's figure.
    r"|(?:^|(?<=[.!?:]\s))\s*\d+(?:\.\d+)*\.?\s+(?=[A-Z][a-z])"
    # An equation's label after its formula: "… warmup_steps−1.5) (3) This corresponds …".
    r"|(?<=\)\s)\(\d{1,2}\)(?=\s|$)"
)
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
_PERCENT = re.compile(r"\d\s?%|\bpercent\b")
# Names: "WebText", "GPT", "Reddit", "P100".
_PROPER = re.compile(r"(?<!^)(?<![.!?]\s)\b(?:[A-Z][a-z]+[A-Z]\w*|[A-Z]{2,}\w*|[A-Z]+\d+\w*|[A-Z][a-z]{2,})\b")
_DEFINES = re.compile(r"\b(is|are|refers? to|means|consists? of|is called|we call|called|known as|defined as)\b")
_BECAUSE = re.compile(
    r"\b(because|since|due to|in order to|so that|to counteract|to avoid|to prevent|this (is|was) why"
    # What a thing brings about answers why it is (or is avoided): "This results in a
    # sub-optimal allocation", "This sequential nature precludes parallelization".
    r"|results? in|resulting in|leads? to|led to|precludes?|prevents?|limits?|makes? it (hard|difficult|impossible)"
    r"|as a result|therefore|thus|hence)\b", re.IGNORECASE)
# A way of doing something: "by a factor of …", "using …", "via …".
# "Followed by layer normalization", "used by the model": a doer or a sequence, not a way.
_WAY = re.compile(r"(?<!followed )(?<!used )\b(by (?:an?|\w+ing)|using|via)\b", re.IGNORECASE)
# A conclusion drawn: "This suggests that determining compatibility is not easy".
_CONCLUDES = re.compile(
    r"\b(suggests?|suggested|indicates?|indicated|implies|implied|(shows?|showed|shown|demonstrates?|demonstrated) that"
    r"|we conclude|concluded?|this means|meaning that)\b", re.IGNORECASE)
# A figure measured on something: a percentage, a decimal, or one followed by what it is
# measured in ("55 F1", "28.4 BLEU", "6.4 points"); "3 out of 4 systems" counts instead.
_MEASURED = re.compile(r"^\d[\d,.]*\.\d|^\d[\d,.]*%|^\d[\d,.]*\s?(?:[A-Z][A-Z0-9-]+\b|points?\b|accuracy\b|perplexity\b)")


# Words and figures in order; a figure keeps its decimals, thousands and unit ("1.5B",
# "63.1%", "10MB"); a name with digits ("P100") is one word.
_TOKEN = re.compile(r"\d[\d,.]*\d[^\W_]*%?|\d[^\W_]*%?|[^\W_]+")
# A number answers "how many X" when it stands within this many words of X.
NEAR = 4
# "How rare is ...": the word after "how" (or after "how many") is what the figure measures.
_FOCUS = re.compile(r"^how (?:many |much )?(?:\w+ )??([a-z]{3,})\b")
# A consequence: "grow large ..., pushing the softmax into regions where ...".
_CONSEQUENCE = re.compile(
    r"\b(grows?|grew|growing|push(es|ing)?|causes?|caused|causing|leads? to|led to|results? in|resulting in|"
    r"suffers?|vanish\w*|explod\w*|degrad\w*|hurts?|fails?|failing|unstable|instability|worse|drops?|"
    r"problems?|harder|slows?|saturat\w*)\b", re.IGNORECASE)
# Where something is: "moved to the input of each sub-block", "from Reddit".
_PLACE = re.compile(r"\b(to|at|in|into|inside|from|on|before|after|between) (the|each|every|a|an)\b")
# How much a word of the sentence that only shares its beginning with a question word
# counts ("normalization" for "norm", "accuracy" for "accurate"), and how long that
# beginning must be.
PREFIX_FACTOR, PREFIX_LETTERS = 0.5, 4
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
_ABBREVIATION = re.compile(r"\b[A-Z]{3,5}\b")
# "Wall Street Journal (WSJ)": an acronym defined in the passages stands for its words.
_DEFINED_ACRONYM = re.compile(r"((?:[A-Z][\w’'-]*\s+){1,5})\(([A-Z][A-Za-z]{1,5})\)")


def focus_word(question: str) -> str | None:
    match = _FOCUS.search(" ".join(question.lower().split()))
    if not match or match.group(1) in STOPWORDS:
        return None
    return stem(match.group(1))


def _focus(question: str) -> set[str]:
    """Stems of what a figure should stand next to: the thing asked about ("update steps",
    "vocabulary"), a unit asked for ("in gigabytes"), and the words that name the kind of
    answer ("how long" → days, hours)."""
    question = questions.main_clause(question)
    words = asked_words(question) + questions.cues(question) + questions.change_words(question)
    found = {s for w in words for s in stems(w) if s not in STOPWORDS and not s.isdigit()}
    found |= set(_compounds(" ".join(asked_words(question))))
    old = focus_word(question)
    return found | ({old} if old else set())


_SETS = re.compile(r"=\s*$")
_FOOTNOTE_END = re.compile(r"\.?\s*$")
_WORD_BEFORE = re.compile(r"([A-Za-z]{2,})\s$")


def _is_figure(plain: str, match: re.Match, years: bool, given: set[str] = frozenset()) -> bool:
    token = match.group(0)
    # A figure the question states ("on section 23") is not what it asks for.
    # A year is no answer unless asked for, but "df f = 2048" sets a value, not a date.
    year = _YEAR.match(token) and not _SETS.search(plain, 0, match.start())
    if not token[0].isdigit() or (not years and year) or token in given:
        return False
    # "... capacity of each GPU 5.": a lone digit ending the sentence after a noun is a
    # footnote's mark ("heads is 8." and "N = 6." still count).
    if len(token) == 1 and _FOOTNOTE_END.match(plain, match.end()):
        before_word = _WORD_BEFORE.search(plain, 0, match.start())
        if before_word and before_word.group(1).lower() not in STOPWORDS:
            return False
    # "GPT-2", "WMT-14": the digits belong to a name; "ht−1", "d−0.5": to a formula.
    before = plain[max(0, match.start() - 2) : match.start()]
    return not (len(before) == 2 and before[1] in "-−+" and before[0].isalpha())


# A dimension's symbol as a PDF's text leaves it, its subscript run on: "dmodel", "dk",
# "d_ff". It stands for the words "dimension" (or size, width) and its subscript's word.
_DIMENSION_SYMBOL = re.compile(r"\bd_?(model|ff|k|q|v|hidden|inner|emb|embed|head)\b")
_SUBSCRIPT_WORDS = {"k": "key", "q": "query", "v": "value", "ff": "feed forward", "emb": "embedding", "embed": "embedding"}
_DIMENSION_WORDS = frozenset(stem(w) for w in ("dimension", "dimensions", "dimensionality", "size", "width"))


@functools.lru_cache(maxsize=64)
def symbol_stems(token: str) -> frozenset[str]:
    """The stems a dimension's symbol stands for ("dk" → dimension, size, width, key); empty for any other token."""
    match = _DIMENSION_SYMBOL.fullmatch(token)
    if not match:
        return frozenset()
    subscript = match.group(1)
    return _DIMENSION_WORDS | {stem(w) for w in _SUBSCRIPT_WORDS.get(subscript, subscript).split()}


def _near(tokens: list[str], spots: list[int], wanted: set[str]) -> float:
    """1 when a spot stands within two words of one of the question's words ("beam size
    of 4"), less with every word between, 0 past NEAR words."""
    near = [i for i, tok in enumerate(tokens) if _stem_of(tok) in wanted or symbol_stems(tok) & wanted]
    distance = min((abs(i - j) for i in spots for j in near if i != j), default=NEAR + 1)
    return 1.0 - 0.1 * max(0, distance - 2) if distance <= NEAR else 0.0


# "… large compared to the 32,000 to 64,000 token vocabularies often used": a figure in a
# comparison is what something else has; unless the question compares, it is no answer.
# "More than 2.0 BLEU" still is one: the figure right after "than" is the thing's own.
_COMPARATIVE = re.compile(r"\b(than|compared?|comparison|versus|vs|worse|better|more|less|fewer|faster|slower|differ\w*)\b", re.I)
_COMPARING = {"compared", "unlike", "than", "versus", "vs"}
COMPARED_SPAN = 6


def _compared(tokens: list[str], at: int) -> bool:
    for j in range(max(0, at - COMPARED_SPAN), at):
        if tokens[j].lower() in _COMPARING and not (tokens[j].lower() == "than" and j == at - 1):
            return True
    return False


# "This would result in a base vocabulary of over 130,000": a figure in a clause saying
# what would happen is what was not done; one in a clause stating an assumption ("assume
# that x has mean 0 and variance 1") is given, what follows from it is the answer.
_SUPPOSED = re.compile(r"\b(would|could|might|assume|assuming|suppose|supposing)\b[^,;:]*$", re.IGNORECASE)


def _supposed(plain: str, at: int) -> bool:
    return bool(_SUPPOSED.search(plain, 0, at))


_RESPECTIVELY = re.compile(r"\brespectively\b", re.IGNORECASE)
RESPECTIVE_NEAR = 0.9


# Two names joined: "English-to-French" and "from French into English" say a direction,
# "French-English" only the pair. A question about one direction is not answered by a
# sentence that names only other pairs or the other way round: its figure is theirs.
_PAIR = re.compile(r"\b(?:(from) )?([A-Z][a-z]+)(-to-|\s+(?:to|into)\s+|[-–])([A-Z][a-z]+)\b")


def directions(text: str) -> set[tuple[str, str, bool]]:
    """The pairs of names the text joins, as (stem, stem, directed); "X to Y" says one only
    after "from" ("we apply the Transformer to English parsing" joins nothing)."""
    found = set()
    for m in _PAIR.finditer(text):
        start, first, joint, second = m.groups()
        if joint.strip() in ("to", "into") and not start or first == second:
            continue
        found.add((stem(first), stem(second), joint not in "-–"))
    return found


def _agrees(stated: set[tuple[str, str, bool]], asked: set[tuple[str, str, bool]]) -> bool:
    return any(
        {a, b} == {c, d} and (not (directed and asked_directed) or (a, b) == (c, d))
        for a, b, directed in stated for c, d, asked_directed in asked
    )


def _stem_of(token: str) -> str:
    return stem(token.rstrip("%"))


def _names(plain: str, question_words: set[str]) -> list[str]:
    """Names the question did not already say: "The resulting dataset, WebText, ..."."""
    return [m.group(0) for m in _PROPER.finditer(plain) if stem(m.group(0)) not in question_words]


# "The resulting dataset, WebText, …", "the Adam optimizer", "an optimizer called Adam": a
# name standing right by the word for the kind of thing asked ("what dataset", "which
# optimizer") says it is one, surer than a name anywhere in the sentence; such a sentence
# holds the answer this much more (against 1 for any name).
NAMED_BONUS = 0.5
# "What are they called?": a name the sentence gives after a naming word ("the scientist
# named the population, after its horn, Ovid's Unicorn") is what they are called.
_NAMING = re.compile(r"\b(?:called|named|dubbed|termed|known as)\b")
_WORD_THEN_NAME = re.compile(r"([^\W_]+)(?:,\s*|\s+(?:called|named|dubbed|known as)\s+|\s+\(|\s+)$")
_NAME_THEN_WORD = re.compile(r"\s+([^\W_]+)")


def _same_kind(word: str, heads: set[str]) -> bool:
    return word in heads or any(
        len(word) > PREFIX_LETTERS and len(head) > PREFIX_LETTERS and word[: PREFIX_LETTERS + 1] == head[: PREFIX_LETTERS + 1]
        for head in heads
    )


def _named(plain: str, heads: set[str], question_words: set[str]) -> bool:
    """Whether a name the question did not say stands right by (or in apposition to) a word
    of the kind asked for: one stemming to one of ``heads`` or sharing its beginning
    ("optimizer" for "optimization algorithm")."""
    for name in _PROPER.finditer(plain):
        if stem(name.group(0)) in question_words:
            continue
        before = _WORD_THEN_NAME.search(plain, 0, name.start())
        after = _NAME_THEN_WORD.match(plain, name.end())
        if any(word and _same_kind(stem(word.group(1)), heads) for word in (before, after)):
            return True
    return False


# "Why not …?", "why is it a bad idea to …", "why were X left out": the reason is a problem
# the thing has, often stated with no "because" ("they have significant data quality issues").
_WHY_NOT = re.compile(
    r"^why (?:not|(?:\w+ )?(?:n['’]t|not)\b)|^why\b.*\b(?:bad idea|avoid\w*|exclud\w*|remov\w*|left out|taken out|drop(?:ped)?|not use\w*)\b")
_PROBLEM = re.compile(
    r"\b(?:issues?|problems?|problematic|drawbacks?|limitations?|unintelligible|noisy|low[- ]quality|poor(?:ly)?|errors?"
    r"|unreliable|impractical|infeasible|prohibitive\w*|expensive|costly|hard to|difficult to|cannot|can['’]t|not able)\b", re.IGNORECASE)
PROBLEM_STRENGTH = 1.0
# "Who …?" asks for a doer: a name (one capitalised word or two, or a group's name in
# capitals) followed by what it did, in the past tense; a sentence naming only things holds
# the answer this much.
_WHO = re.compile(r"^(?:who|whom|whose)\b")
_DOER = re.compile(
    r"(?:^|(?<=[\s(“\"]))([A-Z][a-z]+(?: [A-Z][a-z]+)?|[A-Z]{2,}[A-Za-z]*)(?:,? (?:with|and) [A-Z][a-z]+,?)?"
    r" (?:[a-z]+ed|wrote|made|built|led|began|found|gave|took|came up with)\b"
)
WORK_NAME = 0.5
# A figure in a sentence about another thing than the one asked (see ``_strength``) holds
# the answer this much.
OTHER_THING = 0.5
_CONTRAST = re.compile(r"^\W*(?:in contrast|by contrast|on the other hand|conversely|unlike)\b", re.IGNORECASE)


def asked_phrase(question: str) -> tuple[str, set[str]] | None:
    """(head, modifiers) of what a figure question asks about, stemmed: "how large is the
    model's token vocabulary" → (vocabulary, {model, token}); None for a one-word phrase."""
    question = questions.main_clause(question)
    words = asked_words(question)
    if questions._UNIT.search(questions._normalised(question)):
        words = words[:-1]  # the unit asked for ("…, in gigabytes") is no part of the phrase
    if len(words) < 2:
        return None
    head = stem(words[-1])
    return head, {stem(w) for w in words[:-1]} - {head} - STOPWORDS


# "How many tokens are in the final vocabulary (of the model)?": what holds the things counted.
_CONTAINER = re.compile(
    r"^how many [\w-]+(?: [\w-]+)? (?:are|is|were|was) (?:there )?in (?:the |a |an |its |their |this |that )?"
    r"(?:[\w-]+ ){0,2}?([\w-]+)(?=\s(?:of|for|on|at|in|during|after|before|by|when)\b|\W*$)")


def contained_in(question: str) -> frozenset[str]:
    """Stems of what a "how many X are in Y" question counts X in (Y and its synonyms); empty for any other question."""
    match = _CONTAINER.match(questions._normalised(questions.main_clause(question)))
    if not match or match.group(1) in STOPWORDS:
        return frozenset()
    return frozenset(stem(w) for w in synonyms.weighted([match.group(1)]))


# "What model of graphics card …": the thing the answer is a model of is named too.
_OF_WHAT = re.compile(r"^(?:what|which) (?:model|make|brand|version|variant|edition|family)s? of ((?:[a-z-]+ ){0,2}[a-z-]+)")


def kind_words(question: str) -> set[str]:
    """Stems of the words for the kind of thing asked ("what dataset", "which optimizer"),
    and for "what model of graphics card" also of the thing it is a model of, with that
    thing's synonyms (the paper may write "GPU"): a name right by one of them says it is one."""
    found = {stem(w) for w in asked_words(question)}
    of_what = _OF_WHAT.match(questions._normalised(questions.main_clause(question)))
    if of_what:
        found |= {s for w in synonyms.weighted(terms_in_order(of_what.group(1))) for s in stems(w)}
    return found


# The measures a result may be given in; a question naming one asks for a figure in it.
MEASURES = frozenset({"bleu", "rouge", "f1", "accuracy", "perplexity", "ppl", "bpb", "bpc", "meteor", "cider", "wer"})
# A measure names a figure within this many words of it ("55 F1", "a BLEU score of 41.0").
MEASURE_NEAR = 3


def measures_in(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", text.lower()) if w in MEASURES)


def _measures_by(tokens: list[str], at: int) -> set[str]:
    """The measures named right by the figure at ``at``, the nearest side first: the words after it, else before."""
    after = {t.lower() for t in tokens[at + 1 : at + 1 + MEASURE_NEAR]} & MEASURES
    return after or {t.lower() for t in tokens[max(0, at - MEASURE_NEAR) : at]} & MEASURES


# A question for a count or a duration, which a result in a measure does not give.
_COUNTING = re.compile(r"(?:roughly |about |approximately )?(?:how many|how long|how often|how much (?:\w+ )?time)\b")
# Words saying a thing is missing: in a question, it asks about the absence.
_ABSENCE = re.compile(r"\b(?:no|not|none|without|never|zero|lacks?|lacking|absent|missing|n['’]t)\b", re.IGNORECASE)
_NEGATING = frozenset({"no", "without", "zero", "lacking", "lack", "lacks"})
ABSENCE_SPAN = 6


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


def _counts_absence(tokens: list[str], at: int, wanted: set[str]) -> bool:
    """Whether the figure at ``at`` counts what lacks one of the question's words: "no" or
    "without" follows it within ABSENCE_SPAN words, right before such a word ("30% of
    samples with no overlap")."""
    for j in range(at + 1, min(len(tokens) - 1, at + 1 + ABSENCE_SPAN)):
        if tokens[j].lower() in _NEGATING and _stem_of(tokens[j + 1]) in wanted:
            return True
    return False


# "How many X per Y", "for each Y", "in every Y": the item Y a count is given for.
_PER_ITEM = re.compile(r"\b(?:per|each|every|a single|one)\s+(?:(?:individual|single)\s+)?([a-z][a-z-]+)")


def per_item(question: str) -> frozenset[str]:
    """Stems of the items a "how many X per Y" question counts X for (Y)."""
    return frozenset(stem(w) for w in _PER_ITEM.findall(question.lower()) if w not in STOPWORDS)


# "A single update" in the question, "each training step" in the sentence: the same one-by-one
# item, said with another word; the question's "single" (or "individual") is covered by it.
_ONE_BY_ONE = re.compile(r"\b(?:each|every|per)\s+([a-z][a-z-]+)(?:\s+([a-z][a-z-]+))?", re.IGNORECASE)
_ONE = frozenset(stem(w) for w in ("single", "individual"))


def per_items_said(question: str) -> frozenset[str]:
    """Stems of the items a question counts per, with their synonyms ("update": "step")."""
    words = [w for w in _PER_ITEM.findall(question.lower()) if w not in STOPWORDS]
    return frozenset(stem(w) for w in synonyms.weighted(words))


def _one_by_one(text: str, items: frozenset[str], ones: set[str]) -> dict[str, float]:
    """The question's "single"/"individual" stems (``ones``), covered when the text gives a
    figure for each of the ``items`` the question counts per; else nothing."""
    # The item may follow a word that says which ("each training step").
    if ones and items and any(stem(w) in items for m in _ONE_BY_ONE.finditer(text) for w in m.groups() if w):
        return dict.fromkeys(ones, 1.0)
    return {}


# "What date …", "in which year …" asks for a date ("how many years" a count, "when" may be
# answered by a time span).
_DATE_ASKED = re.compile(r"\b(?:what|which) (?:date|year|month|day)s?\b")
_MONTH = re.compile(
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)\.?|january|february|march|april|june|july|august"
    r"|september|october|november|december", re.IGNORECASE)


# "What time …", "at what hour …" asks for a time of day: "8:15 am", "at 4 pm", "14:30", "noon".
_CLOCK_ASKED = re.compile(r"^(?:what|which) (?:time|hour)\b")
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


# "How much does it cost", "what is the fee": a sum of money, a figure by a currency's sign
# or name ("$3.50", "12 pounds"), not a label's number ("Year 5", "Room 12").
_PRICE_ASKED = re.compile(
    r"\b(?:cost|costs|price|prices|priced|pay|paid|fee|fees|fare|fares|charge|charged|spend|spent)\b"
)
_CURRENCY_BEFORE = re.compile(r"(?:[£$€¥₹]|\b(?:usd|eur|gbp|us\$))\s?$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(
    r"\s?(?:pounds?|dollars?|euros?|cents?|pence|p(?!\.m\b)|yen|francs?|rupees?|usd|eur|gbp)\b", re.IGNORECASE
)


def price_asked(question: str) -> bool:
    """Whether a figure question asks for a sum of money (and names no other unit: "what is
    the training cost in FLOPs" asks for a count, "how much time did it spend" a duration)."""
    text = questions._normalised(questions.main_clause(question))
    return bool(_PRICE_ASKED.search(text)) and not questions._UNIT.search(text) and not _HOW_MUCH_TIME.match(text)


def _is_money(plain: str, span: re.Match) -> bool:
    return bool(_CURRENCY_BEFORE.search(plain, 0, span.start()) or _CURRENCY_AFTER.match(plain, span.end()))


def _by_month(tokens: list[str], at: int) -> bool:
    """Whether the figure at ``at`` stands right by a month's name ("Dec 2017", "3 March")."""
    return any(0 <= j < len(tokens) and _MONTH.fullmatch(tokens[j]) for j in (at - 1, at + 1))


# A figure stated as a minimum: "at least 3", "a minimum of 50", "no fewer than 10".
_AT_LEAST = re.compile(r"\b(?:at least|a minimum of|minimum of|no fewer than|no less than|not less than)\s*$", re.IGNORECASE)


def _strength(
    kind: str, sentence: str, wanted: set[str], question_words: set[str],
    years: bool = False, focus: set[str] | None = None, asked: list[str] | None = None, place: bool = False,
    compares: bool = False, naming: bool = False, kinds: set[str] | None = None,
    phrase: tuple[str, set[str]] | None = None, who: bool = False, against: bool = False,
    minimum: bool | None = None, measures: frozenset[str] = frozenset(), per: frozenset[str] = frozenset(),
    absent: bool = True, counting: bool = False, dated: bool = False, container: frozenset[str] = frozenset(),
    clock: bool = False, priced: bool = False,
) -> float:
    """How well the sentence holds the kind of answer asked for: 1, less when the answer
    does not stand by the question's words, or 0."""
    plain = _REFERENCE.sub(lambda m: m.group(1) or "", _CITATION.sub("", sentence))
    focus = focus or set()
    if kind in (NUMBER, SCORE, SHARE):
        spans = list(_TOKEN.finditer(plain))
        tokens = [m.group(0) for m in spans]
        given = {w for w in question_words if w[:1].isdigit()}
        numbers = [i for i, m in enumerate(spans) if _is_figure(plain, m, years, given)]
        if not compares:
            numbers = [i for i in numbers if not _compared(tokens, i)]
        numbers = [i for i in numbers if not _supposed(plain, spans[i].start())]
        # "At least 50 tokens of context": a figure stated as a minimum is a requirement; it
        # answers a question asking for one, not one asking what a thing has or can do.
        if not absent:
            # "30% of samples with no overlap": a figure counting what lacks a thing says
            # nothing of how much of it there is, unless the question asks about its absence.
            numbers = [i for i in numbers if not _counts_absence(tokens, i, wanted)]
        if counting and not measures:
            # "How long did one update take?", "how many steps…": a result in a measure
            # ("a BLEU score of 41.0", "55 F1") counts nothing, whatever it stands by.
            numbers = [i for i in numbers if not _measures_by(tokens, i)]
        if measures:
            # "What ROUGE score …": a figure the sentence gives in another measure ("55 F1")
            # is that measure's, not the one asked for.
            numbers = [i for i in numbers if not (_measures_by(tokens, i) - measures)]
        stated_minimum = False
        if minimum is not None:
            least = [i for i in numbers if _AT_LEAST.search(plain, 0, spans[i].start())]
            if minimum and least:
                numbers, stated_minimum = least, True
            elif not minimum and least and len(least) == len(numbers):
                numbers = []
        if clock:
            # "What time …?": a time of day ("8:15 am", "noon"); any other figure is no answer.
            times = [(m.start(), m.end()) for m in _CLOCK.finditer(plain)]
            if not times:
                return 0.0
            # The time's tokens ("8", "15", "am"; "noon") stand where it does.
            spots = [i for i, m in enumerate(spans) if any(start <= m.start() < end for start, end in times)]
            return max(_near(tokens, spots, focus), 0.8)
        if dated:
            # "What date …?": a year, or a figure by a month's name ("Dec 2017"), not a count.
            numbers = [i for i in numbers if _YEAR.match(tokens[i]) or _by_month(tokens, i)]
        if kind == SHARE:
            numbers = [i for i in numbers if tokens[i].endswith("%") or _PERCENT.search(plain[spans[i].start() : spans[i].end() + 9])]
        if kind == SCORE:
            numbers = [i for i in numbers if _MEASURED.search(plain[spans[i].start() : spans[i].end() + 12])]
        if not numbers:
            return 0.2 if kind == SCORE and any(t[0].isdigit() for t in tokens) else 0.0
        if priced:
            # "How much does it cost?": a sum of money is the answer itself, however far it
            # stands from the question's words; a figure by no currency is another thing's.
            money = [i for i in numbers if _is_money(plain, spans[i])]
            if money:
                return max(_near(tokens, money, focus), 0.8)
            return OTHER_THING * max(_near(tokens, numbers, focus), 0.8 * _near(tokens, numbers, wanted), 0.4)
        near = _near(tokens, numbers, wanted)
        by_focus = _near(tokens, numbers, focus)
        if _RESPECTIVELY.search(plain) and any(_stem_of(t) in wanted for t in tokens):
            # "2.8, 3.7 and 9.5 TFLOPS for K80, K40 and P100, respectively": the figures
            # stand for the names in order, however far apart.
            by_focus = max(by_focus, RESPECTIVE_NEAR)
        # "How large is the token vocabulary?": a figure right by "tokens" in a sentence
        # naming no vocabulary is another thing's ("a context of 1024 tokens"); one that opens
        # "In contrast, …" gives the alternative's, unless the question compares.
        other = (bool(phrase) and phrase[0] not in {_stem_of(t) for t in tokens} and _near(tokens, numbers, phrase[1]) == 1.0) or (
            not compares and bool(_CONTRAST.match(plain))
        )
        # "How many tokens per batch?": a figure right by the item ("8 batches") counts the
        # items, not what each one holds, unless it stands as near what is asked.
        if container and not container & {_stem_of(t) for t in tokens}:
            # "How many tokens are in the final vocabulary?": a figure of tokens in a sentence
            # naming no vocabulary counts the tokens of something else ("a context of 1024 tokens").
            other = True
        if per and not other and _near(tokens, numbers, per) == 1.0 and by_focus < 1.0:
            other = True
        scale = OTHER_THING if other else 1.0
        if minimum:
            # Asked for a minimum, a figure stated as one is the answer; any other is a thing's amount.
            return scale if stated_minimum else scale * OTHER_THING * max(by_focus, 0.8 * near, 0.4)
        if kind in (SCORE, SHARE):
            # A result is stated where the sentence covers the question ("our big model
            # achieves a BLEU score of 41.0"), seldom right by the question's words; by
            # the measure asked for ("an accuracy of 63.1%") it is surest.
            return scale * max(by_focus, 0.8)
        return scale * max(by_focus, 0.8 * near, 0.4)
    if kind == NAME and who:
        # "Who proposed …?": a person or an organisation that does something ("Jakob
        # proposed …", "Ashish, with Illia, designed …"), also starting the sentence; a
        # name it does something to ("we presented the Transformer") is the work, not who.
        if any(
            stem(m.group(1)) not in question_words and m.group(1).split()[0].lower() not in STOPWORDS
            for m in _DOER.finditer(plain)
        ):
            return 1.0 + NAMED_BONUS
        return WORK_NAME if _names(plain, question_words) else 0.0
    if kind == NAME:
        if _names(plain, question_words):
            named = (kinds and _named(plain, kinds, question_words)) or (
                naming and any(_names(after, question_words) for after in _NAMING.split(plain)[1:])
            )
            return 1.0 + (NAMED_BONUS if named else 0.0)
        # "Where was X moved?": a place need not be a name ("to the input of each sub-block").
        return 1.0 if place and _PLACE.search(plain) else 0.0
    if kind == SORT:
        # "What kind of functions": the functions named with a word the question lacks
        # ("sine and cosine functions"; surest in the question's own number), or a name.
        words = [t.lower() for t in _TOKEN.findall(plain)]
        # The sort qualifies any of the asked words, the head noun after its adjectives too
        # ("kind of mathematical functions": "sine and cosine functions").
        heads = {w.lower() for w in asked or []}
        head_stems = {stem(w) for w in heads}
        named = [
            i for i, word in enumerate(words)
            if i and stem(word) in head_stems and stem(words[i - 1]) not in question_words and words[i - 1] not in STOPWORDS
        ]
        if named:
            return 1.0 if any(words[i] in heads for i in named) else 0.7
        return 0.6 if _names(plain, question_words) else 0.0
    if kind == DEFINITION:
        return 1.0 if _DEFINES.search(plain) else 0.0
    if kind == REASON:
        if against and _PROBLEM.search(plain):
            # "Why not train on web crawls?": their problem is the reason, marker or none
            # ("they have significant data quality issues").
            return PROBLEM_STRENGTH
        return 1.0 if _BECAUSE.search(plain) else 0.0
    if kind == EFFECT:
        return 1.0 if _CONSEQUENCE.search(plain) else 0.0
    if kind == CONCLUSION:
        return 1.0 if _CONCLUDES.search(plain) else 0.0
    if kind == MANNER:
        return 1.0 if _WAY.search(plain) else 0.0
    if kind == ANY and kinds:
        # "What activation function sits between …?": whatever the question's verb, a name
        # right by the asked words ("a ReLU activation") answers it.
        return 1.0 if _named(plain, kinds, question_words) else 0.0
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
    # A name standing right by the word for the kind of thing asked ("the Adam optimizer").
    named: bool = False
    # How much of the question the sentence covers by its own words, its neighbours' aside.
    own: float = 0.0


def asked_verb(question: str) -> str | None:
    """The stem of the verb a "what does X <verb>?" question ends with ("bring"), or None."""
    match = _WHAT_DOES_X_VERB.match(questions._normalised(questions.main_clause(question)))
    if not match or match.group(1) in STOPWORDS:
        return None
    return synonyms.verb_base(stem(match.group(1)))


def _question_weights(question: str) -> dict[str, float]:
    """The question's word stems and their weights: its own words 1, synonyms less; a
    negated word also stands for its stem ("unscaled" for "scaled")."""
    weights: dict[str, float] = {}
    words = content_words(question)
    for word, weight in synonyms.weighted(words).items():
        # A verb's forms are one word here: "took" in a sentence is "take" of the question.
        for s in map(synonyms.verb_base, stems(word)):
            weights[s] = max(weight, weights.get(s, 0.0))
    adjective = how_adjective(question)
    # "How rare…": a sentence saying "extremely rare" is about the thing asked; "how well…"
    # only asks for a result, and "well calibrated" is about something else.
    if adjective and adjective not in words and adjective not in STOPWORDS and answer_kind(question) != SCORE:
        weights.setdefault(stem(adjective), ADJECTIVE_WEIGHT)
    for word in words:
        if word.startswith("un") and len(word) > 5:
            weights.setdefault(stem(word[2:]), synonyms.SYNONYM_WEIGHT)
    return weights


# "How well…", "how large is…": the adjective says what kind of figure is wanted (see
# ``_focus``), not what it is about; a sentence that repeats it ("prohibitively large
# compared to…") is no nearer the answer.
_HOW_ADJECTIVE = re.compile(r"^\W*(?:\w+\W+){0,2}?how (?!many\b|much\b)(\w+)\b", re.IGNORECASE)


ADJECTIVE_WEIGHT = 1.0


# "How much wall-clock time did …" asks a duration as "how long" does: its words name the
# kind of answer (a figure in seconds or days, see ``questions.cues``), not what it is about.
_HOW_MUCH_TIME = re.compile(r"^how much ((?:[\w-]+ )?time)\b")


_SET_ASIDE = re.compile(
    r"\b(?:apart from|aside from|other than|besides|except(?: for)?)\s+((?:[\w-]+\s*){1,3})", re.IGNORECASE
)


def content_words(question: str) -> list[str]:
    """The question's searchable words less a "how <adjective>" one, the words of "how much
    … time" and those it sets aside ("apart from its size")."""
    words = terms(question)
    adjective = how_adjective(question)
    if adjective in words and len(words) > 1:
        words = [w for w in words if w != adjective]
    duration = _HOW_MUCH_TIME.match(questions._normalised(questions.main_clause(question)))
    if duration:
        measure = set(terms(duration.group(1)))
        words = [w for w in words if w not in measure] or words
    # "…, apart from its size?": what the question sets aside is no part of the answer.
    aside = {w for m in _SET_ASIDE.finditer(question) for w in terms(m.group(0))}
    return [w for w in words if w not in aside] or words


def how_adjective(question: str) -> str | None:
    match = _HOW_ADJECTIVE.match(questions.main_clause(question))
    return match.group(1).lower() if match else None


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


def _compounds(question: str) -> dict[str, set[str]]:
    """Two neighbouring question words as the text may write them in one ("batch size",
    "batchsize"; "data set", "dataset")."""
    words = terms_in_order(question)
    return {stem(a + b): {stem(a), stem(b)} for a, b in itertools.pairwise(words) if a.isalpha() and b.isalpha()}


class _Matcher:
    """Which of the question's stems a sentence holds, and how fully: the stem itself, a
    word sharing its first PREFIX_LETTERS+ letters ("normalization" for "norm") at
    PREFIX_FACTOR, an acronym the passages define for words of the question, two of its
    words written as one."""

    def __init__(
        self, weights: dict[str, float], acronyms: dict[str, set[str]], compounds: dict[str, set[str]],
        names: dict[str, re.Pattern] | None = None, ordered: list[str] | None = None,
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


def candidates(
    question: str, passages: list[str], files: list[str] | None = None, searched: int | None = None
) -> list[Candidate]:
    """Every sentence of the first ``searched`` passages (all by default) that shares a word
    with the question, best first. A word counts by its weight (synonyms less) and its
    rarity among these sentences. With ``files`` (the file of each passage), a sentence cut
    at a passage's edge is completed from an overlapping passage of the same file among
    all ``passages`` and cited there, where it stands whole."""
    searched = len(passages) if searched is None else searched
    completed = [
        complete_edges(i, passages, files) if files else _Completed(text, 0, len(text))
        for i, text in enumerate(passages[:searched])
    ]
    passages = [c.text for c in completed]
    kind = answer_kind(question)
    weights = _question_weights(question)
    own = {synonyms.verb_base(s) for w in content_words(question) for s in stems(w)}
    question_words = set(stems(question))
    focus = _focus(question)
    asked = asked_words(question)
    heads = kind_words(question)
    # A result's measure ("what translation quality") is the student's word, not the paper's.
    phrase = asked_phrase(question) if kind == NUMBER else None
    container = contained_in(question) if kind == NUMBER else frozenset()
    place = bool(re.match(r"\s*where\b", question.lower()))
    compares = bool(_COMPARATIVE.search(question))
    years = bool(re.search(r"\b(when|year|years|date|dates)\b", question.lower()))
    table_asked = bool(_TABLE_ASKED.search(question))
    bounded = any(bound in weights for bound in _BOUNDS)
    dated = bool(_DATE_ASKED.search(questions._normalised(questions.main_clause(question))))
    clock = kind == NUMBER and bool(_CLOCK_ASKED.match(questions._normalised(questions.main_clause(question))))
    priced = kind == NUMBER and not clock and price_asked(question)
    way = directions(question)
    naming = bool(_NAMING.search(question))
    against = bool(_WHY_NOT.search(questions._normalised(questions.main_clause(question))))
    who = bool(_WHO.match(questions._normalised(questions.main_clause(question))))
    minimum = questions.asks_minimum(question)
    measures = measures_in(question)
    per = per_item(question) - focus if kind == NUMBER else frozenset()
    each, ones = (per_items_said(question), _ONE & set(weights)) if kind == NUMBER else (frozenset(), set())
    absent = bool(_ABSENCE.search(question))
    counting = bool(_COUNTING.match(questions._normalised(questions.main_clause(question))))
    match = _Matcher(weights, _acronyms(passages), _compounds(question), name_numbers(question), terms_in_order(question))
    # A figure question may be answered by a table's rows, mostly figures.
    letters = TABLE_LETTERS if kind in (NUMBER, SCORE, SHARE) else 0.45
    extreme, extreme_words = tables.extreme_asked(question)
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
        titles = [next((h for h in reversed(sections) if h[0] < offset + len(sentence)), None) for offset, sentence in split]
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

    pairs = _pairs(question)
    verb = asked_verb(question) if kind == ANY else None
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
                kind, own_text, set(weights), question_words, years, focus, asked, place, compares, naming, heads, phrase,
                who, against, minimum, measures, per, absent, counting, dated, container, clock, priced,
            )
            if kind != ANY or heads else 0.0
        )
        if kind == REASON and strength and _restates(own_text, match):
            strength *= RESTATING
        if strength and way and (stated := directions(own_text)) and not _agrees(stated, way):
            strength = 0.0  # "English-to-French" holds no answer for "from French into English"
        score = (
            coverage + KIND_BONUS * strength + PHRASE_BONUS * min(PHRASES, len(pairs & _pairs(sentence)))
            - RANK_PENALTY * index
            + (VERB_BONUS if verb and have.get(verb) == 1.0 else 0.0)
            + (TABLE_ASKED_BONUS if at is None and strength and table_asked else 0.0)
        )
        found.append(Candidate(
            cited.get(sentence, index), sentence, coverage, strength > 0, score, covered(both), kind == NAME and strength > 1,
            covered(have),
        ))
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
    new = {w for w in terms_in_order(sentence[marker.end():]) if not w.isdigit() and not match(w)}
    return len(new) < RESTATE_NEW


# "To avoid this, we prevent BPE from merging …": a remedy for what the sentence before
# says; asked why, that sentence gives the reason (when it states a cause or an effect).
_REMEDY_OF_THIS = re.compile(
    r"^\W*(?:to (?:avoid|counteract|prevent|address|fix|remedy|mitigate|overcome|solve|correct) (?:this|that|these|it)\b"
    r"|(?:because of|due to|for) this\b|this is why\b)", re.IGNORECASE)


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
    question: str, passages: list[str], support: int = 2, files: list[str] | None = None, searched: int | None = None
) -> tuple[Candidate | None, list[Candidate]]:
    """The sentence that answers (or None) and up to ``support`` sentences that back it,
    sought in the first ``searched`` passages (see ``candidates``)."""
    found = candidates(question, passages, files, searched)
    kind = answer_kind(question)
    answering = [c for c in found if max(c.coverage, c.reach) >= (NAMED_COVERAGE if c.named else MIN_COVERAGE) and (c.holds or kind == ANY)]
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
