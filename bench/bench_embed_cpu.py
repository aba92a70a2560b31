"""CPU seconds per chunk (all threads) to chunk and embed the first N SciFact abstracts with one embedder.

Wall-clock throughput means little on a machine shared with other jobs; process CPU time is what the work costs,
so two embedders measured one after the other on a loaded machine can still be compared.

    python bench/bench_embed_cpu.py --embedder e5 [--docs 40]
"""
from __future__ import annotations

import argparse
import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.eval.beir import iter_corpus  # noqa: E402
from assistant.eval.ingest import to_document  # noqa: E402
from assistant.ingest.chunker import chunk_sections  # noqa: E402
from assistant.ingest.pipeline import embed_text  # noqa: E402
from assistant.models.embedder import load_embedder  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default=None, help="default: the setting")
    ap.add_argument("--docs", type=int, default=40)
    ap.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "eval" / "scifact")
    args = ap.parse_args()

    settings = Settings.load(embedder=args.embedder)
    embedder = load_embedder(settings.embedder, settings)
    docs = [to_document("bench", d) for d in islice(iter_corpus(args.dataset), args.docs)]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    texts = [embed_text(d.title, c) for d in docs
             for c in chunk_sections(d.sections, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)]
    cpu1 = time.process_time()
    for i in range(0, len(texts), settings.embed_batch):
        embedder.embed_batch(texts[i:i + settings.embed_batch])
    cpu2, wall2 = time.process_time(), time.perf_counter()
    print(f"{embedder.model_id}: {len(docs)} docs -> {len(texts)} chunks; CPU chunking {cpu1 - cpu0:.1f} s, "
          f"embedding {cpu2 - cpu1:.1f} s = {1000 * (cpu2 - cpu0) / len(texts):.0f} CPU ms/chunk "
          f"(wall {wall2 - wall0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
