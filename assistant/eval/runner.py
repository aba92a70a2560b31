"""Run every query of a dataset through pipeline.ask (recall + rerank, no answer) per strategy, and score it.

The evaluator calls the same ask() users get, so the numbers describe the product, not a re-implementation.
A strategy is a recall mode plus a rerank strategy: 'none' (vector recall), 'hybrid', 'fts', 'cross-encoder',
'llm', 'remote', 'auto', or '<recall mode>+<rerank>' such as 'hybrid+cross-encoder'.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from assistant.eval.beir import Dataset
from assistant.eval.ingest import doc_id_of
from assistant.eval.metrics import evaluate, paired_accuracy, right_rank

RECALL_MODES = ("vector", "fts", "hybrid")
RERANKS = ("none", "cross-encoder", "remote", "llm", "auto")
DEFAULT_STRATEGIES = "none,hybrid,cross-encoder,llm"


@dataclass(frozen=True)
class Strategy:
    name: str
    recall_mode: str
    rerank: str


def parse_strategies(text: str) -> list[Strategy]:
    """'none,hybrid,hybrid+cross-encoder' -> strategies; raises ValueError naming what is accepted."""
    out: list[Strategy] = []
    for raw in (s.strip().lower() for s in text.split(",")):
        if not raw:
            continue
        if "+" in raw:
            mode, _, rerank = raw.partition("+")
        elif raw in RECALL_MODES:
            mode, rerank = raw, "none"
        else:
            mode, rerank = "vector", raw
        if mode not in RECALL_MODES or rerank not in RERANKS:
            raise ValueError(f"unknown strategy {raw!r}: use {', '.join(RERANKS)}, a recall mode "
                             f"({', '.join(RECALL_MODES)}), or '<recall mode>+<rerank>'")
        if raw not in {s.name for s in out}:
            out.append(Strategy(raw, mode, rerank))
    if not out:
        raise ValueError("no strategies given")
    return out


@dataclass
class StrategyResult:
    strategy: Strategy
    metrics: dict[str, float] = field(default_factory=dict)
    paired_accuracy: float | None = None
    pairs: int = 0
    right_rank: float | None = None
    """Share of questions whose answer outranks the named violating passage (sets with negatives/<split>.tsv)."""
    latency_ms: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    first_error: str | None = None
    skipped: str | None = None
    """Why the strategy did not run (reranker unavailable), else None."""
    run: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)
    """Query id -> {doc id: score} as scored."""

    def to_dict(self) -> dict:
        return {"strategy": self.strategy.name, "recall_mode": self.strategy.recall_mode,
                "rerank": self.strategy.rerank, "metrics": self.metrics, "paired_accuracy": self.paired_accuracy,
                "pairs": self.pairs, "right_rank": self.right_rank, "latency_ms": self.latency_ms, "errors": self.errors,
                "first_error": self.first_error, "skipped": self.skipped}


def doc_scores(ranked: Sequence) -> dict[str, float]:
    """Chunk ranking -> document scores: a document takes its best chunk, scored 1/rank.

    Ranks, not raw scores: listwise rerankers give no scores, and full-text scores tie often; ranks order
    every strategy the way it was shown to the user, with no ties left to the metric library.
    """
    out: dict[str, float] = {}
    for r in ranked:
        doc = doc_id_of(r.candidate.source)
        if doc not in out:
            out[doc] = 1.0 / r.rank
    return out


def unavailable_reason(strategy: Strategy, services) -> str | None:
    """Why the strategy's reranker cannot be built here, or None when it can."""
    if strategy.rerank in ("none", "auto"):
        return None
    from assistant.rerank import registry
    from assistant.rerank.base import RerankerUnavailable

    # The registry's judgement first: it knows, without loading anything, e.g. that small local models cannot rank.
    reason = registry.status(services).get(strategy.rerank)
    if reason:
        return reason
    try:
        services.reranker(strategy.rerank)
    except RerankerUnavailable as exc:
        return str(exc)
    return None


def _latency(totals: list[float], recall: list[float], rerank: list[float]) -> dict[str, float]:
    if not totals:
        return {}
    t = np.asarray(totals)
    return {"p50": round(float(np.percentile(t, 50)), 1), "p95": round(float(np.percentile(t, 95)), 1),
            "mean": round(float(t.mean()), 1),
            "recall_mean": round(float(np.mean(recall)), 1) if recall else 0.0,
            "rerank_mean": round(float(np.mean(rerank)), 1) if rerank else 0.0}


Progress = Callable[[int, int, str], None]


def run_strategy(dataset: Dataset, strategy: Strategy, services, candidates: int = 100,
                 on_progress: Progress | None = None, done: int = 0, total: int | None = None) -> StrategyResult:
    """Every query of the dataset through ask() with this strategy; metrics, paired accuracy and latency."""
    from assistant.pipeline import AskOptions, ask

    result = StrategyResult(strategy)
    result.skipped = unavailable_reason(strategy, services)
    if result.skipped:
        return result
    options = AskOptions(strategy=strategy.rerank, recall_mode=strategy.recall_mode, recall_k=candidates,
                         answer=False, log=False)
    total = total or len(dataset.queries)
    totals, recall_ms, rerank_ms = [], [], []
    for i, (qid, text) in enumerate(dataset.queries.items(), start=1):
        start = time.perf_counter()
        try:
            run = ask(text, options, services)
        except Exception as exc:  # one bad query must not lose the others; it scores zero and is counted
            if not totals and result.errors >= 4:
                raise  # nothing has worked yet: a broken setup, not a bad query
            result.errors += 1
            result.first_error = result.first_error or f"{qid}: {exc}"
            result.run[qid] = {}
        else:
            totals.append((time.perf_counter() - start) * 1000)
            recall_ms.append(run.timings.get("recall_ms", 0.0))
            rerank_ms.append(run.timings.get("rerank_ms", 0.0))
            result.run[qid] = doc_scores(run.ranked)
        if on_progress:
            on_progress(done + i, total, strategy.name)
    result.metrics = {k: round(v, 4) for k, v in evaluate(dataset.qrels, result.run).items()}
    if dataset.pairs is not None:
        acc, result.pairs = paired_accuracy(dataset.pairs, result.run)
        result.paired_accuracy = round(acc, 4)
    if dataset.negatives:
        acc, _ = right_rank(dataset.qrels, dataset.negatives, result.run)
        result.right_rank = round(acc, 4)
    result.latency_ms = _latency(totals, recall_ms, rerank_ms)
    return result


def run_all(dataset: Dataset, strategies: Sequence[Strategy], services, candidates: int = 100,
            on_progress: Progress | None = None) -> list[StrategyResult]:
    """run_strategy for each strategy in turn, with one progress count over all of them."""
    total = len(dataset.queries) * len(strategies)
    results = []
    for n, s in enumerate(strategies):
        results.append(run_strategy(dataset, s, services, candidates, on_progress, n * len(dataset.queries), total))
    return results


def make_record(dataset: Dataset, results: Sequence[StrategyResult], *, settings, embedder_id: str, schema: str,
                candidates: int, limit: int | None, ingest: dict | None = None, seconds: float = 0.0) -> dict:
    """One JSON-able summary of an eval run: what was measured, how, and the figures per strategy."""
    import datetime
    import os

    return {"created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "dataset": dataset.name, "path": str(dataset.path), "split": dataset.split,
            "queries": len(dataset.queries), "limit": limit, "corpus_docs": dataset.corpus_size,
            "candidates": candidates, "embedder_name": settings.embedder, "embedder": embedder_id,
            "schema": schema, "ef_search": settings.ef_search, "chunk_tokens": settings.chunk_tokens,
            "exclusion_weight": "card" if settings.exclusion_weight is None else settings.exclusion_weight,
            "cpus": os.cpu_count(), "ingest": ingest, "seconds": round(seconds, 1),
            "strategies": [r.to_dict() for r in results]}
