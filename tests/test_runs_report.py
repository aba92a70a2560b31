"""Reports read only the run log: runs written with runlog, measured, and recomputed from a fresh connection."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assistant.db import Database, runlog
from assistant.runs.plot import plot_report, rank_table
from assistant.runs.report import load_runs, parse_since, report_from_db

Q1 = "How do I take a lock in Redis?"
Q2 = "Redis 分布式锁怎么实现？"
TAG = "exp-1"


def log_run(db, question, strategy, ranking, *, cited=(), answer=None, status="ok", error=None, experiment=TAG,
            requested=None):
    """One run as the pipeline writes it: started, candidates recorded, finished."""
    with db.connection() as conn:
        run_id = runlog.start_run(conn, question=question, strategy=requested or strategy,
                                  options={"strategy": requested or strategy, "temperature": 0.7},
                                  experiment=experiment, recall_mode="vector", embed_model="fake", model="fake/llm")
    rows = [{"chunk_id": cid, "chunk_sha": f"sha{cid}", "source": f"/kb/doc{cid}.md", "recall_rank": i,
             "recall_score": 1.0 - i / 100, "rerank_rank": i, "rerank_score": None, "in_context": i <= 3,
             "context_index": i if i <= 3 else None, "cited": cid in cited}
            for i, cid in enumerate(ranking, start=1)]
    with db.connection() as conn:
        runlog.record_candidates(conn, run_id, rows)
        runlog.finish_run(conn, run_id, status=status, strategy=strategy, answer=answer, error=error,
                          citations={"chunk_ids": list(cited)} if answer is not None else None)
    return run_id


def write_experiment(db):
    # none: recall is deterministic for one phrasing, wobbles across phrasings
    for _ in range(3):
        log_run(db, Q1, "none", [1, 2, 3, 4, 5, 6], cited=[1], answer="Use SET NX PX [1].")
    for _ in range(2):
        log_run(db, Q2, "none", [1, 2, 7, 3, 4, 5], cited=[1], answer="使用 SET NX PX【1】。")
    # llm: two runs agree, the third is disjoint in its top 3
    log_run(db, Q1, "llm", [1, 2, 3, 4, 5, 6], cited=[1], answer="Use SET NX [1].")
    log_run(db, Q1, "llm", [1, 2, 3, 4, 5, 6], cited=[1, 2], answer="use set nx")
    log_run(db, Q1, "llm", [4, 5, 6, 1, 2, 3], cited=[], answer="Redlock.")
    # a failed run is counted, never measured
    log_run(db, Q1, "llm", [9, 8, 7], status="error", error="answer: LLMError: model went away")


def test_report_figures_from_logged_runs(db, fake_embedder):
    write_experiment(db)
    report = report_from_db(db, fake_embedder, experiment=TAG, k=3, p=0.9)
    assert [s.strategy for s in report.strategies] == ["none", "llm"]
    assert report.questions == [Q1, Q2]
    none, llm = report.strategies
    assert (len(none.runs), none.failed, len(llm.runs), llm.failed) == (5, 0, 3, 1)
    assert report.errors == ["answer: LLMError: model went away"]

    within = {m: none.stat("within", m).mean for m in ("jaccard", "rbo", "kendall", "citations", "answer_exact")}
    assert within == pytest.approx({"jaccard": 1, "rbo": 1, "kendall": 1, "citations": 1, "answer_exact": 1})
    assert none.stat("within", "jaccard").pairs == 3 + 1  # 3 pairs of Q1 runs, 1 pair of Q2 runs
    # across: 6 pairs of [1,2,3] vs [1,2,7]: Jaccard 2/4; RBO X=1,2,2 at p=.9;
    # Kendall over shared 1,2,3,4,5, in the same order in both
    assert none.stat("across", "jaccard").mean == pytest.approx(0.5)
    assert none.stat("across", "rbo").mean == pytest.approx((0.9 + 0.81 + 2 / 3 * 0.729) / 9 + 2 / 3 * 0.729)
    assert none.stat("across", "kendall").mean == pytest.approx(1.0)
    assert none.stat("across", "answer_exact").mean == 0.0  # different languages never match exactly
    assert none.stat("across", "jaccard").pairs == 6

    # llm pairs: (1,2) agree, (1,3) and (2,3) disjoint top 3
    assert llm.stat("within", "jaccard").mean == pytest.approx(1 / 3)
    assert llm.stat("within", "citations").mean == pytest.approx((1 / 2 + 0 + 0) / 3)
    assert llm.stat("within", "answer_exact").mean == pytest.approx(1 / 3)  # citation marker and case ignored
    # the same answer text embeds identically; different texts do not
    assert llm.stat("within", "answer_semantic").mean < 1.0
    assert none.stat("within", "answer_semantic").mean == pytest.approx(1.0)
    assert llm.cited_share == pytest.approx(2 / 3)
    assert not llm.stat("across", "jaccard").ok  # llm was only run on Q1


def test_report_recomputes_identically_from_a_fresh_connection(db, pg_url, fake_embedder):
    write_experiment(db)
    first = report_from_db(db, fake_embedder, experiment=TAG, k=3).to_dict()
    fresh = Database(pg_url, db.schema)
    try:
        again = report_from_db(fresh, fake_embedder, experiment=TAG, k=3).to_dict()
    finally:
        fresh.close()
    assert again == first
    assert first["strategies"]["llm"]["within"]["jaccard"]["mean"] == pytest.approx(1 / 3)


def test_selection_by_question_since_and_strategy(db, fake_embedder):
    write_experiment(db)
    old = log_run(db, Q1, "none", [6, 5, 4, 3, 2, 1], experiment=None, answer="old")
    with db.connection() as conn:  # backdate one run to test --since
        conn.execute("UPDATE runs SET created_at = now() - interval '3 days' WHERE id = %s", (old,))
    with db.connection() as conn:
        by_q2 = load_runs(conn, questions=[Q2])
        by_both = load_runs(conn, questions=[Q1, Q2], strategies=["none"])
        recent = load_runs(conn, since=parse_since("1d"))
        everything = load_runs(conn)
    assert {r.question for r in by_q2} == {Q2} and len(by_q2) == 2
    assert len(by_both) == 6 and {r.requested for r in by_both} == {"none"}
    assert old not in {r.id for r in recent} and old in {r.id for r in everything}
    assert everything[0].id == old and [r.id for r in everything[1:]] == sorted(r.id for r in everything[1:])
    report = report_from_db(db, fake_embedder, questions=[Q1], strategies=["none"], k=3)
    # the backdated run with a reversed ranking now joins the three identical ones
    assert report.strategies[0].stat("within", "jaccard").mean == pytest.approx(0.5)


def test_auto_runs_stay_under_auto_with_what_they_chose(db, fake_embedder):
    log_run(db, Q1, "cross-encoder", [1, 2, 3], requested="auto", answer="a [1]", cited=[1])
    log_run(db, Q1, "none", [1, 2, 3], requested="auto", answer="a [1]", cited=[1])
    report = report_from_db(db, fake_embedder, experiment=TAG)
    (auto,) = report.strategies
    assert auto.strategy == "auto" and auto.resolved == {"cross-encoder": 1, "none": 1}


def test_parse_since():
    now = datetime(2025, 1, 31, 12, 0, tzinfo=timezone.utc)
    assert parse_since("6h", now) == now - timedelta(hours=6)
    assert parse_since("2d", now) == now - timedelta(days=2)
    assert parse_since("2025-01-01T00:00:00+00:00", now) == datetime(2025, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday", now)


def test_rank_table_counts_each_rank():
    class R:
        def __init__(self, ranking):
            self.ranking = ranking

    ids, share = rank_table([R((1, 2, 3)), R((1, 2, 3)), R((2, 1, 4)), R((1, 3, 2))], 2)
    assert ids == [1, 2, 3]  # by expected rank
    assert share.tolist() == [[0.75, 0.25], [0.25, 0.5], [0.0, 0.25]]


def test_plot_is_a_png_worth_looking_at(db, fake_embedder, tmp_path):
    write_experiment(db)
    report = report_from_db(db, fake_embedder, experiment=TAG, k=3)
    path = plot_report(report, tmp_path / "reports", TAG)
    data = path.read_bytes()
    assert path.parent == tmp_path / "reports" and path.suffix == ".png"
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 40_000  # bars, two scopes and two heatmaps, not an empty canvas
    from matplotlib.image import imread

    height, width, _ = imread(path).shape
    assert width > 1200 and height > 900
