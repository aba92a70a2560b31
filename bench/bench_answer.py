"""Time to first token and generation speed of an answer model on a typical answer prompt (~1,500 tokens of
sources from the demo knowledge base, through the real prompt and the litellm completer).

    .venv/bin/python bench/bench_answer.py [--model local/qwen2.5-coder-1.5b] [--context-tokens 1500] [--runs 2]

Each run starts from an empty llama.cpp cache (as a fresh `assistant ask` process does), so the time to first
token includes evaluating the whole prompt.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from assistant.answer.answerer import build_messages, load_answer_prompt  # noqa: E402
from assistant.answer.citations import check_citations  # noqa: E402
from assistant.answer.context import ContextItem  # noqa: E402
from assistant.models.registry import LOCAL_PREFIX, load_completer  # noqa: E402
from assistant.paths import demo_kb_dir  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.types import Candidate  # noqa: E402

QUESTIONS = {
    "en": "Which distributed locks work without Redis?",
    "zh": "不使用 Redis 的分布式锁实现方式有哪些？",
}


def sources(lang: str, budget: int, count) -> list[ContextItem]:
    """Paragraphs of the demo knowledge base in the question's language, until budget model tokens."""
    items, used = [], 0
    for path in sorted((demo_kb_dir() / lang).glob("*")):
        text = path.read_text(encoding="utf-8")
        title = text.splitlines()[0].lstrip("# ").strip()
        body = "\n".join(line for line in text.splitlines()[1:] if line.strip())[:1200]
        tokens = count(body)
        if used + tokens > budget:
            break
        used += tokens
        i = len(items) + 1
        cand = Candidate(i, i, f"demo_kb/{lang}/{path.name}", title, "", body, str(i), tokens, 0.0, i)
        items.append(ContextItem(i, cand, body, tokens))
    return items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="litellm model string (default: settings.llm_model)")
    ap.add_argument("--context-tokens", type=int, default=1500)
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--runs", type=int, default=2, help="runs per language")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--show", action="store_true", help="print each answer")
    args = ap.parse_args()
    settings = Settings.load(llm_model=args.model, local_threads=args.threads)
    model = settings.llm_model
    t = time.perf_counter()
    completer = load_completer(settings)
    llama = None
    if model.startswith(LOCAL_PREFIX):
        from assistant.models.local_llm import provider
        llama = provider().loaded(model[len(LOCAL_PREFIX):])
    threads = settings.local_threads or os.cpu_count()
    print(f"model {model}: ready in {time.perf_counter() - t:.1f} s (threads: {threads})")

    def count(text: str) -> int:
        if llama is not None:
            return len(llama.tokenize(text.encode("utf-8"), add_bos=False))
        return len(text) // 3

    prompt = load_answer_prompt(settings)
    header = f"{'run':>3} {'lang':>4} {'prompt tok':>10} {'TTFT s':>7} {'prompt tok/s':>12} {'gen tok':>7} " \
             f"{'gen tok/s':>9} {'total s':>7}  citations"
    print(header)
    rows = []
    for run in range(1, args.runs + 1):
        for lang, question in QUESTIONS.items():
            ctx = sources(lang, args.context_tokens, count)
            messages = build_messages(prompt, question, ctx, lang)
            if llama is not None:
                llama.reset()  # no cached prefix: the cost of a fresh process
            pieces = []
            c = completer.complete(messages, temperature=0.0, max_tokens=args.max_tokens, seed=0,
                                   on_token=pieces.append, purpose="bench")
            ttft = c.first_token_seconds or 0.0
            gen = (c.completion_tokens or 0) / max(1e-9, c.seconds - ttft)
            pre = (c.prompt_tokens or 0) / max(1e-9, ttft)
            cites = check_citations(c.text, ctx)
            rows.append((ttft, gen, c.prompt_tokens))
            print(f"{run:>3} {lang:>4} {c.prompt_tokens or 0:>10} {ttft:>7.2f} {pre:>12.1f} "
                  f"{c.completion_tokens or 0:>7} {gen:>9.1f} {c.seconds:>7.1f}  "
                  f"valid {cites.valid} invalid {cites.invalid}")
            if args.show:
                print("    " + " ".join(c.text.split()))
    ttfts = sorted(r[0] for r in rows)
    gens = sorted(r[1] for r in rows)
    print(f"median time to first token {ttfts[len(ttfts) // 2]:.2f} s at ~{rows[0][2]} prompt tokens; "
          f"median generation {gens[len(gens) // 2]:.1f} tok/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
