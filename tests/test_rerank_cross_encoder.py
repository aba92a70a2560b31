"""The cross-encoder strategy end to end against a real sentence-transformers CrossEncoder built offline.

The bundled all-MiniLM-L6-v2 weights become a CrossEncoder with one output; its classification head is solved
(least squares on the pooled features of our pairs) so that the score of each (query, passage) pair is a target
chosen here. The expected order is therefore known, and only comes out if the strategy feeds the model exactly
the pairs it should (query first, passage text, same truncation).
"""
from __future__ import annotations

import hashlib
import json
import os
import time

import pytest
import torch

from assistant.db import rerank_cache
from assistant.models.st_embedder import bundled_minilm_path
from assistant.rerank import cross_encoder as ce_mod
from assistant.rerank.base import RerankerUnavailable
from assistant.rerank.cross_encoder import CrossEncoderReranker, passage_text, resolve_model
from assistant.rerank.registry import available, build_reranker
from assistant.services import Services
from assistant.types import Candidate

QUERY = "distributed lock that does not use Redis"
MAXLEN = 128
DOCS = [  # recall order: the Redis ones first, as topic similarity alone tends to rank them
    ("Redis SET NX lock", "Acquire with SET key token NX PX 30000 and release with a Lua script.", -0.5),
    ("Redlock", "Redlock takes the lock on a majority of independent Redis masters.", -1.5),
    ("Redisson watchdog", "Redisson renews the Redis lock lease every ten seconds while the holder lives.", -1.0),
    ("ZooKeeper lock recipe", "Ephemeral sequential znodes; the lowest sequence number holds the lock.", 2.0),
    ("etcd lock", "etcd attaches the lock key to a lease that expires when the client dies.", 1.0),
    ("Postgres advisory locks", "pg_advisory_lock takes a session lock on a 64-bit key inside Postgres.", 1.5),
    ("Redis caching", "Cache-aside with Redis: read through, set a TTL, avoid stampedes.", -2.0),
    ("Consul session lock", "Consul KV acquire with a session; the lock goes when the session is invalidated.", 0.5),
]
EXPECTED = [4, 6, 5, 8, 1, 3, 2, 7]  # chunk ids by descending target


def cand(i: int, title: str, text: str, chunk_id: int | None = None) -> Candidate:
    return Candidate(chunk_id=chunk_id or i, document_id=i, source=f"{title}.md", title=title, heading="", text=text,
                     content_sha256=hashlib.sha256(text.encode()).hexdigest(), tokens=len(text.split()),
                     score=1.0 - i / 100, rank=i)


CANDS = [cand(i, t, x) for i, (t, x, _) in enumerate(DOCS, start=1)]


def _classifier(model) -> torch.nn.Linear:
    return next(m for n, m in model.named_modules() if n.endswith("classifier"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A saved CrossEncoder whose scores on CANDS are sigmoid(target) of DOCS."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(bundled_minilm_path()), num_labels=1, max_length=MAXLEN, device="cpu")
    head = _classifier(model)
    feats: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda mod, inp, out: feats.append(inp[0].detach().clone()))
    for c in CANDS:
        model.predict([(QUERY, passage_text(c))], batch_size=1, show_progress_bar=False)
    hook.remove()
    features = torch.cat(feats).double()
    targets = torch.tensor([t for _, _, t in DOCS], dtype=torch.float64)
    weight = torch.linalg.pinv(features) @ targets
    with torch.no_grad():
        head.weight.copy_(weight.float()[None, :])
        head.bias.zero_()
    logits = model.predict([(QUERY, passage_text(c)) for c in CANDS], activation_fn=torch.nn.Identity(),
                           show_progress_bar=False)
    assert max(abs(float(a) - float(b)) for a, b in zip(logits, targets)) < 0.05  # the head does what we set
    out = tmp_path_factory.mktemp("ce") / "lock-ce"
    model.save(str(out))
    return out


def _services(settings, db, fake_embedder, **changes):
    # These tests pin the scorer's mechanics (batches, cache counts, order) for one question; ranking down what a
    # question excludes scores a second query and is tested in test_rerank_exclusion.py.
    changes.setdefault("exclusion_weight", 0.0)
    return Services(settings.replace(**changes), db=db, embedder=fake_embedder)


def test_known_order_from_a_real_cross_encoder(settings, db, fake_embedder, model_dir):
    services = _services(settings, db, fake_embedder, cross_encoder=str(model_dir), cross_encoder_max_length=MAXLEN)
    assert "cross-encoder" in available(services)
    reranker = build_reranker("cross-encoder", services)
    result = reranker.rerank(QUERY, CANDS)
    assert [r.chunk_id for r in result.ranked] == EXPECTED
    assert [r.rank for r in result.ranked] == list(range(1, 9))
    scores = [r.score for r in result.ranked]
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
    assert result.trace.reranker == "cross-encoder" and result.trace.model.startswith(str(model_dir.resolve()))
    assert result.trace.scored == 8 and result.trace.cache_hits == 0 and result.trace.seconds > 0
    assert [r.chunk_id for r in reranker.rerank(QUERY, CANDS, top_k=3).ranked] == EXPECTED[:3]


def test_batches_give_the_same_scores(settings, db, fake_embedder, model_dir):
    small = build_reranker("cross-encoder", _services(settings, db, fake_embedder, cross_encoder=str(model_dir),
                                                       cross_encoder_batch=3, rerank_cache=False,
                                                       cross_encoder_max_length=MAXLEN))
    assert small.batch_size == 3
    big = CrossEncoderReranker(small.model, small.model_id, max_length=MAXLEN, batch_size=32)
    a, b = small.rerank(QUERY, CANDS), big.rerank(QUERY, CANDS)
    assert [c["batch"] for c in a.trace.calls] == [3, 3, 2]
    assert [c["batch"] for c in b.trace.calls] == [8]
    assert [r.chunk_id for r in a.ranked] == [r.chunk_id for r in b.ranked] == EXPECTED
    assert all(abs(x.score - y.score) < 1e-4 for x, y in zip(a.ranked, b.ranked))


def test_cache_second_call_scores_nothing(settings, db, fake_embedder, model_dir):
    twin = cand(9, "Consul copy", DOCS[7][1], chunk_id=99).with_(title=DOCS[7][0], source="copy.md")
    cands = CANDS + [twin]
    reranker = build_reranker("cross-encoder", _services(settings, db, fake_embedder, cross_encoder=str(model_dir),
                                                          cross_encoder_max_length=MAXLEN))
    first = reranker.rerank(QUERY, cands)
    assert first.trace.scored == 8 and first.trace.cache_hits == 0  # the twin shares its text's score
    with db.connection() as conn:
        assert rerank_cache.count(conn, reranker.model_id) == 8
    second = reranker.rerank(QUERY, cands)
    assert second.trace.scored == 0 and second.trace.cache_hits == 9 and second.trace.calls == []
    assert [(r.chunk_id, r.score) for r in second.ranked] == [(r.chunk_id, r.score) for r in first.ranked]
    ids = [r.chunk_id for r in second.ranked]
    assert ids.index(99) == ids.index(8) + 1  # equal scores keep recall order
    other = reranker.rerank("a different question", cands[:2])
    assert other.trace.scored == 2 and other.trace.cache_hits == 0


def test_cache_can_be_bypassed(settings, db, fake_embedder, model_dir):
    reranker = build_reranker("cross-encoder", _services(settings, db, fake_embedder, cross_encoder=str(model_dir),
                                                          rerank_cache=False, cross_encoder_max_length=MAXLEN))
    reranker.rerank(QUERY, CANDS)
    again = reranker.rerank(QUERY, CANDS)
    assert again.trace.scored == 8 and again.trace.cache_hits == 0
    with db.connection() as conn:
        assert rerank_cache.count(conn) == 0


def test_long_chunks_are_truncated_to_max_length(settings, db, fake_embedder, model_dir):
    stem = "the lock service keeps a lease and renews it while the holder is alive " * 20
    a = cand(1, "A", stem + "it stores keys in Redis", chunk_id=1)
    b = cand(2, "A", stem + "it stores keys in ZooKeeper znodes", chunk_id=2)
    huge = cand(3, "A", "lease renewal " * 3000, chunk_id=3)  # far past the 512 positions MiniLM has
    short = build_reranker("cross-encoder", _services(settings, db, fake_embedder, cross_encoder=str(model_dir),
                                                       cross_encoder_max_length=48, rerank_cache=False))
    assert short.model.max_seq_length == 48
    cut = {r.chunk_id: r.score for r in short.rerank(QUERY, [a, b, huge]).ranked}
    assert cut[1] == cut[2]  # the tails that differ lie past 48 tokens
    full = build_reranker("cross-encoder", _services(settings, db, fake_embedder, cross_encoder=str(model_dir),
                                                      cross_encoder_max_length=512, rerank_cache=False))
    seen = {r.chunk_id: r.score for r in full.rerank(QUERY, [a, b, huge]).ranked}
    assert seen[1] != seen[2] and len(seen) == 3


def test_trained_model_by_name_and_newest_default(settings, db, fake_embedder, model_dir):
    rdir = settings.rerankers_dir
    rdir.mkdir(parents=True)
    (rdir / "lock-ce").symlink_to(model_dir, target_is_directory=True)
    services = _services(settings, db, fake_embedder, cross_encoder="lock-ce", cross_encoder_max_length=MAXLEN)
    result = build_reranker("cross-encoder", services).rerank(QUERY, CANDS)
    assert [r.chunk_id for r in result.ranked] == EXPECTED
    assert result.trace.model.startswith("trained:lock-ce@")
    # unset: the newest trained model is used...
    assert resolve_model(settings).target == str(rdir / "lock-ce")


def _fake_model(rdir, name, card=None, age=0.0):
    d = rdir / name
    d.mkdir(parents=True)
    (d / "config.json").write_text("{}")
    if card is not None:
        (d / "card.json").write_text(json.dumps(card))
    t = time.time() - age
    os.utime(d / "config.json", (t, t))
    return d


def test_newest_model_marked_worse_than_recall_is_skipped(settings):
    rdir = settings.rerankers_dir
    _fake_model(rdir, "old-good", {"beats_recall": True}, age=300)
    _fake_model(rdir, "newer-nocard", None, age=200)
    _fake_model(rdir, "newest-bad", {"beats_recall": False}, age=100)
    assert resolve_model(settings).target == str(rdir / "newer-nocard")
    # a card's created_at wins over file times
    (rdir / "old-good" / "card.json").write_text(json.dumps({"beats_recall": True,
                                                             "created_at": "2999-01-01T00:00:00Z"}))
    assert resolve_model(settings).target == str(rdir / "old-good")
    # named explicitly, a model marked worse is still used: the user asked for it
    choice = resolve_model(settings.replace(cross_encoder="newest-bad"))
    assert choice.origin == "trained" and choice.card == {"beats_recall": False}


def test_only_models_worse_than_recall_means_unavailable(settings, db, fake_embedder):
    _fake_model(settings.rerankers_dir, "bad", {"beats_recall": False})
    services = _services(settings, db, fake_embedder)
    assert "cross-encoder" not in available(services)
    with pytest.raises(RerankerUnavailable, match="beats_recall: false") as err:
        build_reranker("cross-encoder", services)
    assert "ASSISTANT_CROSS_ENCODER=bad" in str(err.value)


def test_no_model_says_the_three_ways_out(settings, db, fake_embedder):
    services = _services(settings, db, fake_embedder)
    assert "cross-encoder" not in available(services)
    with pytest.raises(RerankerUnavailable) as err:
        build_reranker("cross-encoder", services)
    msg = str(err.value)
    assert "assistant reranker train" in msg
    assert "ASSISTANT_CROSS_ENCODER=/path" in msg
    assert "HF_HUB_OFFLINE=0" in msg and "cross-encoder/ms-marco-MiniLM-L-6-v2" in msg


def test_unusable_settings_get_clear_messages(settings, db, fake_embedder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RerankerUnavailable, match="HF_HUB_OFFLINE=1 and it is not in the local"):
        resolve_model(settings.replace(cross_encoder="acme/never-downloaded-reranker"))
    with pytest.raises(RerankerUnavailable, match="neither a trained model"):
        resolve_model(settings.replace(cross_encoder="no-such-model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RerankerUnavailable, match="not a model directory"):
        resolve_model(settings.replace(cross_encoder=str(tmp_path / "empty")))
    with pytest.raises(RerankerUnavailable, match="sentence-embedding model, not a cross-encoder"):
        resolve_model(settings.replace(cross_encoder=str(bundled_minilm_path())))
    broken = _fake_model(tmp_path, "broken")
    (broken / "config.json").write_text('{"model_type": "bert"}')
    services = _services(settings, db, fake_embedder, cross_encoder=str(broken))
    with pytest.raises(RerankerUnavailable, match="cannot load cross-encoder"):
        build_reranker("cross-encoder", services)
    assert available(services) == ["none"]  # auto routes around a model that resolves but does not load


def test_hub_id_is_offered_when_online(settings, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    choice = resolve_model(settings.replace(cross_encoder="cross-encoder/ms-marco-MiniLM-L-6-v2"))
    assert (choice.origin, choice.target) == ("hub", "cross-encoder/ms-marco-MiniLM-L-6-v2")
    assert ce_mod.hub_offline() is False


def test_card_fusion_weight_fuses_with_recall(settings, db, fake_embedder, model_dir, tmp_path):
    # a model worse than recall alone but better fused is served fused, as its card says
    served = tmp_path / "fused-ce"
    served.mkdir()
    for f in model_dir.iterdir():
        (served / f.name).symlink_to(f, target_is_directory=f.is_dir())
    card = {"beats_recall": False, "fusion_weight": 0.3, "fusion": {"beats_recall": True}}
    (served / "card.json").write_text(json.dumps(card))
    rdir = settings.rerankers_dir
    rdir.mkdir(parents=True)
    (rdir / "fused").symlink_to(served, target_is_directory=True)
    _fake_model(rdir, "older-bad", {"beats_recall": False}, age=10_000)
    assert resolve_model(settings).target == str(rdir / "fused")  # chosen by default: fused, it beats recall
    services = _services(settings, db, fake_embedder, cross_encoder_max_length=MAXLEN)
    fused = build_reranker("cross-encoder", services)
    assert fused.fusion_weight == 0.3
    plain = CrossEncoderReranker(fused.model, "plain", max_length=MAXLEN)
    ce = {r.chunk_id: r.score for r in plain.rerank(QUERY, CANDS).ranked}
    result = fused.rerank(QUERY, CANDS)
    # expected, computed here: 0.3 * z(ce) + 0.7 * z(recall) over this list
    def z(xs):
        m = sum(xs) / len(xs)
        sd = (sum((x - m) ** 2 for x in xs) / len(xs)) ** 0.5
        return [(x - m) / sd for x in xs]
    mixed = [0.3 * a + 0.7 * b for a, b in zip(z([ce[c.chunk_id] for c in CANDS]), z([c.score for c in CANDS]))]
    expected = [CANDS[i].chunk_id for i in sorted(range(len(CANDS)), key=lambda i: -mixed[i])]
    assert [r.chunk_id for r in result.ranked] == expected != EXPECTED
    assert all(abs(r.score - mixed[r.chunk_id - 1]) < 1e-6 for r in result.ranked)
    assert any("fused with recall" in n for n in result.trace.notes)
    assert not any("worse than recall" in n for n in result.trace.notes)
