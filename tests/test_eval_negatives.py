"""Sets that name a violating passage (ExcluIR's negatives/<split>.tsv) get a "right rank" figure, and NevIR-style
pairs are read per split (pairs_<split>.jsonl), never another split's pairs."""
from __future__ import annotations

import json

from assistant.eval.beir import load_dataset
from assistant.eval.metrics import right_rank


def _folder(tmp_path):
    d = tmp_path / "set"
    (d / "qrels").mkdir(parents=True)
    (d / "negatives").mkdir()
    docs = [("d1", "A without B"), ("d2", "A with B"), ("d3", "C"), ("d4", "C not")]
    (d / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in docs))
    qs = [("q1", "A without B"), ("q2", "A"), ("q3", "C"), ("q4", "C not")]
    (d / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in qs))
    (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    (d / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq3\td3\t1\nq4\td4\t1\n")
    (d / "negatives" / "test.tsv").write_text("query-id\tcorpus-id\nq1\td2\n")
    (d / "pairs.jsonl").write_text(json.dumps({"pair_id": "t", "q1": "q1", "q2": "q2", "doc1": "d1", "doc2": "d2"})
                                   + "\n")
    (d / "pairs_dev.jsonl").write_text(json.dumps({"pair_id": "d", "q1": "q3", "q2": "q4", "doc1": "d3",
                                                   "doc2": "d4"}) + "\n")
    return d


def test_negatives_and_pairs_follow_the_split(tmp_path):
    d = _folder(tmp_path)
    test = load_dataset(d, "test")
    assert test.negatives == {"q1": ["d2"]}
    assert [p.pair_id for p in test.pairs] == ["t"]
    dev = load_dataset(d, "dev")
    assert dev.negatives is None and [p.pair_id for p in dev.pairs] == ["d"]
    assert test.limited(1).negatives == {"q1": ["d2"]} and test.limited(1).pairs == []


def test_right_rank_counts_the_answer_above_the_violating_passage():
    qrels = {"q1": {"d1": 1}, "q2": {"d3": 1}, "q3": {"d5": 1}}
    negatives = {"q1": ["d2"], "q2": ["d4"], "q3": ["d6"]}
    run = {"q1": {"d1": 1.0, "d2": 0.5}, "q2": {"d4": 1.0, "d3": 0.5}, "q3": {"d6": 1.0}}
    share, counted = right_rank(qrels, negatives, run)
    assert counted == 3 and abs(share - 1 / 3) < 1e-9
    # An answer the run returned beats a violating passage it did not return.
    assert right_rank({"q": {"a": 1}}, {"q": ["b"]}, {"q": {"a": 0.1}}) == (1.0, 1)
