"""Whether a sentence holds the kind of answer a question asks for (``_strength``), for the
offline model's sentence choice (``answers``): a figure by what is asked, a name by the
kind of thing asked, a definition, a reason, a consequence, a conclusion, a way of doing.
"""

from __future__ import annotations

import re

from chat.retrieval.figures import (
    _AT_LEAST,
    _CITATION,
    _MEASURED,
    _PERCENT,
    _REFERENCE,
    _RESPECTIVELY,
    _TIME_WORD,
    _TOKEN,
    _YEAR,
    RESPECTIVE_NEAR,
    _by_month,
    _compared,
    _counts_absence,
    _is_figure,
    _is_money,
    _measures_by,
    _near,
    _supposed,
)
from chat.retrieval.matching import _CLOCK, PREFIX_LETTERS, _stem_of
from chat.retrieval.passages import stem
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
)
from chat.retrieval.search import STOPWORDS

# Names: "WebText", "GPT", "Reddit", "P100".
_PROPER = re.compile(r"(?<!^)(?<![.!?]\s)\b(?:[A-Z][a-z]+[A-Z]\w*|[A-Z]{2,}\w*|[A-Z]+\d+\w*|[A-Z][a-z]{2,})\b")
_DEFINES = re.compile(r"\b(is|are|refers? to|means|consists? of|is called|we call|called|known as|defined as)\b")
_BECAUSE = re.compile(
    r"\b(because|since|due to|in order to|so that|to counteract|to avoid|to prevent|this (is|was) why"
    # What a thing brings about answers why it is (or is avoided): "This results in a
    # sub-optimal allocation", "This sequential nature precludes parallelization".
    r"|results? in|resulting in|leads? to|led to|precludes?|prevents?|limits?|makes? it (hard|difficult|impossible)"
    r"|as a result|therefore|thus|hence)\b",
    re.IGNORECASE,
)
# A way of doing something: "by a factor of …", "using …", "via …".
# "Followed by layer normalization", "used by the model": a doer or a sequence, not a way.
_WAY = re.compile(r"(?<!followed )(?<!used )\b(by (?:an?|\w+ing)|using|via)\b", re.IGNORECASE)
# A conclusion drawn: "This suggests that determining compatibility is not easy".
_CONCLUDES = re.compile(
    r"\b(suggests?|suggested|indicates?|indicated|implies|implied|(shows?|showed|shown|demonstrates?|demonstrated) that"
    r"|we conclude|concluded?|this means|meaning that)\b",
    re.IGNORECASE,
)


# A consequence: "grow large ..., pushing the softmax into regions where ...".
_CONSEQUENCE = re.compile(
    r"\b(grows?|grew|growing|push(es|ing)?|causes?|caused|causing|leads? to|led to|results? in|resulting in|"
    r"suffers?|vanish\w*|explod\w*|degrad\w*|hurts?|fails?|failing|unstable|instability|worse|drops?|"
    r"problems?|harder|slows?|saturat\w*)\b",
    re.IGNORECASE,
)
# Where something is: "moved to the input of each sub-block", "from Reddit".
_PLACE = re.compile(r"\b(to|at|in|into|inside|from|on|before|after|between) (the|each|every|a|an)\b")


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
        for a, b, directed in stated
        for c, d, asked_directed in asked
    )


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
# In apposition the name may take an article: "a single model, the MQAN, …".
_WORD_THEN_NAME = re.compile(r"([^\W_]+)(?:,\s*(?:(?:the|an?)\s+)?|\s+(?:called|named|dubbed|known as)\s+|\s+\(|\s+)$")
_NAME_THEN_WORD = re.compile(r"\s+([^\W_]+)")


def _same_kind(word: str, heads: set[str]) -> bool:
    return word in heads or any(
        len(word) > PREFIX_LETTERS
        and len(head) > PREFIX_LETTERS
        and word[: PREFIX_LETTERS + 1] == head[: PREFIX_LETTERS + 1]
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
    r"^why (?:not|(?:\w+ )?(?:n['’]t|not)\b)|^why\b.*\b(?:bad idea|avoid\w*|exclud\w*|remov\w*|left out|taken out|drop(?:ped)?|not use\w*)\b"
)
_PROBLEM = re.compile(
    r"\b(?:issues?|problems?|problematic|drawbacks?|limitations?|unintelligible|noisy|low[- ]quality|poor(?:ly)?|errors?"
    r"|unreliable|impractical|infeasible|prohibitive\w*|expensive|costly|hard to|difficult to|cannot|can['’]t|not able)\b",
    re.IGNORECASE,
)
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
_LABEL_BEFORE = re.compile(r"\b[A-Z][a-z]+ $")
_CONTRAST = re.compile(r"^\W*(?:in contrast|by contrast|on the other hand|conversely|unlike)\b", re.IGNORECASE)


def _strength(
    kind: str,
    sentence: str,
    wanted: set[str],
    question_words: set[str],
    years: bool = False,
    focus: set[str] | None = None,
    asked: list[str] | None = None,
    place: bool = False,
    compares: bool = False,
    naming: bool = False,
    kinds: set[str] | None = None,
    phrase: tuple[str, set[str]] | None = None,
    who: bool = False,
    against: bool = False,
    minimum: bool | None = None,
    measures: frozenset[str] = frozenset(),
    per: frozenset[str] = frozenset(),
    absent: bool = True,
    counting: bool = False,
    dated: bool = False,
    container: frozenset[str] = frozenset(),
    clock: bool = False,
    priced: bool = False,
    timed: bool = False,
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
        untimed = False
        if timed:
            # "When does the club meet?": a time (a year, a date, a day, a time of day, a
            # season) is the answer, digits or none ("every Tuesday", "at noon"); a count
            # ("24 members") says when less surely, unless it is all there is ("after 4000 steps").
            times = [(m.start(), m.end()) for m in _CLOCK.finditer(plain)]
            spots = [
                i
                for i, m in enumerate(spans)
                if _TIME_WORD.fullmatch(tokens[i])
                or any(start <= m.start() < end for start, end in times)
                or (i in numbers and (_YEAR.match(tokens[i]) or _by_month(tokens, i)))
            ]
            if spots:
                return max(_near(tokens, spots, focus), 0.8)
            untimed = True
        if dated:
            # "What date …?": a year, or a figure by a month's name ("Dec 2017"), not a count.
            numbers = [i for i in numbers if _YEAR.match(tokens[i]) or _by_month(tokens, i)]
        if kind == SHARE:
            numbers = [
                i
                for i in numbers
                if tokens[i].endswith("%") or _PERCENT.search(plain[spans[i].start() : spans[i].end() + 9])
            ]
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
            # "Room 12", "Year 5": a number after a capitalised word names a thing, it is no sum.
            numbers = [i for i in numbers if not _LABEL_BEFORE.search(plain, 0, spans[i].start())]
            if not numbers:
                return 0.0
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
        other = (
            bool(phrase) and phrase[0] not in {_stem_of(t) for t in tokens} and _near(tokens, numbers, phrase[1]) == 1.0
        ) or (not compares and bool(_CONTRAST.match(plain)))
        # "How many tokens per batch?": a figure right by the item ("8 batches") counts the
        # items, not what each one holds, unless it stands as near what is asked.
        if container and not container & {_stem_of(t) for t in tokens}:
            # "How many tokens are in the final vocabulary?": a figure of tokens in a sentence
            # naming no vocabulary counts the tokens of something else ("a context of 1024 tokens").
            other = True
        if per and not other and _near(tokens, numbers, per) == 1.0 and by_focus < 1.0:
            other = True
        scale = (OTHER_THING if other else 1.0) * (OTHER_THING if untimed else 1.0)
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
            i
            for i, word in enumerate(words)
            if i
            and stem(word) in head_stems
            and stem(words[i - 1]) not in question_words
            and words[i - 1] not in STOPWORDS
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
