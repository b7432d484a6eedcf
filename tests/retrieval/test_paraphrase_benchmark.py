"""The paraphrased question set (bench/questions_paraphrase.json) against the two papers,
lexical search only, deterministic (no timing). The ranking was tuned on one half; the
held-out half was not looked at while tuning."""

from __future__ import annotations

import pytest
from django.db import connection

from bench import retrieval as bench
from chat.retrieval.ingest import index_file
from tests.fixtures import GPT2_PDF, TRANSFORMER_PDF

pytestmark = pytest.mark.django_db

# What the current ranking reaches (see docs/benchmarks.md); a change that lowers it fails.
# Both halves have since been tuned on (the held-out half's misses were published), so the
# issue's aim (0.9 on questions not tuned on) is measured on a fresh set, not here.
# PostgreSQL's `english` configuration finds other candidates than SQLite's FTS5 porter
# tokenizer, so each backend has its own floors (measured: tuning half 0.96 / 0.92,
# held-out half 1.00 / 1.00; answer-first over both halves, lexical, 0.82 / 0.76).
TUNE_RECALL_FLOOR = {"sqlite": 0.96, "postgresql": 0.92}
HELD_OUT_RECALL_FLOOR = {"sqlite": 1.0, "postgresql": 1.0}
ANSWER_FIRST_FLOOR = {"sqlite": 0.80, "postgresql": 0.74}


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


def test_lexical_recall_at_5(papers):
    by_id = {document_id: file.filename for document_id, file in papers.items()}
    sets = bench.question_sets()
    assert bench.recall(sets["original"], by_id, "lexical").found == 1.0
    assert bench.recall(sets["paraphrased, tuning half"], by_id, "lexical").found >= TUNE_RECALL_FLOOR[connection.vendor]
    assert bench.recall(sets["paraphrased, held-out half"], by_id, "lexical").found >= HELD_OUT_RECALL_FLOOR[connection.vendor]


def test_answers_lead_with_the_expected_answer(papers):
    questions = bench.paraphrased("tune") + bench.paraphrased("held-out")
    share, _wrong = bench.answer_first(questions, papers, mode="lexical")
    assert share >= ANSWER_FIRST_FLOOR[connection.vendor], share
