"""Cross-lingual recall on the demo knowledge base: Chinese questions whose answer is only in an English note.

The same questions asked in English are the same-language baseline. The demo KB is ingested once per embedder
into its own schema (bench_xling_<embedder>, reused on later runs). For each question: the rank of the first
chunk of the target note, and how many of the top 5 chunks are Chinese notes (an embedder that prefers
same-language passages fills them with zh/ notes).

    python bench/bench_crosslingual.py --embedder e5 [--modes vector,hybrid] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.db import open_database  # noqa: E402
from assistant.eval.ingest import embedder_slug  # noqa: E402
from assistant.ingest.pipeline import Ingestor  # noqa: E402
from assistant.models.embedder import load_embedder  # noqa: E402
from assistant.recall import Recaller  # noqa: E402
from assistant.settings import Settings  # noqa: E402

DEMO = ROOT / "assistant" / "demo_kb"
# Chinese question -> the English note that answers it (no Chinese note covers these topics).
QUESTIONS = {
    "为什么在 NFS 共享目录上用 flock 文件锁会失效？": "flock-and-nfs.txt",
    "为什么锁服务只提供粗粒度的锁，而不是细粒度的锁？": "chubby-paper-summary.md",
    "如何用 DynamoDB 的条件写入实现分布式锁？": "dynamodb-lock-client.md",
    "乐观锁的版本号列是怎么防止并发更新冲突的？": "optimistic-locking-version-column.md",
    "PostgreSQL 的咨询锁在持有连接断开后会怎样？": "postgres-advisory-locks.md",
    "怎样用 SKIP LOCKED 让多个工作进程并发领取任务？": "select-for-update-skip-locked.md",
    "如何用 Redis 给 API 做限流，固定窗口有什么问题？": "redis-rate-limiting.md",
    "MySQL 的命名锁 GET_LOCK 怎么使用？": "mysql-get-lock.md",
    "不用分布式锁的话，有哪些替代方案？": "lock-free-alternatives.md",
}
# The same questions in English: the same-language baseline for the same notes.
EN_QUESTIONS = {
    "Why do flock file locks fail on a shared NFS directory?": "flock-and-nfs.txt",
    "Why does the lock service offer coarse-grained locks rather than fine-grained ones?": "chubby-paper-summary.md",
    "How do I build a distributed lock with DynamoDB conditional writes?": "dynamodb-lock-client.md",
    "How does a version column prevent conflicting concurrent updates?": "optimistic-locking-version-column.md",
    "What happens to a PostgreSQL advisory lock when the holding connection drops?": "postgres-advisory-locks.md",
    "How can several workers claim jobs concurrently with SKIP LOCKED?": "select-for-update-skip-locked.md",
    "How do I rate-limit an API with Redis, and what is wrong with a fixed window?": "redis-rate-limiting.md",
    "How do I use MySQL named locks with GET_LOCK?": "mysql-get-lock.md",
    "What are the alternatives to a distributed lock?": "lock-free-alternatives.md",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default=None, help="default: the setting")
    ap.add_argument("--modes", default="vector,hybrid")
    ap.add_argument("-k", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    settings = Settings.load(embedder=args.embedder)
    embedder = load_embedder(settings.embedder, settings)
    db = open_database(settings, schema=f"bench_xling_{embedder_slug(settings.embedder)}")
    Ingestor(db, embedder, settings).ingest_paths([DEMO])
    recaller = Recaller(db, embedder, settings.ef_search, settings.rrf_k)
    out: dict = {"embedder": embedder.model_id, "questions": len(QUESTIONS), "k": args.k, "modes": {}}
    for lang, mode in [(lang, mode) for lang in ("zh", "en") for mode in args.modes.split(",")]:
        rows = []
        for question, target in (QUESTIONS if lang == "zh" else EN_QUESTIONS).items():
            hits = recaller.recall(question, args.k, mode)
            names = [Path(h.source).name for h in hits]
            rank = next((i for i, n in enumerate(names, 1) if n == target), None)
            zh_top5 = sum(1 for h in hits[:5] if "/zh/" in h.source)
            rows.append({"question": question, "target": target, "rank": rank, "zh_in_top5": zh_top5,
                         "top1": names[0] if names else None})
        n = len(rows)
        summary = {"hit@1": sum(r["rank"] == 1 for r in rows) / n,
                   "hit@5": sum(bool(r["rank"]) and r["rank"] <= 5 for r in rows) / n,
                   "mrr@10": sum(1 / r["rank"] for r in rows if r["rank"] and r["rank"] <= 10) / n,
                   "zh_share_top5": sum(r["zh_in_top5"] for r in rows) / (5 * n)}
        out["modes"][f"{lang}-{mode}"] = {"summary": summary, "rows": rows}
        print(f"{embedder.model_id} {lang} questions, {mode:>6}: hit@1 {summary['hit@1']:.2f}  "
              f"hit@5 {summary['hit@5']:.2f}  "
              f"MRR@10 {summary['mrr@10']:.3f}  Chinese notes in top 5 {summary['zh_share_top5']:.2f}")
        for r in rows:
            print(f"    rank {str(r['rank'] or '-'):>2}  zh@5 {r['zh_in_top5']}  {r['target']:<38} top1 {r['top1']}")
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
    db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
