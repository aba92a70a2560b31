"""First stage: cheap, wide recall. Vector (HNSW cosine), full text, or both fused by reciprocal rank fusion."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from assistant.db import store
from assistant.textsearch import query_terms
from assistant.types import Candidate

MODES = ("vector", "fts", "hybrid")


@dataclass(frozen=True)
class Recaller:
    """Recall over one schema with one embedder."""

    db: object
    embedder: object
    ef_search: int = 100
    rrf_k: int = 60

    def vector(self, question: str, k: int, exact: bool = False) -> list[Candidate]:
        q = self.embedder.embed_query(question)
        with self.db.connection() as conn:
            return store.vector_search(conn, q, k, self.ef_search, exact=exact)

    def fts(self, question: str, k: int) -> list[Candidate]:
        latin, cjk = query_terms(question)
        with self.db.connection() as conn:
            return store.fts_search(conn, latin, cjk, k)

    def hybrid(self, question: str, k: int) -> list[Candidate]:
        # Each leg looks deeper than k so that fusion can lift a chunk that only one leg ranks well.
        return rrf([self.vector(question, 2 * k), self.fts(question, 2 * k)], k, self.rrf_k,
                   names=("vector", "fts"))

    def recall(self, question: str, k: int, mode: str = "vector") -> list[Candidate]:
        if mode not in MODES:
            raise ValueError(f"unknown recall mode {mode!r}: use one of {', '.join(MODES)}")
        return getattr(self, mode)(question, k)


def rrf(lists: Sequence[Sequence[Candidate]], k: int, c: int = 60,
        names: Sequence[str] | None = None) -> list[Candidate]:
    """Reciprocal rank fusion: score = sum over lists of 1 / (c + rank). Ties keep first-list order."""
    names = names or [f"leg{i}" for i in range(len(lists))]
    scores: dict[int, float] = {}
    first: dict[int, Candidate] = {}
    ranks: dict[int, dict] = {}
    for name, lst in zip(names, lists):
        for cand in lst:
            scores[cand.chunk_id] = scores.get(cand.chunk_id, 0.0) + 1.0 / (c + cand.rank)
            first.setdefault(cand.chunk_id, cand)
            ranks.setdefault(cand.chunk_id, {})[f"{name}_rank"] = cand.rank
            ranks[cand.chunk_id][f"{name}_score"] = cand.score
    order = sorted(scores, key=lambda cid: -scores[cid])[:k]
    return [first[cid].with_(score=scores[cid], rank=i, extra=ranks[cid]) for i, cid in enumerate(order, start=1)]
