"""Pointwise scoring with a Postgres score cache keyed by (model, query sha, chunk content sha).

Shared by the in-process cross-encoder and the remote rerank server: both score (query, passage) pairs, so a
score computed once for a chunk's content is reused by later runs of the same question, whatever the chunk id.
"""
from __future__ import annotations

import hashlib
import logging
import math
from typing import Callable, Sequence

from assistant.rerank.base import Ranked, Trace
from assistant.types import Candidate

log = logging.getLogger(__name__)

ScoreFn = Callable[[str, Sequence[Candidate]], list[float]]


def query_sha(query: str) -> str:
    """The cache key of a query: sha256 of its exact text."""
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


class ScoreCache:
    """Reads and writes rerank_cache for one model; a no-op when disabled or without a database."""

    def __init__(self, db, model_id: str, enabled: bool = True):
        self.db = db
        self.model_id = model_id
        self.enabled = enabled and db is not None

    def get(self, query: str, chunk_shas: Sequence[str]) -> dict[str, float]:
        """Cached scores by chunk sha."""
        if not self.enabled:
            return {}
        from assistant.db import rerank_cache
        with self.db.connection() as conn:
            return rerank_cache.get_scores(conn, self.model_id, query_sha(query), chunk_shas)

    def put(self, query: str, scores: dict[str, float]) -> None:
        """Remember scores by chunk sha."""
        if not self.enabled or not scores:
            return
        from assistant.db import rerank_cache
        with self.db.connection() as conn:
            rerank_cache.put_scores(conn, self.model_id, query_sha(query), scores)


def zscores(values: Sequence[float]) -> list[float]:
    """Standard scores over one list (all zero when the values do not vary)."""
    if not values:
        return []
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [0.0] * len(values) if sd < 1e-12 else [(v - mean) / sd for v in values]


def fuse_with_recall(scores: Sequence[float], recall_scores: Sequence[float], weight: float) -> list[float]:
    """weight * z(reranker score) + (1 - weight) * z(recall score), z over this one candidate list.

    The same formula the trainer's held-out check uses to pick a model card's fusion_weight.
    """
    return [weight * a + (1 - weight) * b for a, b in zip(zscores(scores), zscores(recall_scores))]


def pointwise_scores(query: str, candidates: Sequence[Candidate], *, score: ScoreFn, cache: ScoreCache | None,
                     trace: Trace) -> list[float]:
    """The scorer's raw score of each candidate for this query: cached ones read, the rest scored and stored."""
    cands = list(candidates)
    cached: dict[str, float] = {}
    if cache is not None:
        try:
            cached = cache.get(query, [c.content_sha256 for c in cands])
        except Exception as exc:  # a cache outage costs time, never the answer
            log.warning("rerank cache read failed: %s", exc)
            trace.notes.append(f"score cache unreadable ({type(exc).__name__}); scored everything")
    # Chunks with identical content need one score between them.
    todo: dict[str, Candidate] = {}
    for c in cands:
        if c.content_sha256 not in cached and c.content_sha256 not in todo:
            todo[c.content_sha256] = c
    fresh: dict[str, float] = {}
    if todo:
        values = score(query, list(todo.values()))
        if len(values) != len(todo):
            raise RuntimeError(f"scorer returned {len(values)} scores for {len(todo)} passages")
        fresh = {sha: float(v) for sha, v in zip(todo, values)}
        if cache is not None:
            try:
                cache.put(query, fresh)
            except Exception as exc:
                log.warning("rerank cache write failed: %s", exc)
                trace.notes.append(f"score cache not written ({type(exc).__name__})")
    trace.scored += len(fresh)
    trace.cache_hits += sum(1 for c in cands if c.content_sha256 in cached)
    known = {**cached, **fresh}
    return [known[c.content_sha256] for c in cands]


def rank_pointwise(query: str, candidates: Sequence[Candidate], top_k: int | None, *, score: ScoreFn,
                   cache: ScoreCache | None, trace: Trace, fusion_weight: float | None = None,
                   excluded: Sequence[str] = (), exclusion_weight: float = 0.0) -> list[Ranked]:
    """Score what the cache lacks, then order best first (ties keep recall order); fuse with recall if asked.

    excluded: what the question rules out (assistant.rerank.exclusion); each is scored as a query of its own, and
    passages about it are ranked down by exclusion_weight.
    """
    cands = list(candidates)
    scores = pointwise_scores(query, cands, score=score, cache=cache, trace=trace)
    if fusion_weight is not None:
        scores = fuse_with_recall(scores, [c.score for c in cands], fusion_weight)
    if excluded and exclusion_weight > 0 and cands:
        from assistant.rerank.exclusion import rank_down

        about = [pointwise_scores(x, cands, score=score, cache=cache, trace=trace) for x in excluded]
        scores = rank_down(scores, about, exclusion_weight)

    def key(i: int) -> tuple[float, int]:
        s = scores[i]
        return (math.inf if math.isnan(s) else -s, i)

    order = sorted(range(len(cands)), key=key)[: top_k or None]
    return [Ranked(cands[i], rank, scores[i]) for rank, i in enumerate(order, start=1)]
