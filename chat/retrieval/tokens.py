"""Counting chunk tokens with the ``RETRIEVAL_ENCODING`` tiktoken encoding (built offline
by ``chat.tokens``). If its file is missing, the approximation is used and
``encoding_name()`` says "approx", so the chunking key changes and nothing is mixed up."""

from __future__ import annotations

from django.conf import settings

from chat import tokens


def encoding(name: str | None = None):
    """The tiktoken Encoding, or None when it cannot be built offline."""
    return tokens.encoding(name or settings.RETRIEVAL_ENCODING)


def encoding_name() -> str:
    return settings.RETRIEVAL_ENCODING if encoding() is not None else "approx"


class Tokenizer(tokens.Tokenizer):
    def __init__(self) -> None:
        super().__init__(settings.RETRIEVAL_ENCODING)
