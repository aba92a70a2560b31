"""Consistency reports computed from the run log only: nothing is re-run, so a report can be recomputed any time.

Runs are grouped by the strategy that was asked for (an `auto` run stays under `auto`, with what it resolved to
counted), and every measure is averaged over pairs of runs of the same question ("within") and of different
phrasings of it ("across": the question and its paraphrases, or several questions selected together).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from assistant.db import runlog, runreports
from assistant.runs import metrics
from assistant.runs.metrics import SCOPES, Stat

MEASURES = ("jaccard", "rbo", "kendall", "citations", "answer_exact", "answer_semantic")
LABELS = {
    "jaccard": "top-k Jaccard",
    "rbo": "RBO",
    "kendall": "Kendall τ",
    "citations": "citation sets",
    "answer_exact": "answer exact",
    "answer_semantic": "answer semantic",
}
SCOPE_LABELS = {"within": "same question, repeated", "across": "across paraphrases"}


@dataclass(frozen=True)
class LoggedRun:
    """What a report needs of one logged run."""

    id: int
    created_at: datetime
    question: str
    question_sha: str
    experiment: str | None
    requested: str
    strategy: str
    status: str
    error: str | None
    ranking: tuple[int, ...]
    """Chunk ids in reranked order (recall order where the reranker left a candidate unranked)."""
    cited: frozenset[int]
    answer: str | None
    sources: dict = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class StrategyReport:
    strategy: str
    runs: list[LoggedRun]
    """The measured (status ok) runs, in question order, then time."""
    failed: int
    resolved: dict[str, int]
    """For `auto`: how often each strategy was chosen."""
    scopes: dict[str, dict[str, Stat]]

    def stat(self, scope: str, measure: str) -> Stat:
        return self.scopes.get(scope, {}).get(measure, metrics.EMPTY)

    @property
    def label(self) -> str:
        """The strategy, with what `auto` resolved to: 'auto → none' or 'auto → none ×3, llm ×7'."""
        if not self.resolved:
            return self.strategy
        if len(self.resolved) == 1:
            return f"{self.strategy} → {next(iter(self.resolved))}"
        return f"{self.strategy} → " + ", ".join(f"{name} ×{n}" for name, n in self.resolved.items())

    @property
    def cited_share(self) -> float | None:
        """Share of answered runs that cite at least one source (None without answers): two runs that both cite
        nothing agree perfectly on citations, so agreement alone can flatter."""
        answered = [r for r in self.runs if r.answer is not None]
        return sum(bool(r.cited) for r in answered) / len(answered) if answered else None


@dataclass
class Report:
    selection: str
    k: int
    p: float
    questions: list[str]
    strategies: list[StrategyReport]
    labels: dict[int, str] = field(default_factory=dict)
    """chunk_id -> a short human label (title — heading, or the source file)."""
    files: dict[int, str] = field(default_factory=dict)
    """chunk_id -> the source's file name (a fallback label where the title cannot be drawn)."""
    errors: list[str] = field(default_factory=list)
    """A few distinct error messages of failed runs."""

    @property
    def scopes(self) -> list[str]:
        return [s for s in SCOPES if any(r.stat(s, m).ok for r in self.strategies for m in MEASURES)]

    @property
    def measures(self) -> list[str]:
        """The measures some strategy has figures for (no answer measures for retrieval-only runs)."""
        found = [m for m in MEASURES if any(r.stat(s, m).ok for r in self.strategies for s in SCOPES)]
        return found or list(MEASURES[:3])

    def to_dict(self) -> dict:
        """JSON-able figures, for saving next to the plot or comparing two reports."""
        return {"selection": self.selection, "k": self.k, "p": self.p, "questions": self.questions,
                "strategies": {r.strategy: {"runs": len(r.runs), "failed": r.failed, "resolved": r.resolved,
                                            **{s: {m: r.stat(s, m).to_dict() for m in MEASURES} for s in SCOPES}}
                               for r in self.strategies}}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'30m', '6h', '2d', '1w' before now, or an ISO date/time (local time when no zone is given)."""
    now = now or datetime.now(timezone.utc)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text.lower())
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return now - timedelta(**{unit: float(m.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r}: use e.g. 30m, 6h, 2d, 1w or an ISO date like 2025-01-31") from None
    return when if when.tzinfo else when.astimezone()


def load_runs(conn, *, experiment: str | None = None, questions: list[str] | None = None, since=None,
              strategies: list[str] | None = None, ids: list[int] | None = None) -> list[LoggedRun]:
    """Logged runs matching every filter given, oldest first, with their candidate rankings and citations."""
    rows: dict[int, dict] = {}
    for question in questions or [None]:
        for row in runlog.list_runs(conn, limit=0, question=question, experiment=experiment, since=since, ids=ids):
            rows[row["id"]] = row
    # By the strategy asked for: `--strategies none` should not pull in `auto` runs that happened to pick none.
    selected = [r for r in rows.values() if not strategies or _requested(r) in strategies]
    selected.sort(key=lambda r: (r["created_at"], r["id"]))
    candidates = runlog.candidates_for(conn, [r["id"] for r in selected]) if selected else {}
    out = []
    for r in selected:
        cands = candidates.get(r["id"], [])
        out.append(LoggedRun(
            id=r["id"], created_at=r["created_at"], question=r["question"], question_sha=r["question_norm_sha"],
            experiment=r["experiment"], requested=_requested(r), strategy=r["strategy"], status=r["status"],
            error=r["error"], ranking=tuple(c["chunk_id"] for c in cands),
            cited=frozenset(c["chunk_id"] for c in cands if c["cited"]), answer=r["answer"],
            sources={c["chunk_id"]: c["source"] for c in cands}))
    return out


def _requested(row: dict) -> str:
    return (row.get("options") or {}).get("strategy") or row["strategy"]


def build_report(runs: list[LoggedRun], embedder=None, *, k: int = 5, p: float = 0.9, selection: str = "",
                 strategies: list[str] | None = None, n_boot: int = 1000, seed: int = 0,
                 labels: dict[int, str] | None = None) -> Report:
    """Per-strategy agreement of the runs given; answers are compared in the embedder's space when one is given."""
    question_order: dict[str, str] = {}
    for r in runs:
        question_order.setdefault(r.question_sha, r.question)
    q_index = {sha: i for i, sha in enumerate(question_order)}
    order = list(strategies or [])
    order += [s for s in dict.fromkeys(r.requested for r in runs) if s not in order]
    reports = []
    for name in order:
        mine = [r for r in runs if r.requested == name]
        ok = sorted((r for r in mine if r.ok), key=lambda r: (q_index[r.question_sha], r.created_at, r.id))
        resolved = dict(Counter(r.strategy for r in ok)) if name == "auto" else {}
        reports.append(StrategyReport(name, ok, len(mine) - len(ok), resolved,
                                      _measure(ok, embedder, k, p, n_boot, seed)))
    files = {cid: Path(src).name for r in runs for cid, src in r.sources.items() if src}
    errors = list(dict.fromkeys(r.error for r in runs if r.error))[:5]
    return Report(selection, k, p, list(question_order.values()), reports, {**files, **(labels or {})}, files,
                  errors)


def _measure(runs: list[LoggedRun], embedder, k: int, p: float, n_boot: int, seed: int) -> dict[str, dict[str, Stat]]:
    if len(runs) < 2:
        return {}
    groups = [r.question_sha for r in runs]
    rankings = [r.ranking for r in runs]
    answered = [r.answer is not None for r in runs]
    matrices = {
        "jaccard": metrics.pairwise_matrix(rankings, lambda a, b: metrics.jaccard_at_k(a, b, k)),
        "rbo": metrics.pairwise_matrix([x[:k] for x in rankings], lambda a, b: metrics.rbo(a, b, p)),
        "kendall": metrics.pairwise_matrix(rankings, metrics.kendall_tau),
        "citations": metrics.pairwise_matrix([r.cited if r.answer is not None else None for r in runs],
                                             metrics.jaccard),
        "answer_exact": metrics.pairwise_matrix([r.answer for r in runs], metrics.exact_match),
    }
    if embedder is not None and any(answered):
        texts = [r.answer or "" for r in runs]
        matrices["answer_semantic"] = metrics.cosine_matrix(embedder.embed_batch(texts), answered)
    return {scope: {name: metrics.summarise(m, groups, scope, n_boot=n_boot, seed=seed)
                    for name, m in matrices.items()} for scope in SCOPES}


def report_from_db(db, embedder=None, *, experiment: str | None = None, questions: list[str] | None = None,
                   since=None, strategies: list[str] | None = None, k: int = 5, p: float = 0.9,
                   n_boot: int = 1000) -> Report:
    """Load the selected runs from the log and build their report."""
    with db.connection() as conn:
        runs = load_runs(conn, experiment=experiment, questions=questions, since=since, strategies=strategies)
        ids = sorted({cid for r in runs if r.ok for cid in r.ranking[:k]})
        found = runreports.chunk_labels(conn, ids) if ids else {}
    labels = {cid: _label(*found[cid]) for cid in found}
    parts = [f"experiment {experiment}" if experiment else "",
             "question " + " | ".join(questions) if questions else "",
             f"since {since:%Y-%m-%d %H:%M}" if isinstance(since, datetime) else ""]
    return build_report(runs, embedder, k=k, p=p, selection=", ".join(x for x in parts if x) or "all runs",
                        strategies=strategies, n_boot=n_boot, labels=labels)


def _label(source: str, title: str, heading: str) -> str:
    name = title or Path(source).name
    return f"{name} — {heading}" if heading and heading != title else name


def fmt(stat: Stat, digits: int = 2) -> str:
    """'0.83 [0.78, 0.88]' (or '0.83' without a CI, '–' when not measured)."""
    if not stat.ok or math.isnan(stat.mean):
        return "–"
    if np.isclose(stat.lo, stat.hi):
        return f"{stat.mean:.{digits}f}"
    return f"{stat.mean:.{digits}f} [{stat.lo:.{digits}f}, {stat.hi:.{digits}f}]"
