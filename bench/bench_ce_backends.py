"""Does a cross-encoder backend keep the ranking? Torch against the exports on SciFact test questions, no database.

    python bench/bench_ce_backends.py [--queries 30] [--candidates 30]

Candidates are each question's BM25 top-N over the SciFact corpus (plain Python, so no index has to be built);
every backend scores the same pairs. Printed per backend: ms for the first question's pairs, top-10 agreement with
torch (mean and worst), the largest score difference, and nDCG@10 of the cross-encoder alone and fused with the
BM25 score (0.7 / 0.3, the house card's English weight). Exports come from the data dir's cache (made if absent).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bm25_candidates(dataset: Path, n_queries: int, n: int) -> list[dict]:
    docs = [json.loads(line) for line in open(dataset / "corpus.jsonl", encoding="utf-8")]
    queries = {q["_id"]: q["text"] for q in map(json.loads, open(dataset / "queries.jsonl", encoding="utf-8"))}
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in list(open(dataset / "qrels" / "test.tsv", encoding="utf-8"))[1:]:
        qid, did, rel = line.split("\t")[:3]
        qrels[qid][did] = int(rel)
    words = [re.findall(r"\w+", f"{d.get('title', '')} {d['text']}".lower()) for d in docs]
    tfs, avg = [Counter(w) for w in words], sum(map(len, words)) / len(words)
    df = Counter(t for w in words for t in set(w))
    out = []
    for qid in list(qrels)[:n_queries]:
        terms = re.findall(r"\w+", queries[qid].lower())
        idf = {t: math.log(1 + (len(docs) - df[t] + .5) / (df[t] + .5)) for t in terms}
        scores = [sum(idf[t] * tf[t] * 1.9 / (tf[t] + .9 * (.6 + .4 * len(w) / avg)) for t in terms if t in tf)
                  for tf, w in zip(tfs, words)]
        top = sorted(range(len(docs)), key=lambda j: -scores[j])[:n]
        out.append({"query": queries[qid], "qrels": qrels[qid], "ids": [docs[j]["_id"] for j in top],
                    "texts": [f"{docs[j].get('title', '')}\n{docs[j]['text']}" for j in top],
                    "bm25": [scores[j] for j in top]})
    return out


def ndcg10(ids, rels, scores) -> float:
    order = np.argsort(-np.asarray(scores), kind="stable")[:10]
    dcg = sum(rels.get(ids[j], 0) / math.log2(i + 2) for i, j in enumerate(order))
    ideal = sum(r / math.log2(i + 2) for i, r in enumerate(sorted(rels.values(), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--candidates", type=int, default=30)
    ap.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "eval" / "scifact")
    args = ap.parse_args()

    from assistant.rerank import onnx_backend
    from assistant.rerank.cache import fuse_with_recall
    from assistant.rerank.cross_encoder import load_model, resolve_model
    from assistant.settings import Settings

    settings = Settings.load()
    choice = resolve_model(settings)
    max_length = min(settings.cross_encoder_max_length,
                     int((choice.card.get("training") or {}).get("max_length") or settings.cross_encoder_max_length))
    torch_model = load_model(choice, max_length)
    onnx_backend.load(choice, max_length, "onnx", settings.data_dir, lambda: torch_model)  # makes the export
    where = onnx_backend.export_dir(choice, settings.data_dir)
    activation = onnx_backend._manifest(where).get("activation", "sigmoid")
    backends = {"torch": torch_model,
                "onnx-fp32": onnx_backend.OrtCrossEncoder(where / "model.onnx", where / "tokenizer", max_length,
                                                          activation),
                "onnx-int8": onnx_backend.OrtCrossEncoder(where / "model.int8.onnx", where / "tokenizer",
                                                          max_length, activation)}
    if onnx_backend.installed("openvino"):
        backends["openvino-fp32"] = onnx_backend.OpenVinoCrossEncoder(where / "model.onnx", where / "tokenizer",
                                                                      max_length, activation)
    groups = bm25_candidates(args.dataset, args.queries, args.candidates)
    print(f"{choice.model_id}, max_length {max_length}, {len(groups)} SciFact test questions x BM25 top "
          f"{args.candidates}; load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'backend':<14} {'ms':>7} {'agree':>6} {'worst':>6} {'max diff':>8} {'nDCG alone':>10} {'fused':>6}")
    ref = None
    for name, model in backends.items():
        pairs0 = list(zip([groups[0]["query"]] * args.candidates, groups[0]["texts"]))
        model.predict(pairs0[:2], show_progress_bar=False)
        t = time.perf_counter()
        model.predict(pairs0, batch_size=32, show_progress_bar=False)
        ms = 1000 * (time.perf_counter() - t)
        scores = [np.asarray(model.predict(list(zip([g["query"]] * len(g["texts"]), g["texts"])), batch_size=32,
                                           show_progress_bar=False), dtype=float) for g in groups]
        ref = scores if ref is None else ref
        agree = [len(set(np.argsort(-a)[:10]) & set(np.argsort(-b)[:10])) / 10 for a, b in zip(ref, scores)]
        alone = np.mean([ndcg10(g["ids"], g["qrels"], s) for g, s in zip(groups, scores)])
        fused = np.mean([ndcg10(g["ids"], g["qrels"], fuse_with_recall(s, g["bm25"], 0.7))
                         for g, s in zip(groups, scores)])
        diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, scores))
        print(f"{name:<14} {ms:>7.0f} {np.mean(agree):>6.3f} {min(agree):>6.2f} {diff:>8.3f} {alone:>10.4f} "
              f"{fused:>6.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
