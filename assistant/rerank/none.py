"""`none`: recall order, the baseline every other reranker is measured against."""
from __future__ import annotations

import time
from typing import Sequence

from assistant.rerank.base import Reranker, RerankResult, Trace, keep_order
from assistant.types import Candidate


class NoReranker(Reranker):
    name = "none"

    def rerank(self, query: str, candidates: Sequence[Candidate], top_k: int | None = None) -> RerankResult:
        """Candidates in recall order."""
        start = time.perf_counter()
        ranked = keep_order(candidates, top_k)
        return RerankResult(ranked, Trace("none", seconds=time.perf_counter() - start))


def build(services) -> NoReranker:
    return NoReranker()


def unavailable_reason(services) -> str | None:
    return None
