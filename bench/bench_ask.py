"""End-to-end ask latency per stage (recall, rerank, first token, answer) with the local default model.

Asks English and Chinese questions over the bundled demo knowledge base, ingested into a throwaway schema, through
pipeline.ask, the path users take. Model load is timed apart from the questions; each stage's share of the total
is printed from the same runs.

    python bench/bench_ask.py [--model local/qwen2.5-coder-1.5b] [--strategy none] [--repeat 1] [--json OUT]
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
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from assistant.db import open_database  # noqa: E402
from assistant.pipeline import AskOptions, ask  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import Settings  # noqa: E402

QUESTIONS = [
    "How do I take a distributed lock with Redis?",
    "What is a fencing token and why do I need one?",
    "How can I build a distributed lock without Redis?",
    "ZooKeeper 如何实现分布式锁？",
    "不使用 Redis 怎么实现分布式锁？",
]
STAGES = ("recall_ms", "rerank_ms", "first_token_ms", "answer_ms", "total_ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="litellm model string (default: the setting)")
    ap.add_argument("--strategy", default="none", help="rerank strategy (default: none)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    settings = Settings.load(llm_model=args.model)
    schema = f"bench_ask_{os.getpid()}"
    db = open_database(settings, schema=schema)
    services = Services(settings.replace(schema=schema, demo_kb=True), db=db)
    fig: dict = {"model": settings.llm_model, "embedder": settings.embedder, "strategy": args.strategy,
                 "cpus": os.cpu_count(), "runs": []}
    try:
        t = time.perf_counter()
        report = services.ensure_knowledge_base()
        fig["demo_kb_ingest_s"] = round(time.perf_counter() - t, 1)
        fig["demo_kb"] = report.summary() if report else "already there"
        from assistant.models.registry import preload

        t = time.perf_counter()
        completer = services.completer_for(None)
        preload(completer)
        fig["model_load_s"] = round(time.perf_counter() - t, 2)
        print(f"{settings.llm_model}: load {fig['model_load_s']} s; demo KB ({fig['demo_kb']}) "
              f"in {fig['demo_kb_ingest_s']} s; strategy {args.strategy}")
        for _ in range(args.repeat):
            for q in QUESTIONS:
                run = ask(q, AskOptions(strategy=args.strategy, log=False), services)
                comp = run.answer.completion
                row = {"question": q, **{s: run.timings.get(s) for s in STAGES},
                       "prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens,
                       "cited": len(run.answer.cited_chunk_ids), "abstained": run.answer.abstained}
                fig["runs"].append(row)
                print(f"  recall {row['recall_ms']:7.0f} ms  rerank {row['rerank_ms']:6.0f} ms  first token "
                      f"{row['first_token_ms'] or 0:7.0f} ms  answer {row['answer_ms']:7.0f} ms  total "
                      f"{row['total_ms']:7.0f} ms  ({comp.prompt_tokens} + {comp.completion_tokens} tokens, "
                      f"{row['cited']} cited)  {q}")
    finally:
        with db.connection() as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        services.close()

    runs = fig["runs"]
    fig["p50"] = {s: round(float(np.median([r[s] or 0 for r in runs])), 1) for s in STAGES}
    gen = [r["completion_tokens"] / max(1e-3, (r["answer_ms"] - (r["first_token_ms"] or 0)) / 1000) for r in runs]
    fig["generation_tok_s_p50"] = round(float(np.median(gen)), 1)
    share = 100 * fig["p50"]["answer_ms"] / fig["p50"]["total_ms"]
    print("p50: " + ", ".join(f"{s[:-3]} {fig['p50'][s]:.0f} ms" for s in STAGES)
          + f"; the answer is {share:.1f}% of the total; generation ~{fig['generation_tok_s_p50']} tok/s")
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
