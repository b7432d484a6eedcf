"""The paraphrased question set (bench/questions_paraphrase.json) against the two papers,
lexical search only, deterministic (no timing). The ranking was tuned on one half; the
held-out half was not looked at while tuning."""

from __future__ import annotations

import pytest
from django.db import connection

from bench import retrieval as bench
from chat.retrieval.extract import extract
from chat.retrieval.ingest import index_file
from tests.fixtures import FIXTURES, GPT2_PDF, TRANSFORMER_PDF

pytestmark = pytest.mark.django_db

# What the current ranking reaches (see docs/benchmarks.md); a change that lowers it fails.
# Both halves have since been tuned on (the held-out half's misses were published), so the
# issue's aim (0.9 on questions not tuned on) is measured on a fresh set, not here.
# PostgreSQL's `english` configuration finds other candidates than SQLite's FTS5 porter
# tokenizer, so each backend has its own floors (measured: tuning half 0.96 / 0.92,
# held-out half 1.00 / 1.00; answer-first over both halves, lexical, 0.82 / 0.76). SQLite's
# tuning half reached 1.00 with the section-heading rule (2026-11-30); SQLite's answer-first
# over both halves 0.82 -> 0.84 with h-ans's answer rules (2026-11-30).
TUNE_RECALL_FLOOR = {"sqlite": 1.00, "postgresql": 0.92}
# One held-out question sits at rank 5 or 6 depending on chunk ids: one miss is allowed.
HELD_OUT_RECALL_FLOOR = {"sqlite": 0.95, "postgresql": 0.95}
ANSWER_FIRST_FLOOR = {"sqlite": 0.82, "postgresql": 0.74}


@pytest.fixture
def papers(upload):
    files = {}
    for path in (GPT2_PDF, TRANSFORMER_PDF):
        file = upload(path.name, path.read_bytes())
        files[index_file(file).id] = file
    return files


def test_the_set_has_forty_questions_or_more_split_in_two_halves():
    tune, held_out = bench.paraphrased("tune"), bench.paraphrased("held-out")
    assert len(tune) + len(held_out) >= 40 and abs(len(tune) - len(held_out)) <= 2
    assert not {q.text for q in tune} & {q.text for q in held_out}
    assert all(q.answers and q.pages for q in tune + held_out)


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("split", "name"), [(split, name) for split, (_, name) in bench.FRESH_SETS.items()])
def test_each_fresh_set_has_forty_questions_or_more_unseen_elsewhere_and_answered_on_their_pages(split, name):
    """bench/questions_fresh*.json: written after the tuning; each answer string must be on one
    of its question's pages as the project extracts them, and each of those pages must hold one."""
    fresh = bench.paraphrased(split)
    assert len(fresh) >= 40
    texts = [q.text for q in fresh]
    assert len(set(texts)) == len(texts)
    others = {q.text for set_name, questions in bench.question_sets().items() if set_name != name for q in questions}
    assert not set(texts) & others
    pages = {
        paper: {number: _words(text) for number, text in extract(paper, (FIXTURES / paper).read_bytes())[1]}
        for paper in (GPT2_PDF.name, TRANSFORMER_PDF.name)
    }
    for question in fresh:
        assert question.answers and question.pages, question.text
        assert question.pages <= pages[question.paper].keys(), question.text
        on_pages = [pages[question.paper][number] for number in sorted(question.pages)]
        for answer in question.answers:
            assert any(_words(answer) in page for page in on_pages), (question.text, answer)
        for number, page in zip(sorted(question.pages), on_pages, strict=True):
            assert any(_words(answer) in page for answer in question.answers), (question.text, number)


def test_the_answer_table_counts_every_split_but_lists_misses_only_of_the_sets_tuned_on():
    shares = {(split, mode): (0.5, [f"missed in {split}"]) for split in bench.ANSWER_SPLITS for mode in ("lexical",)}
    table = bench.answer_table(shares, ["lexical"])
    assert {"| fresh3 | 0.50 |", "| fresh4 | 0.50 |", "| fresh5 | 0.50 |", "| tune | 0.50 |"} <= set(table.splitlines())
    assert {"missed in tune", "missed in held-out", "missed in fresh", "missed in fresh2"} <= {
        line.split(": ", 1)[1] for line in table.splitlines() if line.startswith("- ")
    }
    assert bench.NEVER_TUNED and not any(f"missed in {split}" in table for split in bench.NEVER_TUNED)


def test_lexical_recall_at_5(papers):
    by_id = {document_id: file.filename for document_id, file in papers.items()}
    sets = bench.question_sets()
    assert bench.recall(sets["original"], by_id, "lexical").found == 1.0
    assert (
        bench.recall(sets["paraphrased, tuning half"], by_id, "lexical").found >= TUNE_RECALL_FLOOR[connection.vendor]
    )
    assert (
        bench.recall(sets["paraphrased, held-out half"], by_id, "lexical").found
        >= HELD_OUT_RECALL_FLOOR[connection.vendor]
    )


def test_answers_lead_with_the_expected_answer(papers):
    questions = bench.paraphrased("tune") + bench.paraphrased("held-out")
    share, _wrong = bench.answer_first(questions, papers, mode="lexical")
    assert share >= ANSWER_FIRST_FLOOR[connection.vendor], share
