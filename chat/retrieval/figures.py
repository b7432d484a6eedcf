"""Figures in a sentence, for the offline model's sentence choice (``strength``): which
numbers may answer (not a citation, a reference's or a heading's number, a name's digits, a
footnote's mark), how near they stand to the question's words, and what they stand in: a
comparison, a supposition, a measure, a month, a currency, a minimum.
"""

from __future__ import annotations

import re

from chat.retrieval.matching import _stem_of, symbol_stems
from chat.retrieval.search import STOPWORDS

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


# A figure measured on something: a percentage, a decimal, or one followed by what it is
# measured in ("55 F1", "28.4 BLEU", "6.4 points"); "3 out of 4 systems" counts instead.
_MEASURED = re.compile(
    r"^\d[\d,.]*\.\d|^\d[\d,.]*%|^\d[\d,.]*\s?(?:[A-Z][A-Z0-9-]+\b|points?\b|accuracy\b|perplexity\b)"
)


# Words and figures in order; a figure keeps its decimals, thousands and unit ("1.5B",
# "63.1%", "10MB"); a name with digits ("P100") is one word.
_TOKEN = re.compile(r"\d[\d,.]*\d[^\W_]*%?|\d[^\W_]*%?|[^\W_]+")
# A number answers "how many X" when it stands within this many words of X.
NEAR = 4


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


def _near(tokens: list[str], spots: list[int], wanted: set[str]) -> float:
    """1 when a spot stands within two words of one of the question's words ("beam size
    of 4"), less with every word between, 0 past NEAR words."""
    near = [i for i, tok in enumerate(tokens) if _stem_of(tok) in wanted or symbol_stems(tok) & wanted]
    distance = min((abs(i - j) for i in spots for j in near if i != j), default=NEAR + 1)
    return 1.0 - 0.1 * max(0, distance - 2) if distance <= NEAR else 0.0


# "… large compared to the 32,000 to 64,000 token vocabularies often used": a figure in a
# comparison is what something else has; unless the question compares, it is no answer.
# "More than 2.0 BLEU" still is one: the figure right after "than" is the thing's own.
_COMPARATIVE = re.compile(
    r"\b(than|compared?|comparison|versus|vs|worse|better|more|less|fewer|faster|slower|differ\w*)\b", re.I
)
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


_NEGATING = frozenset({"no", "without", "zero", "lacking", "lack", "lacks"})
ABSENCE_SPAN = 6


def _counts_absence(tokens: list[str], at: int, wanted: set[str]) -> bool:
    """Whether the figure at ``at`` counts what lacks one of the question's words: "no" or
    "without" follows it within ABSENCE_SPAN words, right before such a word ("30% of
    samples with no overlap")."""
    for j in range(at + 1, min(len(tokens) - 1, at + 1 + ABSENCE_SPAN)):
        if tokens[j].lower() in _NEGATING and _stem_of(tokens[j + 1]) in wanted:
            return True
    return False


_MONTH = re.compile(
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)\.?|january|february|march|april|june|july|august"
    r"|september|october|november|december",
    re.IGNORECASE,
)


_CURRENCY_BEFORE = re.compile(r"(?:[£$€¥₹]|\b(?:usd|eur|gbp|us\$))\s?$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(
    r"\s?(?:[£$€¥₹]|(?:pounds?|dollars?|euros?|cents?|pence|p(?!\.m\b)|yen|francs?|rupees?|usd|eur|gbp)\b)",
    re.IGNORECASE,
)
# A sum written with its unit run on: "40p", "75c".
_MONEY_TOKEN = re.compile(r"\d[\d,.]*(?:p|c|ct)", re.IGNORECASE)


def _is_money(plain: str, span: re.Match) -> bool:
    return bool(
        _CURRENCY_BEFORE.search(plain, 0, span.start())
        or _CURRENCY_AFTER.match(plain, span.end())
        or _MONEY_TOKEN.fullmatch(span.group(0))
    )


# Words that say when without a figure: a month, a day of the week, a season, a part of the day.
_TIME_WORD = re.compile(
    r"(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?|january|february|march|april|may|june|july|august"
    r"|september|october|november|december|(?:mon|tues|wednes|thurs|fri|satur|sun)days?|weekends?|weekdays?"
    r"|spring|summer|autumn|winter|noon|midday|midnight|mornings?|afternoons?|evenings?|tonight|today|tomorrow|yesterday",
    re.IGNORECASE,
)


def _by_month(tokens: list[str], at: int) -> bool:
    """Whether the figure at ``at`` stands right by a month's name ("Dec 2017", "3 March")."""
    return any(0 <= j < len(tokens) and _MONTH.fullmatch(tokens[j]) for j in (at - 1, at + 1))


# A figure stated as a minimum: "at least 3", "a minimum of 50", "no fewer than 10".
_AT_LEAST = re.compile(
    r"\b(?:at least|a minimum of|minimum of|no fewer than|no less than|not less than)\s*$", re.IGNORECASE
)
