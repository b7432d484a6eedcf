"""Search: full-text ranking, dense vectors when configured, fusion, thresholds."""

from __future__ import annotations

import pytest

from chat.retrieval import dense, search
from chat.retrieval.ingest import index_file

pytestmark = pytest.mark.django_db

TOPICS = {
    "optics.md": b"Snell's law describes refraction of light at the boundary between two media.",
    "cells.md": b"Mitochondria produce ATP through cellular respiration in eukaryotic cells.",
    "stats.md": b"A p-value is the probability of data at least as extreme under the null hypothesis.",
}


@pytest.fixture
def documents(upload):
    return {name: index_file(upload(name, data)).id for name, data in TOPICS.items()}


def test_lexical_search_ranks_the_matching_file_first(documents):
    hits = search.search("How does light refract?", list(documents.values()), 3, mode="lexical")
    assert hits[0].chunk.document_id == documents["optics.md"]
    assert hits[0].score == 1.0


def test_search_only_looks_in_the_given_documents(documents):
    hits = search.search("refraction of light", [documents["cells.md"]], 3, mode="lexical")
    assert all(h.chunk.document_id == documents["cells.md"] for h in hits)


def test_a_score_threshold_drops_weak_results(documents):
    hits = search.search("light probability cells", list(documents.values()), 3, threshold=0.99)
    assert len(hits) == 1


def test_a_question_of_only_stopwords_still_searches(documents):
    assert search.terms("what is the") == ["what", "is", "the"]


def test_dense_and_fused_rankings_use_the_embeddings_endpoint(settings, fake_openai, upload):
    """Through the real openai SDK against tests/fake_openai.py's /v1/embeddings
    (hashed bag-of-words vectors in the real wire format, base64 floats included)."""
    settings.RETRIEVAL_EMBEDDING_MODEL = "text-embedding-test"
    settings.OPENAI_BASE_URL = fake_openai.base_url
    settings.OPENAI_MAX_RETRIES = 0
    ids = {name: index_file(upload(name, data)).id for name, data in TOPICS.items()}
    assert all(r.path.endswith("/embeddings") for r in fake_openai.requests)
    assert fake_openai.requests and fake_openai.requests[0]["model"] == "text-embedding-test"
    dense_hits = search.search("light refraction lens", list(ids.values()), 3, mode="dense")
    assert dense_hits[0].chunk.document_id == ids["optics.md"]
    fused = search.search("light refraction", list(ids.values()), 3, mode="hybrid")
    assert fused[0].chunk.document_id == ids["optics.md"]
    assert set(fused[0].ranks) == {"lexical", "dense"}


def test_a_failing_embeddings_endpoint_leaves_lexical_search_working(settings, monkeypatch, upload):
    settings.RETRIEVAL_EMBEDDING_MODEL = "text-embedding-test"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"

    def down(texts):
        raise ConnectionError("endpoint down")

    monkeypatch.setattr(dense, "embed", down)
    document = index_file(upload("optics.md", TOPICS["optics.md"]))
    assert document.status == "ready" and not document.embedding_model
    hits = search.search("refraction", [document.id], 3)
    assert hits and hits[0].chunk.document_id == document.id


@pytest.mark.parametrize("searched", ["all", "some"])
def test_many_documents_are_searched_correctly(upload, searched):
    ids = [index_file(upload(f"n{i}.md", f"Topic {i}: refraction of light, note number {i}.".encode())).id for i in range(15)]
    wanted = ids if searched == "all" else ids[1:]  # more documents than RANGE_QUERIES either way
    hits = search.search("refraction light", wanted, 12, mode="lexical")
    assert len(hits) == 12 and {h.chunk.document_id for h in hits} <= set(wanted)
    assert ids[0] not in {h.chunk.document_id for h in hits} or searched == "all"


def test_when_other_peoples_chunks_rank_higher_the_filter_still_finds_ours(upload):
    others = [index_file(upload(f"o{i}.md", f"Refraction refraction refraction of light {i}.".encode())).id for i in range(20)]
    ours = [
        index_file(upload(f"m{i}.md", f"A long note {i} about many things, mentioning refraction once among lots of other words.".encode())).id
        for i in range(13)
    ]
    hits = search.search("refraction", ours, 3, mode="lexical")
    assert len(hits) == 3 and {h.chunk.document_id for h in hits} <= set(ours)
    assert not set(others) & {h.chunk.document_id for h in hits}


def test_a_search_reads_the_first_characters_of_a_query_and_each_name_once(monkeypatch):
    assert search.name_numbers("GPT-2 " * 50_000)["2"].pattern.count("GPT") == 1
    read = []
    monkeypatch.setattr(search, "lexical", lambda query, document_ids, limit: read.append(query) or [])
    search.search("triangle " * 100_000, [1], mode="lexical")
    assert len(read[0]) == search.SEARCH_QUERY_MAX
