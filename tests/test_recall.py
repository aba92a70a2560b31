import numpy as np

from assistant.db import store
from assistant.recall import Recaller, rrf
from assistant.types import Candidate
from tests.kb import ingest_texts

DOCS = {
    "redis.md": "# Redis lock\n\nA Redis lock uses SET key value NX PX 30000 and a random token.",
    "redlock.md": "# Redlock\n\nRedlock acquires the lock on a majority of independent Redis masters.",
    "zk.md": "# ZooKeeper lock\n\nZooKeeper locks use ephemeral sequential znodes; no Redis involved.",
    "etcd.md": "# etcd lock\n\netcd locks attach the key to a lease that expires when the client dies.",
    "pg.md": "# Postgres advisory locks\n\npg_advisory_lock takes a session-level lock on a 64-bit key.",
    "cache.md": "# Redis caching\n\nCache-aside with Redis: read through, set a TTL, avoid stampedes.",
    "zh-zk.md": "# 基于 ZooKeeper 的分布式锁\n\n使用临时顺序节点实现分布式锁，不依赖 Redis。",
    "zh-redis.md": "# 基于 Redis 的分布式锁\n\n使用 SET NX PX 命令加锁，并用 Lua 脚本释放锁。",
}


def ingest(db, settings, embedder, tmp_path):
    ingest_texts(db, embedder, settings, tmp_path, DOCS)


def test_vector_recall_matches_exact_cosine(db, settings, use_embedder, tmp_path):
    ingest(db, settings, use_embedder, tmp_path)
    r = Recaller(db, use_embedder, ef_search=100)
    for q in ["distributed lock without Redis", "不使用 Redis 的分布式锁", "session lock on an integer key"]:
        hnsw = r.vector(q, 8)
        exact = r.vector(q, 8, exact=True)
        assert [c.chunk_id for c in hnsw] == [c.chunk_id for c in exact]
        # and the scores are the cosine similarities computed here
        with db.connection() as conn:
            rows = conn.execute("SELECT id, embedding FROM chunks").fetchall()
        qv = use_embedder.embed_query(q)
        mine = sorted(((float(np.dot(qv, e.to_numpy())), cid) for cid, e in rows), reverse=True)
        assert [cid for _, cid in mine[:8]] == [c.chunk_id for c in exact]
        assert abs(mine[0][0] - exact[0].score) < 1e-4
        assert [c.rank for c in hnsw] == list(range(1, 9))


def test_full_text_matches_chinese_and_english(db, settings, use_embedder, tmp_path):
    ingest(db, settings, use_embedder, tmp_path)
    r = Recaller(db, use_embedder)
    zh = r.fts("临时顺序节点", 5)
    assert zh and zh[0].source.endswith("zh-zk.md")
    en = r.fts("advisory locking", 5)  # stemmed: locking ~ lock
    assert en and en[0].source.endswith("pg.md")
    assert r.fts("", 5) == []


def test_hybrid_fuses_both_legs(db, settings, use_embedder, tmp_path):
    ingest(db, settings, use_embedder, tmp_path)
    r = Recaller(db, use_embedder)
    fused = r.hybrid("ephemeral sequential znodes", 5)
    assert fused[0].source.endswith("zk.md")
    assert "vector_rank" in fused[0].extra and "fts_rank" in fused[0].extra


def _cand(cid, rank):
    return Candidate(cid, 1, "s", "t", "", "x", str(cid), 1, 0.0, rank)


def test_rrf_on_hand_computed_case():
    a = [_cand(1, 1), _cand(2, 2), _cand(3, 3)]
    b = [_cand(3, 1), _cand(1, 2)]
    out = rrf([a, b], k=3, c=60)
    # 1: 1/61 + 1/62 ; 3: 1/63 + 1/61 ; 2: 1/62
    assert [c.chunk_id for c in out] == [1, 3, 2]
    assert abs(out[0].score - (1 / 61 + 1 / 62)) < 1e-12
    assert out[2].extra == {"leg0_rank": 2, "leg0_score": 0.0}
