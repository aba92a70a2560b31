"""`llm`: RankGPT-style listwise reranking through the Completer (the one litellm call site).

A window of passages numbered [1]..[n] goes to the model, which answers with an order like "[3] > [1] > [2]".
Windows slide from the bottom of the list to the top (window 20, stride 10 by default), so a relevant passage
recalled low can climb to the top. Whatever the model does, the caller gets an order back: a failed call or a
reply with no usable ranking leaves that window as it was, and the trace says so.
"""
from __future__ import annotations

import time
from typing import Sequence

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from assistant.models.completer import Completer, TransientLLMError, messages_sha
from assistant.prompts import Prompt, load_prompt
from assistant.rerank.base import Ranked, Reranker, RerankResult, Trace
from assistant.rerank.permutation import parse_permutation
from assistant.types import Candidate

PROMPT_FILE = "listwise_rerank.md"
PROMPT_FIELDS = {"query", "num", "passages"}


def windows(n: int, window: int, stride: int) -> list[tuple[int, int]]:
    """(start, end) slices from the bottom of a list of n up to the top; nothing to do for n < 2."""
    window, stride = max(2, window), max(1, min(stride, window))
    if n < 2:
        return []
    out, end = [], n
    while True:
        start = max(0, end - window)
        out.append((start, end))
        if start == 0:
            return out
        end -= stride


class ListwiseReranker(Reranker):
    name = "llm"

    def __init__(self, completer: Completer, *, window: int = 20, stride: int = 10, temperature: float = 0.0,
                 seed: int | None = 0, passage_chars: int = 600, prompt: Prompt | None = None,
                 attempts: int = 2, retry_wait: float = 0.5):
        self.completer = completer
        self.window = window
        self.stride = stride
        self.temperature = temperature
        self.seed = seed
        self.passage_chars = passage_chars
        self.prompt = prompt or load_prompt(PROMPT_FILE, PROMPT_FIELDS)
        self.attempts = max(1, attempts)
        self.retry_wait = retry_wait

    def describe(self) -> str:
        return f"listwise {self.completer.model} (window {self.window}, stride {self.stride})"

    def messages(self, query: str, part: Sequence[Candidate]) -> list[dict]:
        """The chat messages for one window."""
        passages = "\n\n".join(
            f"[{i}] {c.label}\n{' '.join(c.text.split())[: self.passage_chars]}" if c.label else
            f"[{i}] {' '.join(c.text.split())[: self.passage_chars]}" for i, c in enumerate(part, start=1))
        return [{"role": "user", "content": self.prompt.render(query=query, num=len(part), passages=passages)}]

    def _call(self, messages: list[dict], n: int, record: dict):
        # The completer already retries transient errors; this bounded second layer covers a window that
        # still meets one (a rate limit that outlasts the completer's backoff), then gives up for that window.
        for attempt in Retrying(stop=stop_after_attempt(self.attempts), reraise=True,
                                retry=retry_if_exception_type(TransientLLMError),
                                wait=wait_exponential(multiplier=self.retry_wait, max=8)):
            with attempt:
                record["attempts"] = attempt.retry_state.attempt_number
                return self.completer.complete(messages, temperature=self.temperature, max_tokens=6 * n + 16,
                                               seed=self.seed, purpose="rerank")

    def _rank_window(self, query: str, part: list[Candidate], span: tuple[int, int], trace: Trace) -> list[int]:
        messages = self.messages(query, part)
        record: dict = {"window": [span[0] + 1, span[1]], "messages_sha": messages_sha(messages)}
        trace.calls.append(record)
        t = time.perf_counter()
        try:
            comp = self._call(messages, len(part), record)
        except Exception as exc:  # after retries: keep this window's order rather than fail the whole run
            record.update(error=f"{type(exc).__name__}: {exc}"[:500], seconds=round(time.perf_counter() - t, 3))
            return list(range(len(part)))
        perm = parse_permutation(comp.text, len(part))
        record.update(reply=comp.text, parse_ok=perm.ok, repairs=perm.problems(),
                      order=[i + 1 for i in perm.order], seconds=round(time.perf_counter() - t, 3),
                      prompt_tokens=comp.prompt_tokens, completion_tokens=comp.completion_tokens, model=comp.model)
        return perm.order

    def rerank(self, query: str, candidates: Sequence[Candidate], top_k: int | None = None) -> RerankResult:
        """Reorder candidates window by window from the bottom up; never raises for a model failure."""
        start = time.perf_counter()
        trace = Trace(self.name, model=getattr(self.completer, "model", None), prompt_sha=self.prompt.sha256)
        if not getattr(self.completer, "can_rank", True):
            trace.notes.append(
                f"{trace.model} is known not to rank passages usefully: expect an order no better than recall. "
                "Set ASSISTANT_LISTWISE_MODEL to a capable model for listwise reranking.")
        order = list(candidates)
        for span in windows(len(order), self.window, self.stride):
            part = order[span[0]:span[1]]
            perm = self._rank_window(query, part, span, trace)
            order[span[0]:span[1]] = [part[i] for i in perm]
        self._summarise(trace)
        trace.seconds = time.perf_counter() - start
        ranked = [Ranked(c, i, None) for i, c in enumerate(order[: top_k or None], start=1)]
        return RerankResult(ranked, trace)

    @staticmethod
    def _summarise(trace: Trace) -> None:
        failed = [c for c in trace.calls if "error" in c]
        parsed = [c for c in trace.calls if "parse_ok" in c]
        trace.parse_ok = all(c["parse_ok"] for c in parsed) if parsed else None
        if failed:
            where = "; ".join(f"passages {c['window'][0]}-{c['window'][1]}: {c['error'][:120]}" for c in failed)
            trace.fallback = (f"{len(failed)} of {len(trace.calls)} windows kept their previous order after the "
                              f"model call failed ({where})")
        for c in parsed:
            if c["repairs"].get("unusable"):
                trace.notes.append(f"passages {c['window'][0]}-{c['window'][1]}: the reply held no usable ranking; "
                                   "kept their previous order")


def build(services) -> ListwiseReranker:
    """A listwise reranker over the listwise model (or the answer model) of the settings."""
    s = services.settings
    completer = services.completer_for(s.listwise_model or s.llm_model)
    return ListwiseReranker(completer, window=s.listwise_window, stride=s.listwise_stride,
                            temperature=s.temperature, seed=s.seed,
                            prompt=load_prompt(PROMPT_FILE, PROMPT_FIELDS, s.prompts_dir))


def unavailable_reason(services) -> str | None:
    """Why `auto` must not pick the listwise reranker (None: it may)."""
    s = services.settings
    model = s.listwise_model or s.llm_model
    if model.startswith("local/"):
        # Decided from the name: building a local completer joins and loads a GGUF, far too much for a check.
        # The models registry marks every local model can_rank=False (MODELS.md: none ranks usefully).
        return (f"{model} is a small local model, known not to rank passages usefully; set ASSISTANT_LISTWISE_MODEL "
                "to a capable model (an API model or a bigger local server) to let auto use listwise reranking")
    try:
        completer = services.completer_for(model)
    except Exception as exc:
        return f"no completer for {model}: {exc}"
    if not getattr(completer, "can_rank", True):
        return (f"{completer.model} is known not to rank passages usefully; set ASSISTANT_LISTWISE_MODEL to a capable "
                "model to let auto use listwise reranking")
    return None
