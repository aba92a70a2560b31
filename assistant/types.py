"""Plain data shared by the stages: a recalled chunk (Candidate). Stages map results by chunk_id, never by text."""
from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Candidate:
    chunk_id: int
    document_id: int
    source: str
    title: str
    heading: str
    text: str
    content_sha256: str
    tokens: int
    score: float
    """Recall score: cosine similarity (vector), BM25 (fts) or RRF score (hybrid)."""
    rank: int
    """1-based recall rank."""
    extra: dict = field(default_factory=dict, compare=False)
    """Per-leg details (vector_rank, fts_rank, ...)."""

    def with_(self, **changes) -> "Candidate":
        return replace(self, **changes)

    @property
    def label(self) -> str:
        return f"{self.title} — {self.heading}" if self.heading and self.heading != self.title else self.title
