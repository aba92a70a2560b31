"""Does reranking honour "without Redis" on the demo knowledge base? Recall vs each rerank strategy.

For the demo question in both seed phrasings and its paraphrases (English and Chinese), recall the top --candidates
chunks, rerank them with each strategy, and count how many of the top-k come from Redis-based documents: the demo
files named redis-*, redisson-*, redlock-* (not non-redis-lock-comparison or going-redis-free, which are about leaving Redis).
A chunk from one of them describes exactly what the question excludes, so a lower share is better. The label comes
from the file name alone, so nobody tunes it per answer.

    python bench/bench_negation_demo.py [--strategies none,cross-encoder] [--question Q --paraphrases FILE] [--json OUT]

Uses the settings (ASSISTANT_DATA_DIR, ASSISTANT_CROSS_ENCODER, ...) and the demo knowledge base, which the first
run ingests into an empty database.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path, PurePath

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.rerank.base import keep_order  # noqa: E402
from assistant.runs.experiment import read_paraphrases  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import Settings  # noqa: E402

QUESTION = "distributed lock without Redis"
SEED_ZH = "不使用 Redis 的分布式锁实现方式有哪些？"
"""The seed's Chinese phrasing: with QUESTION and the paraphrases, the 7 phrasings issue 15 checks."""
PARAPHRASES = Path(__file__).with_name("paraphrases_redis.txt")
_REDIS_DOC = re.compile(r"^(redis|redisson|redlock)")


def redis_based(source: str) -> bool:
    return bool(_REDIS_DOC.match(PurePath(source).name))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategies", default="none,cross-encoder")
    ap.add_argument("--candidates", type=int, default=20)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--paraphrases", type=Path, default=PARAPHRASES, help="more phrasings, one a line")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    seed = [SEED_ZH] if args.question == QUESTION else []
    questions = list(dict.fromkeys([*seed, args.question, *read_paraphrases(args.paraphrases)]))
    services = Services(Settings.load())
    services.ensure_knowledge_base()
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    fig: dict = {"candidates": args.candidates, "k": args.k, "questions": questions, "strategies": {}}
    for strategy in strategies:
        rows, seconds = [], []
        reranker = None if strategy == "none" else services.reranker(strategy)
        for q in questions:
            cands = services.recaller.recall(q, args.candidates, services.settings.recall_mode)
            t = time.perf_counter()
            ranked = keep_order(cands) if reranker is None else reranker.rerank(q, cands).ranked
            seconds.append(time.perf_counter() - t)
            top = [r.candidate.source for r in ranked[:args.k]]
            rows.append({"question": q, "redis_in_top": sum(map(redis_based, top)),
                         "top": [PurePath(s).name for s in top]})
        share = sum(r["redis_in_top"] for r in rows) / (args.k * len(rows))
        fig["strategies"][strategy] = {"redis_share": round(share, 3), "per_question": rows,
                                       "rerank_s_mean": round(sum(seconds) / len(seconds), 2)}
    print(f"Share of the top-{args.k} chunks from Redis-based documents (lower is better), "
          f"{len(questions)} phrasings, {args.candidates} candidates:")
    for strategy, f in fig["strategies"].items():
        per = " ".join(str(r["redis_in_top"]) for r in f["per_question"])
        print(f"  {strategy:<14} {f['redis_share']:.2f}   per phrasing: {per}   rerank {f['rerank_s_mean']} s/question")
    base = fig["strategies"].get("none")
    for strategy, f in fig["strategies"].items():
        if base and strategy != "none" and f["redis_share"]:
            print(f"  {strategy} / none: x{f['redis_share'] / max(base['redis_share'], 1e-9):.2f}")
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
