"""Hybrid search over chunks: the database's full-text engine (SQLite FTS5 with BM25,
or PostgreSQL's tsvector ranking) plus dense vectors when available, fused by
reciprocal-rank fusion (RRF, k=60)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import connection

from chat.retrieval import dense, passages, questions, synonyms
from chat.retrieval.models import Chunk

RRF_K = 60
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours out over own same she should so some such than that the
    their theirs them then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself also may might must shall
    explain describe tell give show list summarize summarise briefly brief two three sentence sentences
    cool interesting please paper pdf document documents file files article according mentioned say says
    behind ml many much use uses used using does""".split()
)
# A query is a question, not a document: past this many distinct words the rest is ignored,
# so a pasted page cannot make one search match (and re-rank) with thousands of terms.
MAX_QUERY_TERMS = 64
# Characters of a query read: reading its terms, cues and names is linear in its length,
# and a megabyte-long "query" (the API's vector store search) held the CPU for seconds.
SEARCH_QUERY_MAX = 4_000


def terms(query: str) -> list[str]:
    """The query's distinct searchable words, in order (question words dropped)."""
    words = [w.lower() for w in _WORD.findall(query)]
    kept = [w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    return (list(dict.fromkeys(kept)) or list(dict.fromkeys(words)))[:MAX_QUERY_TERMS]


# "GPT-2", "WMT-14", "ResNet-50": a name whose number is part of it.
_NAME_NUMBER = re.compile(r"\b([^\W\d_]+)[-‐‑]?(\d+)\b")


def name_numbers(query: str) -> dict[str, re.Pattern]:
    """The query's numbers that belong to a name, each with the pattern of the whole name:
    "2" of "GPT-2" answers nothing as "Table 2" or "WikiText-2" does."""
    found = {}
    for match in _NAME_NUMBER.finditer(query):
        letters, number = match.groups()
        if letters.lower() in STOPWORDS:
            continue
        found.setdefault(number, {})[re.escape(letters)] = None  # each name once in its pattern
    return {
        number: re.compile(r"\b(?:" + "|".join(names) + r")[-‐‑ ]?" + number + r"\b", re.IGNORECASE)
        for number, names in found.items()
    }


@dataclass
class Hit:
    chunk: Chunk
    score: float
    ranks: dict[str, int] = field(default_factory=dict)


RERANK_POOL = 30
# Chunks overlap by half, and a caption or header may repeat on many pages: a chunk whose
# best passage a better chunk already holds adds less, so its score counts this much.
REPEAT_DISCOUNT = 0.7
FIGURE_BY_ASKED = (questions.NUMBER, questions.SHARE)


def lexical(query: str, document_ids: list[int], limit: int) -> list[int]:
    """Chunk ids, best first: the database's full-text engine finds the candidates, the
    best ``RERANK_POOL`` of them are ordered again by their best passage."""
    weights = synonyms.weighted(terms(query))
    for cue in questions.cues(query):
        weights.setdefault(cue, questions.CUE_WEIGHT)
    candidates = fulltext(list(weights), document_ids, max(limit, RERANK_POOL))
    head = candidates[:RERANK_POOL]
    rows = _passage_rows(head)
    texts = {cid: text for cid, text, _, _, _ in rows}
    owners = {cid: document for cid, _, document, _, _ in rows}
    indexes = {cid: terms for cid, _, _, terms, _ in rows}
    opening = {cid: section for cid, _, _, _, section in rows if section}
    asked = {passages.stem(w) for w in questions.asked_words(query)}
    kind = questions.kind_of(query)
    best = passages.best_passages(
        weights, texts, owners, numeric=questions.wants_figure(query), indexes=indexes, names=name_numbers(query),
        asked=asked, opening=opening,
        # A count or a share stands by what it counts ("1024 tokens", "3.5 days"); a score
        # seldom by the word the question names it with ("what translation score": "41.8
        # BLEU"), so any figure near its words counts as before.
        focus=asked | {passages.stem(w) for w in questions.cues(query)} if kind in FIGURE_BY_ASKED else set(),
    )
    order = {cid: rank for rank, cid in enumerate(head)}
    head = sorted(head, key=lambda cid: (-best.get(cid, (0.0, ""))[0], order[cid]))
    seen: set[str] = set()
    effective = {}
    for cid in head:
        score, passage = best.get(cid, (0.0, ""))
        effective[cid] = score * (REPEAT_DISCOUNT if passage and passage in seen else 1.0)
        seen.add(passage)
    head = sorted(head, key=lambda cid: (-effective[cid], order[cid]))
    return (head + candidates[RERANK_POOL:])[:limit]


def _passage_rows(chunk_ids: list[int]) -> list[tuple[int, str, int, str | None, str | None]]:
    """(id, text, document id, stored term index, section it begins inside) of each chunk.
    Plain SQL: the ORM's building of the query cost as much as running it."""
    if not chunk_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, text, document_id, terms, section FROM retrieval_chunk "
            f"WHERE id IN ({','.join(['%s'] * len(chunk_ids))})",
            chunk_ids,
        )
        return cursor.fetchall()


def fulltext(words: list[str], document_ids: list[int], limit: int) -> list[int]:
    """Chunk ids, best first, by the database's full-text ranking of any of ``words``."""
    if not words or not document_ids:
        return []
    placeholders = ",".join(["%s"] * len(document_ids))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            tsquery = " | ".join(re.sub(r"\W", "", w) for w in words if re.sub(r"\W", "", w))
            cursor.execute(
                f"SELECT id FROM retrieval_chunk, to_tsquery('english', %s) q "
                f"WHERE search_vector @@ q AND document_id IN ({placeholders}) "
                "ORDER BY ts_rank_cd(search_vector, q, 32) DESC, id LIMIT %s",
                [tsquery, *document_ids, limit],
            )
        else:
            match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
            # More documents than range queries: the ranges would not be used, and
            # finding them costs a scan of every chunk of every document.
            ranges = _rowid_ranges(document_ids) if len(document_ids) <= RANGE_QUERIES else []
            if ranges and len(ranges) <= RANGE_QUERIES:
                # A document's chunks have consecutive ids, and FTS5 restricts a match to a
                # rowid range cheaply: one small query per document instead of scoring every
                # match in the whole index and discarding other people's. bm25 scores use
                # index-wide statistics, so they compare across the parts.
                parts = " UNION ALL ".join(
                    "SELECT rowid, bm25(retrieval_chunk_fts) AS s FROM retrieval_chunk_fts "
                    "WHERE retrieval_chunk_fts MATCH %s AND rowid BETWEEN %s AND %s"
                    for _ in ranges
                )
                params = [value for low, high in ranges for value in (match, low, high)]
                cursor.execute(f"SELECT rowid FROM ({parts}) ORDER BY s, rowid LIMIT %s", [*params, limit])
            else:
                # Many documents: rank over the whole index without the join, keep the ones
                # in the set; only when too few of the best are ours, filter in the join.
                cursor.execute(
                    "SELECT rowid FROM retrieval_chunk_fts WHERE retrieval_chunk_fts MATCH %s "
                    "ORDER BY rank, rowid LIMIT %s",
                    [match, limit * 4],
                )
                best = [row[0] for row in cursor.fetchall()]
                if not best:
                    return []
                wanted = set(document_ids)
                # Plain SQL: the ORM's preparing of 4 × limit ids cost more than the query.
                cursor.execute(
                    f"SELECT id, document_id FROM retrieval_chunk WHERE id IN ({','.join(['%s'] * len(best))})", best
                )
                owners = dict(cursor.fetchall())
                mine = [cid for cid in best if owners.get(cid) in wanted]
                if len(mine) >= limit or len(best) < limit * 4:
                    return mine[:limit]
                cursor.execute(
                    "SELECT c.id FROM retrieval_chunk_fts f JOIN retrieval_chunk c ON c.id = f.rowid "
                    f"WHERE retrieval_chunk_fts MATCH %s AND c.document_id IN ({placeholders}) "
                    "ORDER BY bm25(retrieval_chunk_fts), c.id LIMIT %s",
                    [match, *document_ids, limit],
                )
        return [row[0] for row in cursor.fetchall()]


RANGE_QUERIES = 12


def _rowid_ranges(document_ids: list[int]) -> list[tuple[int, int]]:
    """(first, last) chunk id of each document, when every document's ids are consecutive."""
    from django.db.models import Count, Max, Min

    rows = (
        Chunk.objects.filter(document_id__in=document_ids)
        .values("document_id")
        .annotate(low=Min("id"), high=Max("id"), n=Count("id"))
    )
    ranges = []
    for row in rows:
        if row["high"] - row["low"] + 1 != row["n"]:
            return [(0, 0)] * (RANGE_QUERIES + 1)  # not consecutive: use the join
        ranges.append((row["low"], row["high"]))
    return ranges


def semantic(query: str, document_ids: list[int], limit: int) -> list[int]:
    """Chunk ids, best first, by cosine similarity of embeddings (empty when unavailable)."""
    if not dense.available() or not document_ids:
        return []
    rows = Chunk.objects.filter(document_id__in=document_ids, embedding__isnull=False).values_list("id", "embedding")
    rows = list(rows)
    if not rows:
        return []
    query_vector = dense.embed([query])[0]
    scored = sorted(((dense.best_similarity(query_vector, blob), cid) for cid, blob in rows), key=lambda s: (-s[0], s[1]))
    return [cid for _, cid in scored[:limit]]


def search(
    query: str, document_ids: list[int], limit: int = 20, *, mode: str = "hybrid", threshold: float = 0.0
) -> list[Hit]:
    """The best ``limit`` chunks for the first ``SEARCH_QUERY_MAX`` characters of ``query``.
    ``mode``: hybrid | lexical | dense. Scores are RRF sums scaled to 0–1 (1 = ranked first
    by every ranker used)."""
    query = query[:SEARCH_QUERY_MAX]
    pool = max(limit * 3, 50)
    rankings = {}
    if mode in ("hybrid", "lexical"):
        rankings["lexical"] = lexical(query, document_ids, pool)
    if mode in ("hybrid", "dense"):
        try:
            rankings["dense"] = semantic(query, document_ids, pool)
        except Exception:
            rankings["dense"] = []  # the endpoint is down: lexical results still stand
    used = [name for name, ids in rankings.items() if ids] or list(rankings)
    fused: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for name, ids in rankings.items():
        for rank, chunk_id in enumerate(ids, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
            ranks.setdefault(chunk_id, {})[name] = rank
    best = max(len(used), 1) / (RRF_K + 1)
    ordered = sorted(fused, key=lambda cid: (-fused[cid], cid))[:limit]
    chunks = Chunk.objects.in_bulk(ordered)
    hits = [Hit(chunks[cid], round(fused[cid] / best, 4), ranks[cid]) for cid in ordered if cid in chunks]
    return [h for h in hits if h.score >= threshold]
