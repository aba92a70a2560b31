"""Labelled questions from a BEIR split, hard negatives from our recall, the held-out split and its scoring."""
from pathlib import Path

import numpy as np

from assistant.db import trainstore
from assistant.eval.ingest import ingest_corpus, source_for
from assistant.ingest.pipeline import Ingestor
from assistant.recall import Recaller
from assistant.train.data import TrainGroup, TrainQuestion, about_groups, language_of, mine_groups, qrels_questions
from assistant.train.heldout import evaluate_heldout, fuse, split_heldout, zscores

TINY = Path(__file__).parent / "data" / "beir_tiny"


def _tiny(db, settings, embedder):
    ingest_corpus(TINY, "beir_tiny", Ingestor(db, embedder, settings))
    with db.connection() as conn:
        return trainstore.documents_by_source(conn, [source_for("beir_tiny", d) for d in
                                                     ("001", "1", "doc:3", "long", "n1a", "n1b", "title-only")])


def test_language_of():
    assert language_of("How does etcd expire a lock?") == "en"
    assert language_of("如何在不使用Redis的情况下实现分布式锁") == "zh"
    assert language_of("Redis 锁") == "zh"


def test_qrels_questions_map_judged_documents_to_ids(db, settings, fake_embedder):
    ids = _tiny(db, settings, fake_embedder)
    questions, skipped = qrels_questions(db, TINY, "test")
    assert skipped == 0 and len(questions) == 7
    q1 = next(q for q in questions if q.qid == "beir_tiny:q1")
    assert q1.text == "Does aspirin lower heart attack risk?" and q1.relevant_docs == {ids[source_for("beir_tiny", "001")]}
    assert q1.kind == "qrels" and q1.mine and q1.positives == ()
    assert [q.qid for q in qrels_questions(db, TINY, "test", limit=2)[0]] == ["beir_tiny:q1", "beir_tiny:q2"]


def test_mined_negatives_come_from_other_documents_below_the_skipped_ranks(db, settings, fake_embedder):
    _tiny(db, settings, fake_embedder)
    questions, _ = qrels_questions(db, TINY, "test")
    recaller = Recaller(db, fake_embedder)
    groups = mine_groups(questions, recaller, db, depth=6, skip=2, negatives=3, seed=1)
    assert len(groups) == len(questions)
    by_qid = {q.qid: q for q in questions}
    with db.connection() as conn:
        for g in groups:
            q = by_qid[g.qid]
            cands = recaller.recall(q.text, 6, "vector")
            rank = {c.chunk_id: c.rank for c in cands}
            pos_docs = {c.document_id for c in cands if c.chunk_id in g.positive_ids}
            from assistant.db.store import chunks_by_id
            chunks = chunks_by_id(conn, g.positive_ids + g.negative_ids)
            assert {chunks[p].document_id for p in g.positive_ids} == set(q.relevant_docs)
            assert pos_docs <= q.relevant_docs
            for n in g.negative_ids:
                assert chunks[n].document_id not in q.relevant_docs and rank[n] > 2
            assert len(g.negatives) == min(3, sum(1 for c in cands if c.rank > 2
                                                  and c.document_id not in q.relevant_docs))
            # Passages are fed as the cross-encoder strategy feeds them: title line, then the text.
            assert g.positives[0].endswith(chunks[g.positive_ids[0]].text)
    again = mine_groups(questions, recaller, db, depth=6, skip=2, negatives=3, seed=1)
    assert [g.negative_ids for g in again] == [g.negative_ids for g in groups]  # the seed fixes the sample


def test_constraint_questions_use_only_their_own_negative(db, settings, fake_embedder):
    ids = _tiny(db, settings, fake_embedder)
    with db.connection() as conn:
        first = trainstore.first_chunks(conn, ids.values())
    a, b = first[ids[source_for("beir_tiny", "n1a")]], first[ids[source_for("beir_tiny", "n1b")]]
    q = TrainQuestion("c:1", "vaccine approval without a refusal", "constraint",
                      frozenset({ids[source_for("beir_tiny", "n1a")]}), positives=(a,), negatives=(b,), mine=False)
    (g,) = mine_groups([q], Recaller(db, fake_embedder), db, negatives=4)
    assert (g.positive_ids, g.negative_ids) == ([a], [b])


def test_about_groups_ask_for_the_excluded_thing_with_its_named_near_miss_first():
    q = TrainQuestion("x:1", "Film works of Barbet Schroeder, without mentioning Pablo Trapero?", "qrels",
                      frozenset({1}), negatives=(20,))
    plain = TrainQuestion("x:2", "Film works of Pablo Trapero?", "qrels", frozenset({2}), negatives=(30,))
    groups = [TrainGroup("x:1", "qrels", q.text, ["answer"], ["near miss", "mined"], [10], [20, 21]),
              TrainGroup("x:2", "qrels", plain.text, ["answer"], ["twin"], [11], [30]),
              TrainGroup("x:3", "qrels", "Films without Trapero", ["answer"], ["mined"], [12], [22])]
    (about,) = about_groups([q, plain], groups)  # x:2 rules nothing out; x:3 names no near miss
    assert (about.qid, about.kind, about.query) == ("x:1:about", "about", "Pablo Trapero")
    assert about.positives == ["near miss"] and about.positive_ids == [20]
    assert about.negatives == ["answer"] and about.negative_ids == [10]  # mined negatives may be about it too


def test_heldout_split_keeps_groups_together_and_takes_each_kind():
    qs = [TrainQuestion(f"q{i}", "x", "qrels", frozenset({i})) for i in range(20)]
    qs += [TrainQuestion(f"c{i}{s}", "x", "constraint" if s == "a" else "constraint_with", frozenset({i}),
                         group=f"pair{i}") for i in range(4) for s in "ab"]
    train, held = split_heldout(qs, 0.25, seed=3)
    assert len(train) + len(held) == len(qs) and not {q.qid for q in train} & {q.qid for q in held}
    assert sum(q.kind == "qrels" for q in held) == 5
    groups_held = {q.group for q in held if q.group}
    assert groups_held and all(q.group not in groups_held for q in train if q.group)
    assert split_heldout(qs, 0.25, seed=3) == (train, held)
    assert split_heldout(qs, 0.0) == (qs, [])


def test_fusion_is_a_weighted_sum_of_z_scores():
    assert np.allclose(zscores([1, 2, 3]), [-1.2247, 0, 1.2247], atol=1e-4)
    assert zscores([5, 5]) == [0.0, 0.0]
    fused = fuse([0.0, 10.0, 5.0], [0.9, 0.1, 0.5], 0.25)
    z_ce, z_rec = zscores([0.0, 10.0, 5.0]), zscores([0.9, 0.1, 0.5])
    assert np.allclose(fused, [0.25 * a + 0.75 * b for a, b in zip(z_ce, z_rec)])
    assert fuse([1, 2], [3, 4], 1.0) == zscores([1, 2])


class OracleModel:
    """A stand-in scorer with predict(): 1 for the judged document's passage, else 0 (the real model is tested in
    test_train_trainer.py); what is under test here is the ranking and scoring around it."""

    def __init__(self, answers):
        self.answers = answers

    def predict(self, pairs, **kwargs):
        return np.array([1.0 if p.endswith(self.answers[q]) else 0.0 for q, p in pairs])


def test_heldout_scores_recall_reranked_and_fused(db, settings, fake_embedder):
    _tiny(db, settings, fake_embedder)
    questions, _ = qrels_questions(db, TINY, "test")
    with db.connection() as conn:
        from assistant.db.store import chunks_by_id
        first = trainstore.first_chunks(conn, {d for q in questions for d in q.relevant_docs})
        texts = {c.document_id: c.text for c in chunks_by_id(conn, list(first.values())).values()}
    oracle = OracleModel({q.text: texts[next(iter(q.relevant_docs))] for q in questions})
    result = evaluate_heldout(oracle, questions, Recaller(db, fake_embedder), k=7, weights=(0.2, 1.0))
    d = result.to_dict()
    assert d["queries"] == 7 and d["k"] == 7 and d["recall_mode"] == "vector"
    # Seven documents, k=7: every judged document is a candidate, so the oracle puts it first everywhere.
    assert d["reranked"] == {"nDCG@10": 1.0, "MRR@10": 1.0} == d["fused"]["1.0"]
    assert d["recall"]["nDCG@10"] < 1.0 and d["beats_recall"] is True
    # The best weight is the lightest one that reaches the best nDCG@10 (ties go to more trust in recall).
    best = max(m["nDCG@10"] for m in d["fused"].values())
    assert d["best_fusion_weight"] == min(float(w) for w, m in d["fused"].items() if m["nDCG@10"] == best)
    assert d["fused_beats_recall"] is True
    empty = evaluate_heldout(oracle, [], Recaller(db, fake_embedder))
    assert empty.queries == 0 and not empty.beats_recall and empty.best_weight is None


class _ExclusionModel:
    """The question alone prefers the passage naming the excluded word; asked for the word alone, it finds it."""

    def predict(self, pairs, **kwargs):
        return np.array([(5.0 if q == "aspirin" else 1.0) if "aspirin" in p.lower() else
                         (0.0 if q == "aspirin" else 0.9) for q, p in pairs])


def test_exclusion_check_ranks_down_the_named_near_miss_as_the_weight_grows(db, settings, fake_embedder):
    from dataclasses import replace

    from assistant.train.heldout import exclusion_heldout

    ids = _tiny(db, settings, fake_embedder)
    with db.connection() as conn:
        near = trainstore.first_chunks(conn, [ids[source_for("beir_tiny", "001")]])
    (q,) = [q for q in qrels_questions(db, TINY, "test")[0] if q.qid == "beir_tiny:q3"]
    q = replace(q, text="coffee and type 2 diabetes without aspirin", negatives=tuple(near.values()))
    sweep = exclusion_heldout(_ExclusionModel(), [q], Recaller(db, fake_embedder), db, k=7, weights=(0.0, 0.5, 2.0))
    assert set(sweep) == {"0.0", "0.5", "2.0"}
    assert sweep["0.0"]["named_right_rank"] == 0.0 and sweep["0.0"]["MRR@10"] == 0.5  # the aspirin passage first
    assert sweep["2.0"]["named_right_rank"] == 1.0 and sweep["2.0"]["MRR@10"] == 1.0
