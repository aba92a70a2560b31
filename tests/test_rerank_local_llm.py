"""Listwise reranking against the real local default LLM: structure only (MODELS.md: it does not rank usefully),
so the test checks that a parseable order comes back or the fallback is recorded, never which order."""
import hashlib
import shutil

import pytest

from assistant.rerank.registry import available, build_reranker
from assistant.services import Services
from assistant.types import Candidate

TEXTS = [
    ("Redis SET NX lock", "Acquire with SET key token NX PX 30000; release with a Lua script comparing the token."),
    ("ZooKeeper lock recipe", "Ephemeral sequential znodes: the client with the lowest sequence number holds it."),
    ("Redlock", "Redlock takes the lock on a majority of five independent Redis masters."),
    ("etcd lock", "etcd attaches the lock key to a lease; the key goes when the client stops renewing."),
    ("Postgres advisory locks", "pg_advisory_lock(key) takes a session-level lock on a 64-bit integer key."),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("rerank-local-llm")
    yield path
    shutil.rmtree(path, ignore_errors=True)  # the joined GGUF is 1.1 GB


@pytest.mark.slow
def test_listwise_with_the_local_default_llm_returns_an_order_or_a_recorded_fallback(settings, db, fake_embedder,
                                                                                      data_dir):
    pytest.importorskip("llama_cpp")
    services = Services(settings.replace(data_dir=data_dir), db=db, embedder=fake_embedder)
    assert "llm" not in available(services)  # auto never picks it...
    reranker = build_reranker("llm", services)  # ...but asked for by name it runs
    cands = [Candidate(i, i, f"{i}.md", t, "", x, hashlib.sha256(x.encode()).hexdigest(), 20, 1 - i / 10, i)
             for i, (t, x) in enumerate(TEXTS, start=1)]
    result = reranker.rerank("distributed lock that does not use Redis", cands)
    ids = [r.chunk_id for r in result.ranked]
    assert sorted(ids) == [1, 2, 3, 4, 5] and [r.rank for r in result.ranked] == [1, 2, 3, 4, 5]
    t = result.trace
    assert t.model == "local/qwen2.5-coder-1.5b" and len(t.prompt_sha) == 64
    assert any("known not to rank passages usefully" in n for n in t.notes)
    (call,) = t.calls
    assert len(call["messages_sha"]) == 64
    if "error" in call:
        assert t.fallback and ids == [1, 2, 3, 4, 5]
    else:
        assert isinstance(call["parse_ok"], bool) and t.parse_ok == call["parse_ok"]
        assert call["order"] == ids and isinstance(call["reply"], str)
        assert t.fallback is None
