"""The benchmark SQL: bulk load + HNSW build answer like exact search; BM25 weighs rare words by IDF."""
import math

import numpy as np
import pytest

from assistant.db import benchstore, store
from assistant.ingest.loaders import LoadedDocument, Section
from assistant.ingest.pipeline import Ingestor


def test_bulk_loaded_index_finds_what_exact_search_finds(db):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((10, 16))
    x = centres[rng.integers(0, 10, 400)] + 0.3 * rng.standard_normal((400, 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    with db.connection() as conn:
        benchstore.prepare(conn, 16)
        assert benchstore.copy_chunks(conn, x, per_document=50) == 400
        benchstore.build_hnsw(conn)
        benchstore.analyze(conn)
        assert store.counts(conn) == (8, 400)
        assert benchstore.relation_sizes(conn)["hnsw_bytes"] > 0
        first = conn.execute("SELECT min(id) FROM chunks").fetchone()[0]
    q = x[7]
    with db.connection() as conn:
        exact = [c.chunk_id - first for c in store.vector_search(conn, q, 10, exact=True)]
    with db.connection() as conn:
        hnsw = [c.chunk_id - first for c in store.vector_search(conn, q, 10, ef_search=100)]
    assert exact == list(np.argsort(-(x @ q))[:10])  # rows came back in the order they were copied
    assert exact[0] == 7 and len(set(hnsw) & set(exact)) >= 9


def test_bm25_ranks_a_rare_word_above_repeats_of_a_common_one(db, settings, fake_embedder):
    texts = {"a": "redis redis redis lock", "b": "zookeeper lock", "c": "redis cache", "d": "redis queue"}
    docs = [LoadedDocument(f"t:{k}", "", k, [Section("", v)]) for k, v in texts.items()]
    Ingestor(db, fake_embedder, settings).ingest_documents(docs, len(docs))
    with db.connection() as conn:
        got = store.fts_search(conn, ["redis", "zookeeper"], [], 10)
        cd = store.fts_search(conn, ["redis", "zookeeper"], [], 10, ranking="ts_rank_cd")
    assert [c.source for c in got] == ["t:b", "t:a", "t:c", "t:d"]
    assert cd[0].source == "t:a"  # ts_rank_cd: three 'redis' beat the one rare 'zookeeper'

    def bm25(tf, length, df, n=4, avg=2.5, k1=0.9, b=0.4):
        return math.log(1 + (n - df + 0.5) / (df + 0.5)) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg))
    assert got[0].score == pytest.approx(bm25(1, 2, 1))
    assert got[1].score == pytest.approx(bm25(3, 4, 3))
    assert got[2].score == pytest.approx(bm25(1, 2, 3))
    with db.connection() as conn:
        assert store.fts_search(conn, ["the"], [], 10) == []  # only a stop word: nothing to rank by
