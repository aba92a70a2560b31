"""Which reranked chunks may reach the answer prompt: those the cross-encoder scores as answering the question.

A chunk the model is given is a chunk it may cite, so a weak one is not harmless padding: a small model cites
Redis pages for "without Redis" and a lock-service table for "the capital of Australia". Chunks scored below
`context_min_score` are left out even when fewer than context_k remain (none left: the answer says the sources
do not cover the question, without asking the model); when some chunk scores at least `context_confident_score`,
at most `context_confident_k` go in, since fewer sources leave fewer ways to drift.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from assistant.answer.scoring import PairScorer
from assistant.types import Candidate


@dataclass
class ContextFilter:
    """What the filter did, for the run's trace."""

    scorer: str | None
    min_score: float
    confident_score: float
    confident_k: int = 0
    considered: list[dict] = field(default_factory=list)
    """chunk_id, raw score and whether it was kept, for the chunks looked at, in rank order."""
    confident: bool = False
    skipped: str | None = None
    """Why nothing was filtered (no cross-encoder ran, or the filter is off)."""

    @property
    def kept(self) -> int:
        return sum(1 for c in self.considered if c["kept"])

    def to_dict(self) -> dict:
        return {"scorer": self.scorer, "min_score": self.min_score, "confident_score": self.confident_score,
                "confident_k": self.confident_k,
                "considered": self.considered, "kept": self.kept, "confident": self.confident,
                "skipped": self.skipped}


def judge_for(strategy: str, requested: str, services) -> PairScorer | None:
    """The cross-encoder that judges the context: when it reranked, or when auto kept recall order (for a lookup)
    with one at hand, since judging a handful of chunks costs far less than reordering fifty. An explicit `none`
    asks for recall alone and gets it."""
    from assistant.answer.scoring import cross_encoder_scorer

    if strategy == "cross-encoder" or (requested == "auto" and strategy == "none"):
        return cross_encoder_scorer(services)
    return None


def filter_context(question: str, candidates: Sequence[Candidate], scorer: PairScorer | None, settings,
                   context_k: int) -> tuple[list[Candidate], ContextFilter]:
    """The candidates (best first) the answer may see, and what was decided."""
    from assistant.language import language_of

    min_score = settings.context_min_score_zh if language_of(question) == "zh" else settings.context_min_score
    report = ContextFilter(scorer.describe() if scorer else None, min_score,
                           settings.context_confident_score, settings.context_confident_k)
    if not settings.context_filter:
        report.skipped = "context_filter is off"
        return list(candidates), report
    if scorer is None or scorer.kind != "cross-encoder":
        # Without a cross-encoder's judgement there is nothing measured to filter by; the ranking stands.
        report.skipped = "no cross-encoder judged the context"
        return list(candidates), report
    from assistant.rerank.cross_encoder import passage_text

    # Only the head can reach the prompt; a few spares cover chunks pack_context drops as duplicates.
    head = list(candidates[: context_k + 3])
    scores = scorer.score([(question, passage_text(c)) for c in head])
    report.confident = any(s >= settings.context_confident_score for s in scores)
    room = min(context_k, settings.context_confident_k) if report.confident else context_k
    kept = []
    for cand, score in zip(head, scores):
        ok = score >= min_score and len(kept) < room
        report.considered.append({"chunk_id": cand.chunk_id, "score": round(score, 4), "kept": ok})
        if ok:
            kept.append(cand)
    return kept, report
