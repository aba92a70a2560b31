"""Reranker cost figures: cross-encoder latency by candidate count on CPU, listwise calls and latency per question.

    .venv/bin/python bench/bench_rerank.py                      # cross-encoder + listwise (fake completer)
    .venv/bin/python bench/bench_rerank.py --llm local/qwen2.5-coder-1.5b --llm-candidates 20   # + a real LLM

The cross-encoder is MiniLM-L6 (the bundled all-MiniLM-L6-v2 weights with a fresh one-output head): the speed class
of a trained small cross-encoder, its scores meaningless. Passages are demo knowledge-base text cut to about
chunk_tokens words, the size recall hands over. The listwise figures use a fake completer (no model time), so they
count calls and prompt size per question; --llm times a real model too.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.paths import demo_kb_dir  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.types import Candidate  # noqa: E402

QUERY = "distributed lock that does not use Redis"


def passages(n: int, words: int) -> list[Candidate]:
    """n candidates of about `words` words each, cut from the demo knowledge base (cycled when short)."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(demo_kb_dir().rglob("*")) if p.is_file())
    tokens = text.split()
    out = []
    for i in range(n):
        start = (i * words) % max(1, len(tokens) - words)
        body = " ".join(tokens[start:start + words])
        out.append(Candidate(chunk_id=i + 1, document_id=i + 1, source=f"demo/{i}", title=f"Passage {i + 1}",
                             heading="", text=body, content_sha256=hashlib.sha256(f"{i}{body}".encode()).hexdigest(),
                             tokens=words, score=1 - i / 1000, rank=i + 1))
    return out


def bench_cross_encoder(settings: Settings, sizes: list[int], repeats: int, words: int) -> None:
    import torch
    from sentence_transformers import CrossEncoder

    from assistant.models.st_embedder import bundled_minilm_path
    from assistant.rerank.cross_encoder import CrossEncoderReranker

    t = time.perf_counter()
    model = CrossEncoder(str(bundled_minilm_path()), num_labels=1, max_length=settings.cross_encoder_max_length,
                         device="cpu")
    load = time.perf_counter() - t
    reranker = CrossEncoderReranker(model, "bench/minilm-l6", max_length=settings.cross_encoder_max_length,
                                    batch_size=settings.cross_encoder_batch)
    reranker.rerank(QUERY, passages(4, words))  # warm-up: first batch pays for lazy initialisation
    print(f"\ncross-encoder MiniLM-L6 on CPU ({torch.get_num_threads()} threads), max_length "
          f"{settings.cross_encoder_max_length}, batch {settings.cross_encoder_batch}, passages ~{words} words, "
          f"load {load:.2f} s, median of {repeats}")
    # CPU seconds next to wall seconds: on a shared machine wall time grows with other load, CPU time much less.
    print(f"{'candidates':>10} {'median ms':>10} {'min ms':>8} {'ms/pair':>8} {'pairs/s':>8} {'cpu ms':>8}")
    for n in sizes:
        cands = passages(n, words)
        runs, cpu = [], []
        for _ in range(repeats):
            c = time.process_time()
            runs.append(reranker.rerank(QUERY, cands).trace.seconds)
            cpu.append(time.process_time() - c)
        med = statistics.median(runs)
        print(f"{n:>10} {med * 1000:>10.0f} {min(runs) * 1000:>8.0f} {med * 1000 / n:>8.1f} {n / med:>8.1f} "
              f"{statistics.median(cpu) * 1000:>8.0f}")


def bench_listwise_fake(sizes: list[int], configs: list[tuple[int, int]], words: int) -> None:
    from assistant.models.completer import Completer, Completion
    from assistant.rerank.listwise import ListwiseReranker

    class Reverser(Completer):
        """Answers every window with its reverse: instant, always parseable."""

        model = "bench/reverser"

        def complete(self, messages, **kw):
            n = messages[-1]["content"].count("\n[")
            return Completion(" > ".join(f"[{i}]" for i in range(n, 0, -1)), self.model,
                              prompt_tokens=len(messages[-1]["content"]) // 4, completion_tokens=5 * n)

    print(f"\nlistwise per question (fake completer: no model time; tokens ~ chars/4; passages ~{words} words cut "
          "to 600 chars)")
    print(f"{'candidates':>10} {'window':>6} {'stride':>6} {'calls':>5} {'prompt tok':>10} {'reply tok':>9} "
          f"{'overhead ms':>11} {'est. local 1.5B s':>17}")
    for n in sizes:
        for window, stride in configs:
            reranker = ListwiseReranker(Reverser(), window=window, stride=stride)
            result = reranker.rerank(QUERY, passages(n, words))
            calls = result.trace.calls
            ptok = sum(c["prompt_tokens"] for c in calls)
            ctok = sum(c["completion_tokens"] for c in calls)
            # MODELS.md throughput of the local 1.5B on 2 cores: prompt ~89 tok/s, generation ~29 tok/s.
            est = ptok / 89 + ctok / 29
            print(f"{n:>10} {window:>6} {stride:>6} {len(calls):>5} {ptok:>10} {ctok:>9} "
                  f"{result.trace.seconds * 1000:>11.1f} {est:>17.0f}")


def bench_listwise_real(settings: Settings, model: str, n: int, words: int) -> None:
    from assistant.models.registry import load_completer
    from assistant.rerank.listwise import ListwiseReranker

    completer = load_completer(settings.replace(llm_model=model))
    reranker = ListwiseReranker(completer, window=settings.listwise_window, stride=settings.listwise_stride)
    result = reranker.rerank(QUERY, passages(n, words))
    t = result.trace
    print(f"\nlistwise with {model}: {n} candidates, window {reranker.window}, stride {reranker.stride}")
    for c in t.calls:
        print(f"  passages {c['window'][0]}-{c['window'][1]}: {c.get('seconds', 0):.1f} s, parse_ok "
              f"{c.get('parse_ok')}, prompt {c.get('prompt_tokens')} tok, reply {c.get('completion_tokens')} tok"
              + (f", error {c['error'][:80]}" if "error" in c else ""))
    print(f"  total {t.seconds:.1f} s for {len(t.calls)} call(s); parse_ok {t.parse_ok}; fallback {t.fallback}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--words", type=int, default=None, help="words per passage (default: settings.chunk_tokens)")
    ap.add_argument("--max-length", type=int, default=None, help="cross-encoder max_length (default: settings)")
    ap.add_argument("--skip-cross-encoder", action="store_true")
    ap.add_argument("--llm", default=None, help="also time listwise reranking with this litellm model string")
    ap.add_argument("--llm-candidates", type=int, default=20)
    args = ap.parse_args()
    settings = Settings.load(cross_encoder_max_length=args.max_length)
    words = args.words or settings.chunk_tokens
    if not args.skip_cross_encoder:
        bench_cross_encoder(settings, args.sizes, args.repeats, words)
    bench_listwise_fake(args.sizes, [(20, 10), (10, 5), (30, 15)], words)
    if args.llm:
        bench_listwise_real(settings, args.llm, args.llm_candidates, words)
    return 0


if __name__ == "__main__":
    sys.exit(main())
