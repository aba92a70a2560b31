"""The runner: every judged query through pipeline.ask per strategy, chunks mapped back to documents, scored."""
import math
from pathlib import Path

import pytest

from assistant.eval.beir import load_dataset
from assistant.eval.ingest import ingest_corpus, open_eval_database
from assistant.eval.runner import Strategy, doc_scores, parse_strategies, run_all, run_strategy
from assistant.rerank.base import Ranked, Reranker, RerankResult, Trace
from assistant.services import Services
from assistant.types import Candidate

TINY = Path(__file__).parent / "data" / "beir_tiny"


class ReverseReranker(Reranker):
    """Puts the recalled order upside down; fails on questions containing `fail_on`."""

    name = "reverse"

    def __init__(self, fail_on: str | None = None):
        self.fail_on = fail_on
        self.queries: list[str] = []

    def rerank(self, query, candidates, top_k=None):
        self.queries.append(query)
        if self.fail_on is not None and self.fail_on in query:
            raise ValueError("reranker exploded")
        items = list(reversed(candidates))
        return RerankResult([Ranked(c, i, float(-i)) for i, c in enumerate(items, start=1)], Trace(self.name))


@pytest.fixture
def tiny(settings, fake_embedder, tmp_path):
    # Settings point at a model directory, so the registry sees a usable cross-encoder; the built one is the fake.
    (tmp_path / "ce").mkdir()
    (tmp_path / "ce" / "config.json").write_text("{}")
    settings = settings.replace(embedder="fake", cross_encoder=str(tmp_path / "ce"))
    db = open_eval_database(settings, "beir_tiny")
    reranker = ReverseReranker(fail_on="coffee")
    services = Services(settings.replace(schema=db.schema), db=db, embedder=fake_embedder,
                        rerankers={"cross-encoder": reranker})
    ingest_corpus(TINY, "beir_tiny", services.ingestor)
    yield load_dataset(TINY), services, reranker
    with db.connection() as conn:
        conn.execute(f"DROP SCHEMA {db.schema} CASCADE")
    db.close()


def test_strategy_names_map_to_recall_mode_and_rerank():
    got = parse_strategies("none, hybrid,fts,cross-encoder,hybrid+llm,none")
    assert got == [Strategy("none", "vector", "none"), Strategy("hybrid", "hybrid", "none"),
                   Strategy("fts", "fts", "none"), Strategy("cross-encoder", "vector", "cross-encoder"),
                   Strategy("hybrid+llm", "hybrid", "llm")]
    with pytest.raises(ValueError, match="unknown strategy 'bm42'"):
        parse_strategies("none,bm42")
    with pytest.raises(ValueError):
        parse_strategies("vector+magic")


def _cand(chunk_id, source):
    return Candidate(chunk_id, 1, source, "", "", "x", str(chunk_id), 1, 0.5, chunk_id)


def test_a_document_takes_its_best_chunk_rank():
    ranked = [Ranked(_cand(7, "beir:d:long"), 1), Ranked(_cand(3, "beir:d:a:b"), 2), Ranked(_cand(8, "beir:d:long"), 3),
              Ranked(_cand(4, "beir:d:c"), 4)]
    assert doc_scores(ranked) == {"long": 1.0, "a:b": 0.5, "c": 0.25}


def test_full_text_scores_and_paired_accuracy_on_the_tiny_set(tiny):
    ds, services, _ = tiny
    res = run_strategy(ds, Strategy("fts", "fts", "none"), services, candidates=20)
    assert set(res.run) == set(ds.qrels)
    # "not" is an English stop word: p1 and p2 get the same order, so one side of the pair is always wrong.
    order = {q: sorted(r, key=lambda d: -r[d]) for q, r in res.run.items()}
    assert order["p1"] == order["p2"] == ["n1a", "n1b"]
    assert res.paired_accuracy == 0.0 and res.pairs == 1
    assert res.metrics["MRR@10"] == round(6.5 / 7, 4)
    assert res.metrics["nDCG@10"] == round((6 + 1 / math.log2(3)) / 7, 4)
    assert res.metrics["Recall@10"] == 1.0
    assert res.errors == 0 and res.latency_ms["p50"] > 0


def test_reranked_order_is_what_gets_scored_and_a_failing_query_counts_zero(tiny):
    ds, services, reranker = tiny
    progress = []
    results = run_all(ds, parse_strategies("none,fts+cross-encoder"), services, 20,
                      on_progress=lambda done, total, label: progress.append((done, total, label)))
    none, reverse = results
    assert progress[-1] == (14, 14, "fts+cross-encoder") and progress[0] == (1, 14, "none")
    assert len(reranker.queries) == 7
    # The 'coffee' question (q3) failed in the reranker: counted, scored zero, the others went on.
    assert reverse.errors == 1 and reverse.first_error.startswith("q3:") and reverse.run["q3"] == {}
    # Reversed full-text lists: q1 ['doc:3', '001'] and p1 ['n1b', 'n1a'] put the answer second; p2 is now right.
    assert reverse.metrics["MRR@10"] == round((0.5 + 1 + 0 + 1 + 0.5 + 1 + 1) / 7, 4)
    assert reverse.metrics["Recall@10"] == round(6 / 7, 4)
    assert reverse.paired_accuracy == 0.0
    assert reverse.latency_ms["rerank_mean"] >= 0 and none.skipped is None
    assert all(len(r) == len(set(r)) for r in none.run.values())
    assert set(none.run) == set(ds.qrels)


def test_every_query_failing_stops_the_run(tiny):
    ds, services, reranker = tiny
    reranker.fail_on = ""  # every question contains the empty string
    with pytest.raises(ValueError, match="exploded"):
        run_strategy(ds, Strategy("cross-encoder", "vector", "cross-encoder"), services)
    assert len(reranker.queries) == 5


def test_a_reranker_that_cannot_run_is_skipped_with_the_reason(settings, fake_embedder, db):
    services = Services(settings.replace(rerank_server_url=None), db=db, embedder=fake_embedder)
    ds = load_dataset(TINY).limited(2)
    remote, llm = run_all(ds, parse_strategies("remote,llm"), services)
    assert remote.skipped and remote.run == {} and remote.metrics == {}
    # The small local default model is known not to rank: skipped with the reason, not run for hours.
    assert settings.llm_model.startswith("local/") and settings.llm_model in llm.skipped
