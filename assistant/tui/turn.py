"""What the UI knows about one question as pipeline events arrive, so a half-finished run still shows its sources."""
from __future__ import annotations

from dataclasses import dataclass, field

from assistant.pipeline import Event
from assistant.textsafe import clean


@dataclass(frozen=True)
class SourceRow:
    """One source as the sources panel and compare columns show it."""

    number: int | None
    """The [n] the answer cites it by (None: ranked but not given to the model)."""
    chunk_id: int
    document_id: int
    source: str
    label: str
    text: str
    recall_rank: int
    recall_score: float
    rank: int | None
    """Rank after reranking."""
    rerank_score: float | None
    cited: bool

    @property
    def score(self) -> float:
        return self.rerank_score if self.rerank_score is not None else self.recall_score


@dataclass
class Turn:
    """One question and everything the pipeline has said about it so far."""

    number: int
    question: str
    requested: str
    model: str
    strategy: str | None = None
    """The strategy that ran (auto resolved), once known."""
    decision: dict | None = None
    candidates: list = field(default_factory=list)
    ranked: list = field(default_factory=list)
    context: list = field(default_factory=list)
    answer: object | None = None
    text: str = ""
    stage: str = "waiting"
    timings: dict = field(default_factory=dict)
    run_id: int | None = None
    error: str | None = None

    def apply(self, event: Event) -> None:
        """Fold one pipeline event into the turn."""
        kind, data = event.kind, event.data
        if kind == "recall":
            self.candidates = list(data)
            self.stage = "reranking" if self.requested != "none" else "packing context"
        elif kind == "policy":
            self.decision = dict(data)
            self.strategy = data.get("strategy")
        elif kind == "rerank":
            self.ranked = list(data.ranked)
            self.strategy = self.strategy or data.trace.reranker
            self.stage = "writing the answer"
        elif kind == "context":
            self.context = list(data)
        elif kind == "token":
            self.text += data
        elif kind == "answer":
            self.answer = data
            self.text = data.text
            self.model = data.completion.model or self.model
        elif kind == "done":
            self.strategy = data.strategy
            self.timings = dict(data.timings)
            self.run_id = data.id
            self.stage = "done"
        elif kind == "error":
            self.error = data
            self.stage = "failed"

    @property
    def cited_ids(self) -> set[int]:
        return set(getattr(self.answer, "cited_chunk_ids", None) or ())

    def sources(self, limit: int | None = None) -> list[SourceRow]:
        """The context given to the model (numbered as cited), else the top of the ranking when there is none."""
        ranked = {r.candidate.chunk_id: r for r in self.ranked}
        cited = self.cited_ids
        rows: list[SourceRow] = []
        if self.context:
            pairs = [(item.index, item.candidate) for item in self.context]
        else:
            pairs = [(None, r.candidate) for r in self.ranked] or [(None, c) for c in self.candidates]
        for number, cand in pairs[: limit or None]:
            r = ranked.get(cand.chunk_id)
            rows.append(SourceRow(number=number, chunk_id=cand.chunk_id, document_id=cand.document_id,
                                  source=clean(cand.source), label=clean(cand.label), text=clean(cand.text),
                                  recall_rank=cand.rank,
                                  recall_score=cand.score, rank=r.rank if r else None,
                                  rerank_score=r.score if r else None, cited=cand.chunk_id in cited))
        return rows

    def citation_numbers(self) -> tuple[list[int] | None, list[int]]:
        """(valid, invalid) source numbers of the finished answer; (None, []) while it streams."""
        if self.answer is None:
            return None, []
        check = self.answer.citations_dict() if hasattr(self.answer, "citations_dict") else {}
        return list(check.get("valid", [])), list(check.get("invalid", []))
