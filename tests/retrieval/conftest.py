from __future__ import annotations

from pathlib import Path

import pytest

from chat.files import store_file
from chat.retrieval import ingest

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
GPT2 = FIXTURES / "language_models_are_unsupervised_multitask_learners.pdf"
TRANSFORMER = FIXTURES / "attention_is_all_you_need.pdf"


@pytest.fixture(autouse=True)
def _ingest_inline(monkeypatch):
    """Ingest inside the test's transaction instead of a background thread."""
    monkeypatch.setattr(ingest, "runner", lambda ids, thread_id: ingest.ingest_now(ids, thread_id))


@pytest.fixture
def upload(alice):
    def make(name: str, data: bytes, owner=None):
        return store_file(owner or alice, name, data)

    return make


@pytest.fixture
def gpt2_bytes() -> bytes:
    return GPT2.read_bytes()


@pytest.fixture
def transformer_bytes() -> bytes:
    return TRANSFORMER.read_bytes()
