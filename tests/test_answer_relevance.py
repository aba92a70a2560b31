"""Context that respects the question: chunks the cross-encoder scores as not answering never reach the prompt,
even when fewer than context_k remain; when it is confident, only the confident chunks go in; with no
cross-encoder judgement (strategy none) recall order stands."""
from __future__ import annotations

import hashlib
from typing import Sequence

import pytest

from assistant.answer.relevance import filter_context
from assistant.answer.scoring import PairScorer
from assistant.pipeline import AskOptions, ask
from assistant.rerank.base import Ranked, Reranker, RerankResult, Trace
from assistant.services import Services
from assistant.settings import Settings
from assistant.types import Candidate
from tests.fakes import FakeCompleter
from tests.kb import ingest_texts


class TableScorer(PairScorer):
    """A fake cross-encoder: the score written in the passage's first word ('0.7 ...')."""

    kind = "cross-encoder"
    model_id = "fake/table"

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [float(passage.split("\n")[-1].split()[0]) for _, passage in pairs]


def _cands(scores) -> list[Candidate]:
    out = []
    for i, s in enumerate(scores, start=1):
        text = f"{s} chunk {i}"
        out.append(Candidate(chunk_id=i, document_id=i, source=f"/kb/{i}.md", title="", heading="", text=text,
                             content_sha256=hashlib.sha256(text.encode()).hexdigest(), tokens=3, score=1.0, rank=i))
    return out


SETTINGS = Settings(context_min_score=0.3, context_confident_score=0.8)


def test_weak_chunks_are_left_out_even_below_context_k():
    kept, report = filter_context("q", _cands([0.6, 0.2, 0.5, 0.1]), TableScorer(), SETTINGS, 5)
    assert [c.chunk_id for c in kept] == [1, 3]
    assert not report.confident and report.kept == 2
    assert [c["kept"] for c in report.considered] == [True, False, True, False]


def test_when_confident_fewer_chunks_go_in():
    scores = [0.95, 0.6, 0.85, 0.5, 0.7]
    kept, report = filter_context("q", _cands(scores), TableScorer(), SETTINGS.replace(context_confident_k=2), 5)
    assert [c.chunk_id for c in kept] == [1, 2] and report.confident
    unsure, report = filter_context("q", _cands([0.75, 0.6, 0.7, 0.5, 0.7]), TableScorer(),
                                    SETTINGS.replace(context_confident_k=2), 5)
    assert len(unsure) == 5 and not report.confident


def test_nothing_answering_leaves_no_context():
    kept, _ = filter_context("q", _cands([0.1, 0.05]), TableScorer(), SETTINGS, 5)
    assert kept == []


@pytest.mark.parametrize("scorer,settings", [(None, SETTINGS), (TableScorer(), SETTINGS.replace(context_filter=False))])
def test_without_a_cross_encoder_judgement_the_ranking_stands(scorer, settings):
    cands = _cands([0.1, 0.05, 0.9])
    kept, report = filter_context("q", cands, scorer, settings, 5)
    assert kept == cands and report.skipped


class ScoreInTextReranker(Reranker):
    """A fake cross-encoder reranker: ranks by the number each chunk starts with; its model scores the same."""

    name = "cross-encoder"
    model_id = "fake/score-in-text"
    max_length = 64
    batch_size = 8

    class _Model:
        def predict(self, pairs, **_):
            import numpy as np
            return np.array([float(p.split("\n")[-1].split()[0]) for _, p in pairs])

    model = _Model()

    def rerank(self, query, candidates, top_k=None):
        scored = sorted(candidates, key=lambda c: -float(c.text.split()[0]))
        return RerankResult([Ranked(c, i, float(c.text.split()[0])) for i, c in enumerate(scored, start=1)],
                            Trace(self.name, model=self.model_id))


def test_the_answer_prompt_gets_only_the_chunks_that_answer(db, settings, fake_embedder, tmp_path):
    docs = {"a.md": "0.9 etcd locks use leases.", "b.md": "0.1 the cafe opens at eight.",
            "c.md": "0.6 ZooKeeper locks use ephemeral znodes."}
    ingest_texts(db, fake_embedder, settings, tmp_path, docs)
    completer = FakeCompleter(["etcd locks use leases [1]."])
    services = Services(settings.replace(context_min_score=0.3, context_confident_score=0.95), db=db,
                        embedder=fake_embedder, completer=completer,
                        rerankers={"cross-encoder": ScoreInTextReranker()})
    run = ask("which locks use leases?", AskOptions(strategy="cross-encoder", context_k=5), services)
    prompt = completer.calls[0]["messages"][-1]["content"]
    assert "cafe" not in prompt and "etcd" in prompt and "ZooKeeper" in prompt  # 2 left: fewer than context_k
    assert [i.candidate.source.rsplit("/", 1)[-1] for i in run.context] == ["a.md", "c.md"]
    assert run.context_filter.kept == 2


def test_no_answering_chunk_means_the_model_is_not_asked(db, settings, fake_embedder, tmp_path):
    ingest_texts(db, fake_embedder, settings, tmp_path, {"b.md": "0.1 the cafe opens at eight."})
    completer = FakeCompleter([])
    services = Services(settings.replace(context_min_score=0.3), db=db, embedder=fake_embedder,
                        completer=completer, rerankers={"cross-encoder": ScoreInTextReranker()})
    run = ask("what is the capital of Australia?", AskOptions(strategy="cross-encoder"), services)
    assert completer.calls == [] and run.answer.abstained and run.context == []


def test_explicit_none_is_not_judged_but_auto_keeping_recall_order_is(db, settings, fake_embedder, tmp_path):
    ingest_texts(db, fake_embedder, settings, tmp_path, {"b.md": "0.1 the cafe opens at eight."})
    services = Services(settings.replace(context_min_score=0.3), db=db, embedder=fake_embedder,
                        completer=FakeCompleter(default="It opens at eight [1]."),
                        rerankers={"cross-encoder": ScoreInTextReranker()})
    plain = ask("what is the capital of Australia?", AskOptions(strategy="none"), services)
    assert len(plain.context) == 1 and plain.context_filter.skipped
    auto = ask("what is the capital of Australia?", AskOptions(strategy="auto"), services)
    assert auto.strategy == "none" and auto.context == [] and auto.answer.abstained


def test_chinese_questions_have_their_own_threshold():
    settings = SETTINGS.replace(context_min_score=0.8, context_min_score_zh=0.2)
    kept, report = filter_context("不使用 Redis 的分布式锁有哪些？", _cands([0.29, 0.1, 0.23]), TableScorer(), settings, 5)
    assert [c.chunk_id for c in kept] == [1, 3] and report.min_score == 0.2
    kept, report = filter_context("distributed locks without Redis", _cands([0.29, 0.1, 0.23]), TableScorer(),
                                  settings, 5)
    assert kept == [] and report.min_score == 0.8
