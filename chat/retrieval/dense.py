"""Dense embeddings: an OpenAI-compatible server's embeddings endpoint, or the built-in
model on the CPU.

Off unless RETRIEVAL_EMBEDDING_MODEL names a model. ``local-minilm`` is the built-in one
(all-MiniLM-L6-v2 run with NumPy, see ``minilm``; its weights come from a package, so
nothing is downloaded at run time); any other name is asked of the server configured by
OPENAI_BASE_URL / OPENAI_API_KEY. Both answer ``embed(texts) -> one vector per text``.

The built-in model reads at most 256 word pieces, a third of a chunk, so a chunk is
embedded as several overlapping windows and its vectors are stored one after another in
``Chunk.embedding`` (float32); a chunk scores by its best window, as lexical search ranks
a chunk by its best passage. A server's model reads a whole chunk: one vector.
"""

from __future__ import annotations

import re

import numpy as np
from django.conf import settings

from chat.retrieval import minilm

BATCH = 64
LOCAL_MINILM = "local-minilm"
LOCAL_MODELS = (LOCAL_MINILM,)
# ~200 word pieces of English prose: inside the built-in model's 256. Windows do not overlap:
# chunks already do, and every word embedded costs ~20 MFLOP.
WINDOW_WORDS = 150
_WORD = re.compile(r"\S+")


def is_local() -> bool:
    return settings.RETRIEVAL_EMBEDDING_MODEL in LOCAL_MODELS


def available() -> bool:
    if not settings.RETRIEVAL_EMBEDDING_MODEL:
        return False
    if is_local():
        return minilm.installed()
    return bool(settings.OPENAI_BASE_URL or settings.OPENAI_API_KEY)


def _client():
    from openai import OpenAI

    return OpenAI(
        api_key=settings.OPENAI_API_KEY or "not-needed",
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=settings.OPENAI_TIMEOUT,
        max_retries=settings.OPENAI_MAX_RETRIES,
    )


def embed(texts: list[str]) -> list[list[float]]:
    """One vector per text, from the configured model."""
    if is_local():
        return [list(v) for v in minilm.model().embed(texts)]
    client, vectors = _client(), []
    for start in range(0, len(texts), BATCH):
        response = client.embeddings.create(model=settings.RETRIEVAL_EMBEDDING_MODEL, input=texts[start : start + BATCH])
        vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
    return vectors


def windows(text: str) -> list[str]:
    """The pieces of a chunk the model embeds: the whole chunk for a server's model,
    windows of WINDOW_WORDS words for the built-in one."""
    if not is_local():
        return [text]
    words = _WORD.findall(text)
    if len(words) <= WINDOW_WORDS:
        return [text]
    return [" ".join(words[s : s + WINDOW_WORDS]) for s in range(0, len(words), WINDOW_WORDS)]


def embed_chunks(texts: list[str]) -> list[list[float]]:
    """For each chunk, its windows' vectors one after another (one vector when whole)."""
    pieces = [windows(text) for text in texts]
    flat = embed([p for chunk in pieces for p in chunk])
    out, at = [], 0
    for chunk in pieces:
        out.append([x for vector in flat[at : at + len(chunk)] for x in vector])
        at += len(chunk)
    return out


def unpack(blob: bytes) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype=np.float32)


def best_similarity(query_vector, blob: bytes) -> float:
    """Cosine similarity of the query and the chunk's best window."""
    query = np.asarray(query_vector, dtype=np.float32)
    vectors = unpack(blob)
    if not query.size or vectors.size % query.size:
        return 0.0  # embedded by a model of another size
    vectors = vectors.reshape(-1, query.size)
    norms = np.linalg.norm(vectors, axis=1) * (np.linalg.norm(query) or 1.0)
    return float(np.max(vectors @ query / np.where(norms == 0, 1.0, norms)))


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm else 0.0
