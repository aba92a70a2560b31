"""The held-out check: questions kept out of training, ranked by recall alone, by the trained model, and fused.

Scored per document (a document takes its best chunk's position), nDCG@10 and MRR@10 through ir-measures
(assistant.eval.metrics), the way `assistant eval` scores BEIR sets. The card records whether the model beats
recall on its own and, with the best fusion weight, fused with the recall score.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from assistant.rerank.cache import fuse_with_recall as fuse, zscores  # noqa: F401 - one formula for training and serving
from assistant.train.data import TrainQuestion, passage_text

WEIGHTS = (0.1, 0.2, 0.3, 0.5, 0.7)
Progress = Callable[[int, int, str], None]


def split_heldout(questions: Sequence[TrainQuestion], fraction: float = 0.1,
                  seed: int = 0) -> tuple[list[TrainQuestion], list[TrainQuestion]]:
    """(train, held out): a seeded share of each kind's question groups, at least one group when a kind has two."""
    if fraction <= 0:
        return list(questions), []
    by_kind: dict[str, dict[str, list[TrainQuestion]]] = {}
    for q in questions:
        by_kind.setdefault(q.kind, {}).setdefault(q.group or q.qid, []).append(q)
    held: set[str] = set()
    rng = random.Random(seed)
    for kind in sorted(by_kind):
        keys = sorted(by_kind[kind])
        if len(keys) < 2:
            continue
        rng.shuffle(keys)
        held.update(keys[: max(1, round(fraction * len(keys)))])
    train = [q for q in questions if (q.group or q.qid) not in held]
    return train, [q for q in questions if (q.group or q.qid) in held]


def _doc_run(order: Sequence) -> dict[str, float]:
    # Positions, not raw scores: the document of the best-placed chunk counts, with no ties for the metric library.
    out: dict[str, float] = {}
    for pos, cand in enumerate(order, start=1):
        out.setdefault(str(cand.document_id), 1.0 / pos)
    return out


def _order(cands: Sequence, scores: Sequence[float]) -> list:
    return [cands[i] for i in sorted(range(len(cands)), key=lambda i: (-scores[i], i))]


@dataclass
class HeldoutResult:
    queries: int
    k: int
    mode: str
    recall: dict = field(default_factory=dict)
    reranked: dict = field(default_factory=dict)
    fused: dict = field(default_factory=dict)
    """Fusion weight (as a string) -> metrics."""
    best_weight: float | None = None
    seconds: float = 0.0

    @property
    def beats_recall(self) -> bool:
        return bool(self.queries) and self.reranked.get("nDCG@10", 0.0) > self.recall.get("nDCG@10", 0.0)

    @property
    def fused_beats_recall(self) -> bool:
        best = self.fused.get(str(self.best_weight), {})
        return bool(self.queries) and best.get("nDCG@10", 0.0) > self.recall.get("nDCG@10", 0.0)

    def to_dict(self) -> dict:
        return {"queries": self.queries, "k": self.k, "recall_mode": self.mode, "recall": self.recall,
                "reranked": self.reranked, "fused": self.fused, "best_fusion_weight": self.best_weight,
                "beats_recall": self.beats_recall, "fused_beats_recall": self.fused_beats_recall,
                "seconds": round(self.seconds, 1)}


def score(model, query: str, candidates: Sequence, batch_size: int = 32) -> list[float]:
    """The model's score for each candidate, fed exactly as the cross-encoder strategy feeds it."""
    if not candidates:
        return []
    out = model.predict([(query, passage_text(c)) for c in candidates], batch_size=batch_size,
                        show_progress_bar=False, convert_to_numpy=True)
    return [float(x) for x in out.reshape(len(candidates), -1)[:, 0]]


def evaluate_heldout(model, questions: Sequence[TrainQuestion], recaller, *, k: int = 20, mode: str = "vector",
                     weights: Sequence[float] = WEIGHTS, batch_size: int = 32,
                     on_progress: Progress | None = None) -> HeldoutResult:
    """Rank each held-out question's recall top k three ways and score them with nDCG@10 and MRR@10."""
    from assistant.eval.metrics import evaluate

    start = time.perf_counter()
    qrels = {q.qid: {str(d): 1 for d in q.relevant_docs} for q in questions}
    runs: dict[str, dict[str, dict[str, float]]] = {"recall": {}, "reranked": {}}
    runs.update({str(w): {} for w in weights})
    for i, q in enumerate(questions, start=1):
        cands = recaller.recall(q.text, k, mode)
        ce = score(model, q.text, cands, batch_size)
        rec = [c.score for c in cands]
        runs["recall"][q.qid] = _doc_run(cands)
        runs["reranked"][q.qid] = _doc_run(_order(cands, ce))
        for w in weights:
            runs[str(w)][q.qid] = _doc_run(_order(cands, fuse(ce, rec, w)))
        if on_progress:
            on_progress(i, len(questions), "held-out check")
    metric = {name: {m: round(v, 4) for m, v in evaluate(qrels, run).items() if m in ("nDCG@10", "MRR@10")}
              for name, run in runs.items()}
    result = HeldoutResult(len(questions), k, mode, metric["recall"], metric["reranked"],
                           {str(w): metric[str(w)] for w in weights}, seconds=time.perf_counter() - start)
    if weights and questions:
        result.best_weight = max(weights, key=lambda w: (metric[str(w)]["nDCG@10"], -w))
    return result


EXCLUSION_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def exclusion_heldout(model, questions: Sequence[TrainQuestion], recaller, db, *, k: int = 20, mode: str = "vector",
                      way: str = "alone", weights: Sequence[float] = EXCLUSION_WEIGHTS, batch_size: int = 32,
                      on_progress: Progress | None = None) -> dict[str, dict]:
    """Held-out questions ranked as served ('alone' or a fusion weight), then with the passages about what each
    question rules out ranked down at each weight: nDCG@10, MRR@10 and the named right rank per weight."""
    from assistant.db import store
    from assistant.eval.metrics import evaluate, right_rank
    from assistant.rerank.exclusion import excluded, rank_down

    named = sorted({n for q in questions for n in q.negatives})
    with db.connection() as conn:
        doc_of = {i: str(c.document_id) for i, c in store.chunks_by_id(conn, named).items()}
    qrels = {q.qid: {str(d): 1 for d in q.relevant_docs} for q in questions}
    negatives = {q.qid: [doc_of[n] for n in q.negatives if n in doc_of] for q in questions if q.negatives}
    runs: dict[str, dict[str, dict[str, float]]] = {str(w): {} for w in weights}
    for i, q in enumerate(questions, start=1):
        cands = recaller.recall(q.text, k, mode)
        base = score(model, q.text, cands, batch_size)
        if way != "alone":
            base = fuse(base, [c.score for c in cands], float(way))
        about = [score(model, x, cands, batch_size) for x in excluded(q.text)] if cands else []
        for w in weights:
            runs[str(w)][q.qid] = _doc_run(_order(cands, rank_down(base, about, w) if w > 0 else base))
        if on_progress:
            on_progress(i, len(questions), "exclusion check")
    out = {}
    for name, run in runs.items():
        m = {m: round(v, 4) for m, v in evaluate(qrels, run).items() if m in ("nDCG@10", "MRR@10")}
        if negatives:
            m["named_right_rank"] = round(right_rank(qrels, negatives, run)[0], 4)
        out[name] = m
    return out


def best_exclusion_weight(sweeps: Sequence[dict[str, dict]]) -> float | None:
    """The weight with the best mean nDCG@10 over these held-out groups (ties: the smaller weight); None: no groups.

    Only a weight that keeps every group at or above its nDCG@10 with no ranking down (weight 0) is chosen."""
    if not sweeps:
        return None
    weights = sorted({float(w) for s in sweeps for w in s}, key=float)
    floor = [s.get("0.0", s.get("0", {})).get("nDCG@10", 0.0) for s in sweeps]
    ok = [w for w in weights if all(str(w) in s and s[str(w)]["nDCG@10"] >= f for s, f in zip(sweeps, floor))]
    return max(ok, key=lambda w: (round(sum(s[str(w)]["nDCG@10"] for s in sweeps) / len(sweeps), 4), -w)) \
        if ok else 0.0
