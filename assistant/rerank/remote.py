"""`remote`: the cross-encoder strategy on a rerank server (Infinity, TEI, vLLM hosting a bge reranker), through
litellm.rerank and the Cohere-style /v1/rerank API. Scores are cached like the in-process cross-encoder's."""
from __future__ import annotations

import logging
import os
import time
from typing import Sequence

from assistant.rerank.base import Reranker, RerankerUnavailable, RerankResult, Trace, keep_order
from assistant.rerank.cache import ScoreCache, rank_pointwise
from assistant.rerank.cross_encoder import passage_text
from assistant.types import Candidate

log = logging.getLogger(__name__)

NOT_CONFIGURED = (
    "the remote reranker is not configured: set ASSISTANT_RERANK_SERVER_URL (a Cohere-style rerank endpoint such as "
    "Infinity or vLLM, e.g. http://127.0.0.1:8000/v1/rerank; a bare base URL gets Cohere's /v2/rerank) and "
    "ASSISTANT_RERANK_SERVER_MODEL (the model it serves, e.g. BAAI/bge-reranker-v2-m3; a litellm provider prefix "
    "such as infinity/ or hosted_vllm/ picks that provider's route).")


def litellm_model(model: str) -> str:
    """A provider-qualified litellm model string; bare names go to the Cohere-style route."""
    import litellm

    return model if model.split("/", 1)[0] in {str(p.value) for p in litellm.LlmProviders} else f"cohere/{model}"


class RemoteReranker(Reranker):
    name = "remote"

    def __init__(self, url: str, model: str, *, timeout: float = 60.0, cache: ScoreCache | None = None,
                 max_chars: int = 4000):
        self.url = url
        self.model = model
        self.timeout = timeout
        self.cache = cache
        self.max_chars = max_chars

    def describe(self) -> str:
        return f"remote {self.model} at {self.url}"

    def _score(self, query: str, cands: Sequence[Candidate], trace: Trace) -> list[float]:
        import litellm

        # Self-hosted servers need no key, but litellm's Cohere route refuses to send a request without one.
        key = None if (os.environ.get("COHERE_API_KEY") or os.environ.get("CO_API_KEY")) else "no-key"
        t = time.perf_counter()
        resp = litellm.rerank(model=litellm_model(self.model), query=query,
                              documents=[passage_text(c)[: self.max_chars] for c in cands], top_n=len(cands),
                              return_documents=False, api_base=self.url, api_key=key, timeout=self.timeout)
        trace.calls.append({"batch": len(cands), "seconds": round(time.perf_counter() - t, 4)})
        scores: dict[int, float] = {}
        for r in resp.results or []:
            item = r if isinstance(r, dict) else dict(r)
            idx = int(item["index"])
            if 0 <= idx < len(cands):
                scores[idx] = float(item["relevance_score"])
        if len(scores) != len(cands):
            raise RuntimeError(f"rerank server scored {len(scores)} of {len(cands)} passages")
        return [scores[i] for i in range(len(cands))]

    def rerank(self, query: str, candidates: Sequence[Candidate], top_k: int | None = None) -> RerankResult:
        """Scores from the server (cached ones reused); on a server failure, recall order with the reason."""
        start = time.perf_counter()
        trace = Trace(self.name, model=self.model)
        try:
            ranked = rank_pointwise(query, candidates, top_k, score=lambda q, cs: self._score(q, cs, trace),
                                    cache=self.cache, trace=trace)
        except Exception as exc:  # a dead server must not take the answer down with it
            log.warning("rerank server failed: %s", exc)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            trace.fallback = f"rerank server {self.url} failed ({type(exc).__name__}: {first[:300]}); kept recall order"
            ranked = keep_order(candidates, top_k)
        trace.seconds = time.perf_counter() - start
        return RerankResult(ranked, trace)


def unavailable_reason(services) -> str | None:
    """Why the remote reranker cannot run (None: configured); sends no request."""
    s = services.settings
    return None if s.rerank_server_url and s.rerank_server_model else NOT_CONFIGURED


def build(services) -> RemoteReranker:
    """The rerank server the settings name."""
    reason = unavailable_reason(services)
    if reason:
        raise RerankerUnavailable(reason)
    s = services.settings
    model_id = f"remote:{s.rerank_server_model}"
    cache = ScoreCache(services.db, model_id, True) if s.rerank_cache else None
    return RemoteReranker(s.rerank_server_url, s.rerank_server_model, timeout=min(s.llm_timeout, 120.0), cache=cache)
