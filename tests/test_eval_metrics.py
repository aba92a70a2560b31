"""Metrics on cases computed by hand (trec_eval conventions: linear gains, log2(rank + 1) discount)."""
import math

import pytest

from assistant.eval.beir import Pair
from assistant.eval.metrics import evaluate, paired_accuracy, per_query


def ranked(*docs: str) -> dict[str, float]:
    """A run for one query: the given docs, best first."""
    return {d: 1.0 / r for r, d in enumerate(docs, start=1)}


QRELS = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}, "q3": {"d": 1}, "q4": {"e": 1}}
RUN = {
    "q1": ranked("a", "x", "b"),                                # relevant at 1 and 3
    "q2": ranked(*[f"n{i}" for i in range(10)], "c"),           # relevant at 11: outside @10, inside @100
    "q3": ranked("n1", "n2", "n3", "d"),                        # relevant at 4
    # q4 is judged but the run returned nothing for it: it must count as zero, not drop out of the mean
}


def test_per_query_values_match_hand_computation():
    v = per_query(QRELS, RUN)
    assert v["nDCG@10"]["q1"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert v["nDCG@10"]["q1"] == pytest.approx(0.9197207891481876)
    assert v["nDCG@10"]["q2"] == 0.0
    assert v["nDCG@10"]["q3"] == pytest.approx(1 / math.log2(5))
    assert v["MRR@10"] == {"q1": 1.0, "q2": 0.0, "q3": 0.25, "q4": 0.0}
    assert v["Recall@10"] == {"q1": 1.0, "q2": 0.0, "q3": 1.0, "q4": 0.0}
    assert v["Recall@100"] == {"q1": 1.0, "q2": 1.0, "q3": 1.0, "q4": 0.0}


def test_means_count_every_judged_query():
    m = evaluate(QRELS, RUN)
    assert m["nDCG@10"] == pytest.approx((0.9197207891481876 + 0.43067655807339306) / 4)
    assert m["MRR@10"] == pytest.approx(0.3125)
    assert m["Recall@10"] == pytest.approx(0.5)
    assert m["Recall@100"] == pytest.approx(0.75)


def test_graded_relevance_uses_linear_gains_and_partial_recall():
    qrels = {"q": {"a": 2, "b": 1, "z": 0, "far": 1}}
    run = {"q": ranked("b", "a", "z")}
    m = evaluate(qrels, run)
    # DCG = 1/log2(2) + 2/log2(3); ideal = 2/log2(2) + 1/log2(3) + 1/log2(4)
    assert m["nDCG@10"] == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3) + 0.5))
    assert m["MRR@10"] == 1.0
    assert m["Recall@10"] == pytest.approx(2 / 3)  # z (grade 0) is not relevant


def test_run_of_unjudged_queries_is_ignored_and_empty_qrels_score_zero():
    assert evaluate(QRELS, {**RUN, "other": ranked("a")}) == evaluate(QRELS, RUN)
    assert evaluate({}, RUN) == {"nDCG@10": 0.0, "MRR@10": 0.0, "Recall@10": 0.0, "Recall@100": 0.0}


def test_paired_accuracy_on_a_hand_made_case():
    pairs = [
        Pair("right", "a1", "a2", "d1", "d2"),
        Pair("same-order", "b1", "b2", "d3", "d4"),
        Pair("one-missing", "c1", "c2", "d5", "d6"),
        Pair("none-returned", "e1", "e2", "d7", "d8"),
        Pair("half-evaluated", "f1", "f2", "d9", "d10"),
    ]
    run = {
        "a1": ranked("d1", "x", "d2"), "a2": ranked("d2", "d1"),      # both sides right
        "b1": ranked("d3", "d4"), "b2": ranked("d3", "d4"),           # q2 wrong: the order ignores the negation
        "c1": ranked("d5"), "c2": ranked("x", "d6"),                  # an unreturned doc ranks below a returned one
        "e1": ranked("x"), "e2": ranked("d8", "d7"),                  # neither returned for e1: not above
        "f1": ranked("d9", "d10"),                                    # f2 not evaluated (--limit): pair not counted
    }
    acc, counted = paired_accuracy(pairs, run)
    assert counted == 4
    assert acc == 0.5
    assert paired_accuracy([], run) == (0.0, 0)
