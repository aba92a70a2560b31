"""Answer quality on a gold question set: ask every question through the pipeline (logged as one experiment),
then score what the run log says: forbidden citations, expected sources, abstentions, citation support,
citation-set agreement across repeats, answer time. Scoring reads only logged rows, so a report can be redone
from the log without asking again."""
from __future__ import annotations

import statistics
from itertools import combinations
from typing import Callable, Sequence

from assistant.answer.gold import GoldQuestion, matches

METRICS = ("forbidden_rate", "expected_hit", "abstain_acc", "support_rate", "agreement", "answer_s_p50")
LABELS = {"forbidden_rate": "forbidden", "expected_hit": "hit", "abstain_acc": "abstain",
          "support_rate": "support", "agreement": "agree", "answer_s_p50": "s p50"}
TARGETS = {"forbidden_rate": ("<=", 0.05), "expected_hit": (">=", 0.90), "abstain_acc": (">=", 0.80),
           "support_rate": (">=", 0.90), "agreement": (">=", 0.70)}
"""The targets of issue 18, shown next to the figures."""


def spread(items: Sequence, n: int | None) -> list:
    """The first n items. The demo gold file interleaves kinds and languages, so any head of it mixes them."""
    return list(items[:n] if n else items)


def ask_all(gold: Sequence[GoldQuestion], services, *, strategies: Sequence[str], runs: int, tag: str,
            temperature: float | None = None, model: str | None = None,
            on_progress: Callable[[int, int, str], None] | None = None) -> list[dict]:
    """Ask every question runs times per strategy, logging each run under experiment tag; one dict per run."""
    from assistant.pipeline import AskOptions, ask

    base_seed = services.settings.seed or 0
    total, done, out = len(gold) * runs * len(strategies), 0, []
    for rep in range(runs):
        for q in gold:
            # Strategies take turns per question, so a machine that slows down part way does not favour one.
            for strategy in strategies:
                options = AskOptions(strategy=strategy, temperature=temperature, model=model, experiment=tag,
                                     seed=base_seed + rep)
                try:
                    run = ask(q.question, options, services)
                    out.append({"id": q.id, "strategy": strategy, "run_id": run.id, "error": None})
                except Exception as exc:  # logged by the pipeline; one failed question must not end the eval
                    out.append({"id": q.id, "strategy": strategy, "run_id": None, "error": str(exc)})
                done += 1
                if on_progress:
                    on_progress(done, total, q.id)
    return out


def _requested(row: dict) -> str:
    return (row.get("options") or {}).get("strategy") or row["strategy"]


def score(gold: Sequence[GoldQuestion], rows: Sequence[dict], candidates: dict[int, list[dict]]) -> dict:
    """Per requested strategy, the figures of METRICS (and counts) from logged runs and their candidates."""
    by_question = {q.question: q for q in gold}
    per: dict[str, list[tuple[GoldQuestion, dict]]] = {}
    for row in rows:
        q = by_question.get(row["question"])
        if q is not None:
            per.setdefault(_requested(row), []).append((q, row))
    return {name: _score_strategy(items, candidates) for name, items in per.items()}


def _cited_sources(row: dict, candidates: dict[int, list[dict]]) -> set[str]:
    return {c["source"] for c in candidates.get(row["id"], []) if c["cited"] and c["source"]}


def _score_strategy(items: list[tuple[GoldQuestion, dict]], candidates: dict[int, list[dict]]) -> dict:
    ok = [(q, r) for q, r in items if r["status"] == "ok" and r.get("citations") is not None]
    forbidden = [(q, r) for q, r in ok if q.forbidden]
    answerable = [(q, r) for q, r in ok if not q.abstain]
    unanswerable = [(q, r) for q, r in ok if q.abstain]

    def cites(files, q, r) -> bool:
        return any(matches(s, files) for s in _cited_sources(r, candidates))

    claims = [c for _, r in ok for c in ((r["citations"].get("support") or {}).get("claims") or [])]
    by_q: dict[str, list[frozenset]] = {}
    for q, r in ok:
        by_q.setdefault(q.id, []).append(frozenset(r["citations"].get("chunk_ids") or ()))
    pairs = [_jaccard(a, b) for sets in by_q.values() for a, b in combinations(sets, 2)]
    per_q = [statistics.fmean(_jaccard(a, b) for a, b in combinations(sets, 2))
             for sets in by_q.values() if len(sets) > 1]
    seconds = [r["timings"]["total_ms"] / 1000 for _, r in ok if (r.get("timings") or {}).get("total_ms")]
    dropped = [(r.get("trace") or {}).get("context_filter") or {} for _, r in ok]

    def rate(hits: int, n: int) -> float | None:
        return round(hits / n, 4) if n else None

    return {
        "forbidden_rate": rate(sum(cites(q.forbidden, q, r) for q, r in forbidden), len(forbidden)),
        "expected_hit": rate(sum(cites(q.expected, q, r) for q, r in answerable), len(answerable)),
        "abstain_acc": rate(sum(bool(r["citations"].get("abstained")) for _, r in unanswerable), len(unanswerable)),
        "support_rate": rate(sum(bool(c.get("supported")) for c in claims), len(claims)),
        "agreement": round(statistics.fmean(per_q), 4) if per_q else None,
        "answer_s_p50": round(statistics.median(seconds), 2) if seconds else None,
        "counts": {"runs": len(items), "ok": len(ok), "errors": len(items) - len(ok),
                   "with_forbidden": len(forbidden), "answerable": len(answerable),
                   "unanswerable": len(unanswerable), "claims": len(claims), "agreement_pairs": len(pairs),
                   "false_abstain": sum(bool(r["citations"].get("abstained")) for _, r in answerable),
                   "no_citations": sum(not (r["citations"].get("valid") or []) for _, r in answerable),
                   "empty_context": sum(1 for d in dropped if d.get("considered") and not d.get("kept"))},
    }


def _jaccard(a: frozenset, b: frozenset) -> float:
    from assistant.runs.metrics import jaccard

    return jaccard(a, b)


def meets(metric: str, value: float | None) -> bool | None:
    """Whether value meets the issue's target (None: no target, or nothing measured)."""
    if value is None or metric not in TARGETS:
        return None
    op, target = TARGETS[metric]
    return value <= target if op == "<=" else value >= target
