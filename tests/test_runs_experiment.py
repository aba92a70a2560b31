"""Experiments through the real pipeline on a real database: runs logged under a tag, failures logged and survived."""
from __future__ import annotations

from typing import Sequence

import pytest

from assistant.db import runlog
from assistant.models.completer import LLMError
from assistant.pipeline import AskOptions, ask
from assistant.rerank.base import Ranked, Reranker, RerankerUnavailable, RerankResult, Trace
from assistant.runs.experiment import read_paraphrases, run_experiment
from assistant.runs.report import report_from_db
from assistant.services import Services
from assistant.types import Candidate
from tests.fakes import FakeCompleter
from tests.kb import ingest_texts

DOCS = {
    "redis.md": "# Redis lock\n\nA Redis lock uses SET key value NX PX 30000 and a random token.",
    "redlock.md": "# Redlock\n\nRedlock acquires the lock on a majority of independent Redis masters.",
    "zk.md": "# ZooKeeper lock\n\nZooKeeper locks use ephemeral sequential znodes; no Redis involved.",
    "etcd.md": "# etcd lock\n\netcd locks attach the key to a lease that expires when the client dies.",
    "pg.md": "# Postgres advisory locks\n\npg_advisory_lock takes a session-level lock on a 64-bit key.",
    "zh-redis.md": "# 基于 Redis 的分布式锁\n\n使用 SET NX PX 命令加锁，并用 Lua 脚本释放锁。",
}
QUESTION = "How do I take a lock with Redis?"
PARAPHRASE = "Redis 分布式锁怎么实现？"
REPLY = "Use SET key value NX PX with a random token [1]."


class ReversingReranker(Reranker):
    """Reverses the recall order; fails on every call number listed in fail_on (1-based)."""

    name = "reverse"

    def __init__(self, fail_on: Sequence[int] = ()):
        self.fail_on = set(fail_on)
        self.calls = 0

    def rerank(self, query: str, candidates: Sequence[Candidate], top_k: int | None = None) -> RerankResult:
        self.calls += 1
        if self.calls in self.fail_on:
            raise RuntimeError("reranker crashed")
        ranked = [Ranked(c, i, float(-i)) for i, c in enumerate(reversed(list(candidates)), start=1)]
        return RerankResult(ranked[: top_k or None], Trace("reverse"))


class MissingReranker(Reranker):
    def rerank(self, query, candidates, top_k=None):
        raise RerankerUnavailable("no cross-encoder configured: set cross_encoder")


@pytest.fixture
def make_services(db, settings, fake_embedder, tmp_path):
    """Services over a small ingested knowledge base, with the given completer and rerankers."""
    docs = tmp_path / "docs"
    ingest_texts(db, fake_embedder, settings, docs, DOCS)
    settings = settings.replace(recall_k=5, context_k=3)

    def make(completer=None, **rerankers):
        return Services(settings, db=db, embedder=fake_embedder, completer=completer or FakeCompleter(default=REPLY),
                        rerankers={name.replace("_", "-"): r for name, r in rerankers.items()})
    return make


def test_failed_answer_is_logged_with_candidates_and_error(make_services, db):
    services = make_services(FakeCompleter([LLMError("model went away")]))
    with pytest.raises(LLMError):
        ask(QUESTION, AskOptions(strategy="none", experiment="t"), services)
    with db.connection() as conn:
        (row,) = runlog.list_runs(conn, experiment="t")
        run = runlog.get_run(conn, row["id"])
    assert run["status"] == "error"
    assert run["error"] == "answer: model went away"
    assert run["question"] == QUESTION and run["answer"] is None
    cands = run["candidates"]
    assert len(cands) == 5 and [c["recall_rank"] for c in cands] == [1, 2, 3, 4, 5]
    assert [c["rerank_rank"] for c in cands] == [1, 2, 3, 4, 5]  # the rerank stage had finished
    assert [c["context_index"] for c in cands if c["in_context"]] == [1, 2, 3]  # what the model was sent
    assert not any(c["cited"] for c in cands)
    assert {"recall_ms", "rerank_ms", "total_ms"} <= set(run["timings"])


def test_failed_rerank_is_logged_with_recall_kept(make_services, db):
    services = make_services(llm=ReversingReranker(fail_on=[1]))
    with pytest.raises(RuntimeError):
        ask(QUESTION, AskOptions(strategy="llm", answer=False, experiment="t"), services)
    with db.connection() as conn:
        (row,) = runlog.list_runs(conn, experiment="t")
        run = runlog.get_run(conn, row["id"])
    assert (run["status"], run["error"]) == ("error", "rerank: reranker crashed")
    assert [c["recall_rank"] for c in run["candidates"]] == [1, 2, 3, 4, 5]
    assert all(c["rerank_rank"] is None for c in run["candidates"])


def test_experiment_logs_every_run_and_survives_failures(make_services, db, fake_embedder):
    services = make_services(llm=ReversingReranker(fail_on=[2]), cross_encoder=MissingReranker())
    seen = []
    result = run_experiment(QUESTION, services, strategies=["none", "llm", "cross-encoder"], runs=3,
                            paraphrases=[PARAPHRASE], temperature=0.7, tag="exp",
                            on_progress=lambda done, total, current: seen.append((done, total)))
    assert seen[0] == (0, 18) and seen[-1] == (18, 18) and len(seen) == 19
    assert result.questions == [QUESTION, PARAPHRASE]
    assert "cross-encoder" in result.skipped and "set cross_encoder" in result.skipped["cross-encoder"]
    failures = [(s, q) for s, q, _ in result.failures]
    assert failures == [("llm", PARAPHRASE)]  # interleaved runs: llm's 2nd call is the paraphrase
    assert len(result.run_ids) == 6 + 5  # none: 6 ok; llm: 5 ok (its failed run raised, so no id came back)

    with db.connection() as conn:
        logged = runlog.list_runs(conn, limit=0, experiment="exp")
    by_status = sorted((r["strategy"], r["status"]) for r in logged)
    assert by_status.count(("none", "ok")) == 6 and by_status.count(("llm", "ok")) == 5
    assert ("llm", "error") in by_status and ("cross-encoder", "error") in by_status and len(logged) == 13
    # repetition i gets seed i: sampled answers differ between repetitions, paired across strategies
    seeds = sorted({(r["options"]["seed"], r["options"]["temperature"]) for r in logged})
    assert seeds == [(0, 0.7), (1, 0.7), (2, 0.7)]

    report = report_from_db(db, fake_embedder, experiment="exp", strategies=["none", "llm", "cross-encoder"], k=3)
    none, llm, ce = report.strategies
    assert (len(none.runs), none.failed, len(llm.runs), llm.failed, len(ce.runs), ce.failed) == (6, 0, 5, 1, 0, 1)
    # one embedder, one index, one phrasing: recall returns the same chunks every time
    for m in ("jaccard", "rbo", "kendall", "citations", "answer_exact", "answer_semantic"):
        assert none.stat("within", m).mean == pytest.approx(1.0), m
    assert none.stat("across", "jaccard").pairs == 9
    assert not ce.scopes


def test_read_paraphrases_skips_blanks_and_comments(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("# paraphrases of the Redis question\nRedis 锁怎么做？\n\n  How to lock with Redis  \n", "utf-8")
    assert read_paraphrases(f) == ["Redis 锁怎么做？", "How to lock with Redis"]


def test_unknown_strategy_is_refused_before_any_run(make_services, db):
    with pytest.raises(ValueError, match="bm25"):
        run_experiment(QUESTION, make_services(), strategies=["none", "bm25"], runs=1)
    with db.connection() as conn:
        assert runlog.list_runs(conn) == []
