"""chat.tokens: a prompt's texts are counted once while they stay in use, within a bound."""

from __future__ import annotations

from chat import tokens

INSTRUCTIONS = "You are a patient maths tutor. Explain each step, then check the answer. " * 20


def _prompt(question: str) -> list[dict]:
    return [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": "Solve 2x + 3 = 7"},
        {"role": "assistant", "content": "Subtract 3 from both sides: 2x = 4, so x = 2."},
        {"role": "user", "content": question},
    ]


def test_a_later_prompt_encodes_only_its_new_text(monkeypatch):
    model = "gpt-4o-mini"
    schemas = [{"type": "function", "function": {"name": "grade", "parameters": {"type": "object"}}}]
    first = tokens.prompt_tokens(_prompt("And 3x = 9?"), model, schemas)
    encoded: list[str] = []
    original = tokens.Tokenizer.encode

    def counted(self, text):
        encoded.append(text)
        return original(self, text)

    monkeypatch.setattr(tokens.Tokenizer, "encode", counted)
    second = tokens.prompt_tokens(_prompt("And 5x = 10?"), model, schemas)
    assert encoded == ["And 5x = 10?"]  # the instructions, history, roles and schemas were kept
    fresh = tokens.Tokenizer(tokens.encoding_for_model(model))
    assert second - first == fresh.count("And 5x = 10?") - fresh.count("And 3x = 9?")
    assert tokens.prompt_tokens(_prompt("And 5x = 10?"), model, schemas) == second


def test_kept_counts_stay_within_their_bound():
    kept = tokens.KeptCounts(limit=120)
    for i in range(10):
        kept.put(f"text number {i:02d}", i)  # 14 characters each
    assert kept.chars == 112 and len(kept.counts) == 8
    assert kept.get("text number 01") is None and kept.get("text number 09") == 9
    kept.get("text number 02")  # used: kept over 03 when the next one comes
    kept.put("text number 10", 10)
    assert kept.get("text number 02") == 2 and kept.get("text number 03") is None
    kept.put("x" * 16, 1)  # longer than an eighth of the bound: not kept
    assert kept.get("x" * 16) is None


def test_made_up_model_names_share_one_tokenizer_per_encoding():
    # A model name is an assistant's free text: each new name must not bring its own kept counts.
    for i in range(1000):
        tokens.prompt_tokens(_prompt(f"Question {i}?"), f"my-own-model-{i}")
    tokens.prompt_tokens(_prompt("Question?"), "gpt-4o")
    assert tokens.tokenizer.cache_info().currsize <= len(tokens.ENCODINGS)
    assert tokens.encoding_for_model.cache_info().currsize <= 1024
    assert tokens.tokenizer_for_model("made-up-a") is tokens.tokenizer_for_model("made-up-b")
