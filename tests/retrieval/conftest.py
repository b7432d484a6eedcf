from __future__ import annotations

import pytest

from chat.files import store_file
from chat.retrieval import ingest
from tests.fixtures import GPT2_PDF, TRANSFORMER_PDF

GPT2 = GPT2_PDF
TRANSFORMER = TRANSFORMER_PDF


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
