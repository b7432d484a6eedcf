"""Words a student uses for what course material calls something else.

A small, general list (no paper's terms, no answers): everyday words for the vocabulary of
papers, textbooks and lecture notes. Each group's words stand in for each other; a query
word also searches for the rest of its group, at a lower weight than the word itself
(``SYNONYM_WEIGHT``), so a passage that uses the student's own word still ranks first.
Matching is on Snowball stems, so "biggest" finds "largest" and "larger" too.
"""

from __future__ import annotations

import functools
import re

from chat.retrieval.passages import stem

SYNONYM_WEIGHT = 0.5

GROUPS = [
    # size and amount
    "big large huge biggest largest",
    "small little tiny smallest",
    "number count amount quantity",
    "average mean",
    "wide width",
    "deep depth",
    "long length",
    "fast quick quickly speed rapid",
    "gigabytes gb",
    "megabytes mb",
    # people and things
    "people humans human person",
    "author researcher",
    "example instance sample",
    "kind type sort variety",
    "weights parameters params",
    "skip residual shortcut",
    "step update iteration",
    "gpu gpus",
    "child children kid kids",
    "book novel story",
    "label annotation tag",
    "answer response reply",
    "prompt input",
    "copy duplicate",
    "part piece portion component",
    "picture image photo",
    "snapshot checkpoint",
    "corpus dataset",
    "word token",
    "vocabulary lexicon",
    "figure plot chart graph diagram",
    # doing
    "stop prevent",
    "leave omit exclude remove",
    "clean filter",
    "split divide partition",
    "combine merge join",
    "move relocate shift",
    "change modify alter",
    "pick choose select",
    "find discover identify detect",
    "look attend",
    "predict guess",
    "syntax parse parsing grammar",
    "generate produce create write",
    "extract pull",
    "vector embedding",
    "memorize memorise remember",
    "improve increase boost enhance",
    "reduce decrease lower",
    "begin start",
    "need require",
    "happen occur",
    # judging
    "score accuracy performance",
    "mistake error",
    "wrong incorrect",
    "right correct exact",
    "hard difficult challenging",
    "easy simple",
    "method approach technique way",
    "goal aim objective purpose",
    "problem issue",
    "result outcome finding",
    "cost expense price",
    # time and order
    "later subsequent following",
    "earlier previous preceding prior",
    "first original initial",
    "end final last",
    "often frequently common",
    "rare infrequent uncommon",
]
# One-way: a student's general word for what papers write out in particular terms.
RELATED = {
    "math": ("probability", "equation", "conditional", "distribution"),
    "maths": ("probability", "equation"),
    "formula": ("equation",),
    "benchmark": ("dataset", "test", "task"),
    "data": ("dataset", "corpus"),
    # Course abbreviations a student types for what a paper writes out.
    "qa": ("question", "answering"),
    "nlp": ("natural", "language", "processing"),
    "lm": ("language", "model"),
    "lms": ("language", "models"),
    "mt": ("machine", "translation"),
    "nmt": ("neural", "machine", "translation"),
    "rl": ("reinforcement", "learning"),
    "ml": ("machine", "learning"),
    "nn": ("neural", "network"),
    "cnn": ("convolutional", "network"),
    "rnn": ("recurrent", "network"),
    "lr": ("learning", "rate"),
    "sota": ("state", "art"),
    "hardware": ("gpu", "gpus", "tpu", "cpu", "machine"),
    "graphics": ("gpu", "gpus"),  # "graphics card"
    "encyclopedia": ("wikipedia",),
    "window": ("context",),  # "input window": the context a model reads
    # A table gives sizes "×10^6"; a PDF's text loses the superscript ("params ×106").
    "million": ("106",),
    "billion": ("109",),
}


# A verb's irregular forms are the same word, which stemming cannot see: "how long did a step
# take" is answered by "each step took 0.4 seconds" (the answer rules read them as one, see
# ``verb_base``; the search does not, its recall fell). Forms that are also other words
# ("left", "saw", "lead") are left out.
IRREGULAR_VERBS = (
    "take took taken, make made, give gave given, find found, get got gotten, go went gone, see seen, "
    "grow grew grown, write wrote written, run ran, begin began begun, build built, choose chose chosen, "
    "hold held, keep kept, know knew known, mean meant, pay paid, say said, send sent, spend spent, "
    "teach taught, think thought, win won, bring brought, buy bought, come came, do did done, draw drew drawn, "
    "fall fell fallen, feel felt, forget forgot forgotten, hear heard, rise rose risen, speak spoke spoken, "
    "stand stood, throw threw thrown, understand understood, break broke broken, catch caught, seek sought, sit sat"
).split(", ")


# British spellings a student may type; papers mostly use the American ones.
_BRITISH = re.compile(r"(?<=\w{3})is(e|es|ed|er|ers|ing|ation|ations)$")


# A word undoing another is about the same thing: "unscaled" and "scaled",
# "disambiguation" and "ambiguities".
_NEGATION = re.compile(r"^(un|dis|non-?)")


@functools.cache
def _table() -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for group in GROUPS:
        words = group.split()
        for word in words:
            table.setdefault(stem(word), []).extend(w for w in words if stem(w) != stem(word))
    for word, related in RELATED.items():
        table.setdefault(stem(word), []).extend(related)
    return {key: tuple(dict.fromkeys(words)) for key, words in table.items()}


@functools.cache
def verb_bases() -> dict[str, str]:
    """The stem of a verb's base form for the stem of each of its irregular forms ("took" → "take")."""
    return {stem(form): stem(group.split()[0]) for group in IRREGULAR_VERBS for form in group.split()[1:]}


def verb_base(word_stem: str) -> str:
    """The stem of a verb's base form for the stem of one of its irregular forms, else the stem itself."""
    return verb_bases().get(word_stem, word_stem)


def weighted(words: list[str]) -> dict[str, float]:
    """The query's words at weight 1, their synonyms at ``SYNONYM_WEIGHT``."""
    weights = dict.fromkeys(words, 1.0)
    for word in words:
        weights.setdefault(_BRITISH.sub(r"iz\1", word), 1.0)
    for word in words:
        for other in _table().get(stem(word), ()):
            weights.setdefault(other, SYNONYM_WEIGHT)
        root = _NEGATION.sub("", word)
        if root != word and len(root) >= 5:
            weights.setdefault(root, SYNONYM_WEIGHT)
    return weights
