import pytest

from assistant.rerank.base import RerankerUnavailable
from assistant.rerank.listwise import ListwiseReranker
from assistant.rerank.none import NoReranker
from assistant.rerank.registry import available, build_reranker, names, status
from assistant.services import Services
from assistant.types import Candidate
from tests.fakes import FakeCompleter


def test_names_and_refusals(settings, db, fake_embedder):
    services = Services(settings, db=db, embedder=fake_embedder)
    assert names() == ["none", "cross-encoder", "remote", "llm"]
    with pytest.raises(RerankerUnavailable, match="policy, not a reranker"):
        build_reranker("auto", services)
    with pytest.raises(RerankerUnavailable, match="unknown reranker 'bm25'"):
        build_reranker("bm25", services)


def test_none_keeps_recall_order(settings, db, fake_embedder):
    reranker = build_reranker("none", Services(settings, db=db, embedder=fake_embedder))
    assert isinstance(reranker, NoReranker)
    cands = [Candidate(i, i, f"{i}.md", "t", "", "x", f"sha{i}", 1, 1 - i / 10, i) for i in (1, 2, 3)]
    result = reranker.rerank("q", cands, top_k=2)
    assert [(r.chunk_id, r.rank, r.score) for r in result.ranked] == [(1, 1, None), (2, 2, None)]
    assert result.trace.reranker == "none"


def test_default_local_model_is_never_offered_to_auto(settings, db, fake_embedder):
    # the settings' default answer model is the small local one; checking it must not load it
    services = Services(settings, db=db, embedder=fake_embedder)
    assert settings.llm_model.startswith("local/")
    assert available(services) == ["none"]
    reasons = status(services)
    assert "known not to rank" in reasons["llm"] and "ASSISTANT_LISTWISE_MODEL" in reasons["llm"]
    assert "assistant reranker train" in reasons["cross-encoder"]
    assert "ASSISTANT_RERANK_SERVER_URL" in reasons["remote"]


def test_llm_is_offered_only_when_its_completer_can_rank(settings, db, fake_embedder):
    ranker = Services(settings.replace(listwise_model="openai/gpt-4o-mini"), db=db, embedder=fake_embedder,
                      completer=FakeCompleter(model="openai/gpt-4o-mini"))
    assert available(ranker) == ["none", "llm"]
    weak = Services(settings.replace(listwise_model="ollama/tiny"), db=db, embedder=fake_embedder,
                    completer=FakeCompleter(model="ollama/tiny", can_rank=False))
    assert available(weak) == ["none"] and "known not to rank" in status(weak)["llm"]
    # asked for explicitly, it still runs (and says it is weak)
    reranker = weak.reranker("llm")
    assert isinstance(reranker, ListwiseReranker) and weak.reranker("llm") is reranker


def test_listwise_settings_reach_the_reranker(settings, db, fake_embedder):
    s = settings.replace(listwise_model="openai/x", listwise_window=8, listwise_stride=4, temperature=0.0)
    reranker = build_reranker("llm", Services(s, db=db, embedder=fake_embedder, completer=FakeCompleter()))
    assert (reranker.window, reranker.stride, reranker.temperature) == (8, 4, 0.0)
    assert len(reranker.prompt.sha256) == 64
