"""Retrieval metrics through ir-measures (pytrec_eval underneath), and NevIR's paired accuracy.

nDCG uses trec_eval's linear gains (what BEIR reports). Every judged query counts: a query with no results scores
zero rather than dropping out of the mean, so a strategy cannot look better by failing on hard queries.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from assistant.eval.beir import Pair

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]
"""Query id -> {doc id: score}; higher is better."""

METRICS = ("nDCG@10", "MRR@10", "Recall@10", "Recall@100")


def _measures():
    from ir_measures import RR, R, nDCG

    # Our names -> ir-measures objects (RR@10 is MRR@10 once averaged).
    return {"nDCG@10": nDCG @ 10, "MRR@10": RR @ 10, "Recall@10": R @ 10, "Recall@100": R @ 100}


def per_query(qrels: Qrels, run: Run) -> dict[str, dict[str, float]]:
    """Metric name -> {query id: value} for every query of qrels (0 where the run has nothing)."""
    import ir_measures

    measures = _measures()
    by_measure = {str(m): name for name, m in measures.items()}
    qrels = {q: {d: int(r) for d, r in docs.items()} for q, docs in qrels.items()}
    run = {q: {d: float(s) for d, s in run.get(q, {}).items()} for q in qrels}
    out: dict[str, dict[str, float]] = {name: {q: 0.0 for q in qrels} for name in measures}
    for m in ir_measures.iter_calc(list(measures.values()), qrels, run):
        out[by_measure[str(m.measure)]][m.query_id] = float(m.value)
    return out


def evaluate(qrels: Qrels, run: Run) -> dict[str, float]:
    """Mean nDCG@10, MRR@10, Recall@10 and Recall@100 over all queries of qrels."""
    if not qrels:
        return {name: 0.0 for name in METRICS}
    values = per_query(qrels, run)
    return {name: sum(values[name].values()) / len(qrels) for name in METRICS}


def _above(scores: Mapping[str, float], mine: str, other: str) -> bool:
    # A document the run did not return ranks below every returned one; two unreturned documents are not ordered.
    if mine not in scores:
        return False
    return other not in scores or scores[mine] > scores[other]


def paired_accuracy(pairs: Sequence[Pair], run: Run) -> tuple[float, int]:
    """(share of pairs where q1 ranks doc1 above doc2 and q2 ranks doc2 above doc1, pairs counted).

    Only pairs whose two queries are both in the run count (a --limit may cut one side off).
    """
    counted = correct = 0
    for p in pairs:
        if p.q1 not in run or p.q2 not in run:
            continue
        counted += 1
        if _above(run[p.q1], p.doc1, p.doc2) and _above(run[p.q2], p.doc2, p.doc1):
            correct += 1
    return (correct / counted if counted else 0.0), counted


def right_rank(qrels: Qrels, negatives: Mapping[str, Sequence[str]], run: Run) -> tuple[float, int]:
    """(share of questions whose relevant document ranks above every named violating one, questions counted).

    ExcluIR's test of understanding an exclusion: both passages are on topic, only one honours "without X".
    """
    counted = correct = 0
    for qid, bad in negatives.items():
        if qid not in run or not bad:
            continue
        counted += 1
        good = [d for d, r in qrels.get(qid, {}).items() if r > 0]
        if any(all(_above(run[qid], g, b) for b in bad) for g in good):
            correct += 1
    return (correct / counted if counted else 0.0), counted
