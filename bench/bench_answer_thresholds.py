"""Measure the answer stage's two thresholds on the gold question set (no LLM calls).

1. Context filter: the raw cross-encoder score of (question, chunk) for the top --top reranked chunks of every gold
   question. A chunk from an `expected` file is "answers", one from a `forbidden` file, or any chunk of an
   unanswerable question, is "does not answer". For each threshold: how many answerable questions keep at least one
   expected chunk, how many forbidden chunks are dropped, how many unanswerable questions end with no context.
2. Citation support: sentences copied from the expected chunks, scored against their own chunk (must pass) and
   against a chunk of another document from the same question's candidates (a misattributed citation, must fail),
   with the cross-encoder and with the embedder.

    python bench/bench_answer_thresholds.py [--gold bench/gold_demo.jsonl] [--top 8] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.answer.gold import load_gold, matches  # noqa: E402
from assistant.answer.scoring import EmbeddingScorer, cross_encoder_scorer  # noqa: E402
from assistant.rerank.cross_encoder import passage_text  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import Settings  # noqa: E402

_SENT = re.compile(r"(?<=[.!?。！？])\s*")


def sentences(text: str) -> list[str]:
    out = []
    for s in _SENT.split(text):
        s = s.strip()
        # Headings, code and table rows are not claims an answer would copy.
        if len(s) >= 25 and not s.startswith(("#", "|", "`", "-", "{")) and "\n" not in s:
            out.append(s)
    return out


def grid_report(rows: list[dict], grid: list[float]) -> list[dict]:
    out = []
    answerable = [r for r in rows if not r["abstain"]]
    unanswerable = [r for r in rows if r["abstain"]]
    for t in grid:
        keep_hit = sum(1 for r in answerable if any(c["expected"] and c["score"] >= t for c in r["chunks"]))
        forb = [c for r in rows for c in r["chunks"] if c["forbidden"]]
        empty = sum(1 for r in unanswerable if all(c["score"] < t for c in r["chunks"]))
        kept = sum(sum(1 for c in r["chunks"] if c["score"] >= t) for r in answerable)
        out.append({"threshold": t, "answerable_keep_expected": keep_hit / max(1, len(answerable)),
                    "forbidden_dropped": sum(1 for c in forb if c["score"] < t) / max(1, len(forb)),
                    "unanswerable_empty": empty / max(1, len(unanswerable)),
                    "mean_kept_answerable": kept / max(1, len(answerable))})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=Path(__file__).with_name("gold_demo.jsonl"))
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    services = Services(Settings.load())
    services.ensure_knowledge_base()
    settings = services.settings
    ce = cross_encoder_scorer(services)
    if ce is None:
        print("no cross-encoder: nothing to measure for the context filter", file=sys.stderr)
        return 1
    emb = EmbeddingScorer(services.embedder)
    reranker = services.reranker("cross-encoder")
    gold = load_gold(args.gold)
    rows, pos, neg = [], [], []
    rng = random.Random(0)
    for g in gold:
        cands = services.recaller.recall(g.question, settings.recall_k, settings.recall_mode)
        ranked = [r.candidate for r in reranker.rerank(g.question, cands).ranked[: args.top]]
        scores = ce.score([(g.question, passage_text(c)) for c in ranked])
        rows.append({"id": g.id, "lang": g.lang, "abstain": g.abstain, "chunks": [
            {"source": c.source, "score": s, "expected": matches(c.source, g.expected),
             "forbidden": matches(c.source, g.forbidden)} for c, s in zip(ranked, scores)]})
        for c in ranked:
            if not matches(c.source, g.expected):
                continue
            others = [o for o in ranked if o.document_id != c.document_id]
            for s in sentences(c.text)[:2]:
                pos.append((g.lang, s, c.text))
                if others:
                    neg.append((g.lang, s, rng.choice(others).text))
    grid = [round(x * 0.05, 2) for x in range(0, 20)]
    fig = {"context": {lang: grid_report([r for r in rows if lang in ("all", r["lang"])], grid)
                       for lang in ("all", "en", "zh")}, "support": {}}
    for scorer in (ce, emb):
        res = {}
        for lang in ("all", "en", "zh"):
            p = [x for x in pos if lang in ("all", x[0])]
            n = [x for x in neg if lang in ("all", x[0])]
            ps = scorer.score([(s, t) for _, s, t in p])
            ns = scorer.score([(s, t) for _, s, t in n])
            lo, hi = min(ps + ns), max(ps + ns)
            steps = [lo + (hi - lo) * i / 40 for i in range(41)]
            res[lang] = {"pairs": [len(ps), len(ns)], "table": [
                {"threshold": round(t, 4), "copied_pass": sum(1 for x in ps if x >= t) / max(1, len(ps)),
                 "misattributed_fail": sum(1 for x in ns if x < t) / max(1, len(ns))} for t in steps]}
        fig["support"][scorer.describe()] = res
    fig["rows"] = rows
    text = json.dumps(fig, indent=1, ensure_ascii=False)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    for lang, table in fig["context"].items():
        print(f"context filter ({lang}): threshold, answerable keep expected, forbidden dropped, unanswerable empty, "
              "mean kept")
        for r in table:
            print(f"  {r['threshold']:.2f}  {r['answerable_keep_expected']:.2f}  {r['forbidden_dropped']:.2f}  "
                  f"{r['unanswerable_empty']:.2f}  {r['mean_kept_answerable']:.1f}")
    for name, res in fig["support"].items():
        for lang, r in res.items():
            print(f"support {name} ({lang}, {r['pairs'][0]} copied / {r['pairs'][1]} misattributed): "
                  "threshold, copied pass, misattributed fail")
            for x in r["table"][::2]:
                print(f"  {x['threshold']:.3f}  {x['copied_pass']:.2f}  {x['misattributed_fail']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
