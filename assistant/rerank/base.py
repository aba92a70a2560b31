"""The Reranker interface: one abstract method, results that carry a score or only a rank, and a trace."""
from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import Sequence

from assistant.types import Candidate


class RerankerUnavailable(RuntimeError):
    """This reranker cannot run here (no model, no server); the message says what to do."""


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    rank: int
    """1-based rank after reranking."""
    score: float | None = None
    """Reranker score when the method produces one (cross-encoders); None for pure permutations (listwise)."""

    @property
    def chunk_id(self) -> int:
        return self.candidate.chunk_id


@dataclass
class Trace:
    """What a reranker did, for the run log: enough to explain and reproduce an order."""

    reranker: str
    model: str | None = None
    prompt_sha: str | None = None
    seconds: float = 0.0
    parse_ok: bool | None = None
    """Listwise: whether every reply parsed into a full permutation without repair."""
    fallback: str | None = None
    """Set when the reranker gave up and kept the input order, with the reason."""
    calls: list[dict] = field(default_factory=list)
    """Per model call: prompt/reply (listwise), batch sizes and times (cross-encoder)."""
    cache_hits: int = 0
    scored: int = 0
    excluded: list[str] = field(default_factory=list)
    """What the question rules out, as the reranker read it (passages about these were ranked down)."""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RerankResult:
    ranked: list[Ranked]
    trace: Trace


class Reranker(abc.ABC):
    """Orders candidates by how well they answer the query."""

    name: str = "reranker"

    @abc.abstractmethod
    def rerank(self, query: str, candidates: Sequence[Candidate], top_k: int | None = None) -> RerankResult:
        """Rank candidates (best first); keep only top_k when given. Map by chunk_id, never by text."""

    def describe(self) -> str:
        return self.name


def keep_order(candidates: Sequence[Candidate], top_k: int | None = None) -> list[Ranked]:
    """Candidates in their given order, as Ranked (no scores)."""
    items = list(candidates)[: top_k or None]
    return [Ranked(c, i, None) for i, c in enumerate(items, start=1)]
