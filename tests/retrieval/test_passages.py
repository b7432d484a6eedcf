"""Lexical ranking pieces: best-passage scoring, stems, synonyms, the query's words."""

from __future__ import annotations

import pytest

from chat.retrieval import passages, search, synonyms
from chat.retrieval.ingest import index_file

FILLER = "Unrelated words about weather, cooking and gardening fill this part of the page. " * 12


def test_a_chunk_scores_by_its_best_passage_not_by_scattered_mentions():
    together = FILLER + "The encoder stack has six identical layers with residual connections. " + FILLER
    scattered = "encoder. " + FILLER + " stack. " + FILLER + " layers." + FILLER
    scores = passages.best_passage_scores({"encoder": 1.0, "stack": 1.0, "layers": 1.0}, {1: together, 2: scattered})
    assert scores[1] > scores[2] > 0


def test_words_match_by_their_stems_and_ligatures_are_unfolded():
    scores = passages.best_passage_scores({"filtering": 1.0, "layer": 1.0}, {1: "The ﬁlters of each layers.", 2: "Nothing."})
    assert scores[1] > 0 and scores[2] == 0
    assert passages.stem("normalizations") == passages.stem("normalization")


def test_a_synonym_counts_but_less_than_the_word_itself():
    weights = synonyms.weighted(["biggest", "corpus"])
    assert weights["biggest"] == 1.0 and weights["largest"] == synonyms.SYNONYM_WEIGHT
    assert weights["dataset"] == synonyms.SYNONYM_WEIGHT
    own = passages.best_passage_scores({"biggest": 1.0, "largest": 0.5}, {1: "the biggest model", 2: "the largest model"})
    assert own[1] > own[2] > 0


def test_british_spellings_also_search_the_american_ones():
    assert synonyms.weighted(["optimiser"])["optimizer"] == 1.0
    assert synonyms.weighted(["normalisation"])["normalization"] == 1.0


def test_question_words_are_not_searched():
    assert search.terms("How many tokens of context can the model see?") == ["tokens", "context", "model", "see"]


@pytest.mark.django_db
def test_the_chunk_whose_passage_holds_the_words_together_ranks_first(upload):
    # Whole-chunk BM25 prefers the shorter file; the passage with all three words is in the longer.
    scattered = index_file(upload("scattered.md", ("context. " + FILLER + " tokens. " + FILLER + " size.").encode()))
    together = index_file(upload("together.md", (FILLER * 2 + "We increase the context size from 512 to 1024 tokens. " + FILLER).encode()))
    hits = search.search("What context size in tokens?", [scattered.id, together.id], 2, mode="lexical")
    assert [h.chunk.document_id for h in hits] == [together.id, scattered.id]


def test_a_pasted_page_searches_with_a_bounded_number_of_words():
    page = " ".join(f"word{i}" for i in range(5000))
    assert len(search.terms(page)) == search.MAX_QUERY_TERMS
    assert len(synonyms.weighted(search.terms(page))) <= 2 * search.MAX_QUERY_TERMS
