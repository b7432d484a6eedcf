"""Splitting a passage into the sentences the offline model may quote."""

from __future__ import annotations

import functools

import pytest

from chat.retrieval import extract, quotes
from chat.retrieval.quotes import LONGEST, SENTENCE, SHORTEST, letter_count
from tests.fixtures import GPT2_PDF, TRANSFORMER_PDF


def _sentences_counted_one_letter_at_a_time(text: str, letters: float = 0.6, words: int = 0) -> list[tuple[int, str]]:
    """``sentences`` as it was before letters were counted in C: the reference its output must equal."""
    found = []
    for match in SENTENCE.finditer(text):
        sentence = match.group(0)
        long_enough = len(sentence) >= SHORTEST or (words and len(sentence.split()) >= words)
        if long_enough and len(sentence) <= LONGEST and sum(ch.isalpha() for ch in sentence) > len(sentence) * letters:
            found.append((match.start(), sentence))
    return found


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Plain ASCII words, 12 digits and_underscores.",
        "“Curly quotes” and an élève’s café in Besançon.",
        "Superscripts and fractions are no letters: x² + ½ = 10³, but ß, Ω and 漢字 are.",
        "Combining marks: e\u0301 and a tab\tand a newline\n.",
    ],
)
def test_letter_count_counts_what_isalpha_counts(text):
    assert letter_count(text) == sum(ch.isalpha() for ch in text)


@functools.cache
def _paper_text(paper) -> str:
    _, pages = extract.extract(paper.name, paper.read_bytes())
    return "\n".join(page_text for _, page_text in pages)


@pytest.mark.parametrize("paper", [GPT2_PDF, TRANSFORMER_PDF], ids=["gpt2", "transformer"])
@pytest.mark.parametrize(("letters", "words"), [(0.6, 0), (0.3, 4), (0.45, 4)])
def test_sentences_of_the_fixture_papers_are_the_same_as_counted_one_letter_at_a_time(paper, letters, words):
    text = _paper_text(paper)
    expected = _sentences_counted_one_letter_at_a_time(text, letters, words)
    assert len(expected) > 100
    assert quotes.sentences(text, letters, words) == expected


def test_et_al_does_not_end_a_sentence():
    text = "As Moss et al. (2019) showed, the marsh floods every spring. It dries out again by the end of June."
    assert [s for _, s in quotes.sentences(text)] == [
        "As Moss et al. (2019) showed, the marsh floods every spring.",
        "It dries out again by the end of June.",
    ]


def test_an_abbreviated_month_or_figure_does_not_end_a_sentence():
    text = "In a post from Aug. 16, the warden wrote about the floods. As Fig. 3 shows, the marsh floods every spring."
    assert [s for _, s in quotes.sentences(text)] == [
        "In a post from Aug. 16, the warden wrote about the floods.",
        "As Fig. 3 shows, the marsh floods every spring.",
    ]
