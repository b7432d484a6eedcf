"""Dense embeddings from the OpenAI-compatible server's embeddings endpoint.

Off unless RETRIEVAL_EMBEDDING_MODEL names a model and a server is configured
(OPENAI_BASE_URL or OPENAI_API_KEY). Vectors are stored as float32 and compared by
cosine similarity in Python: fine for a course's worth of chunks.
"""

from __future__ import annotations

import math
from array import array

from django.conf import settings

BATCH = 64


def available() -> bool:
    return bool(settings.RETRIEVAL_EMBEDDING_MODEL and (settings.OPENAI_BASE_URL or settings.OPENAI_API_KEY))


def _client():
    from openai import OpenAI

    return OpenAI(
        api_key=settings.OPENAI_API_KEY or "not-needed",
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=settings.OPENAI_TIMEOUT,
        max_retries=settings.OPENAI_MAX_RETRIES,
    )


def embed(texts: list[str]) -> list[list[float]]:
    client, vectors = _client(), []
    for start in range(0, len(texts), BATCH):
        response = client.embeddings.create(model=settings.RETRIEVAL_EMBEDDING_MODEL, input=texts[start : start + BATCH])
        vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
    return vectors


def unpack(blob: bytes) -> array:
    vector = array("f")
    vector.frombytes(bytes(blob))
    return vector


def cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
