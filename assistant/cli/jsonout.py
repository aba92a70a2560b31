"""One JSON object per `search` / `ask` run: what scripts and checks read instead of tables."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict


def _ranked(r) -> dict:
    c = r.candidate
    return {"rank": r.rank, "recall_rank": c.rank, "score": r.score, "recall_score": c.score, "source": c.source,
            "chunk_id": c.chunk_id, "document_id": c.document_id, "title": c.title, "heading": c.heading,
            "text": c.text}


def run_object(run, show: int | None = None) -> dict:
    """strategy (as auto resolved it), decision, results, trace and timings; for answered runs the answer too."""
    out = {"question": run.question, "requested": run.requested, "strategy": run.strategy,
           "decision": run.decision, "results": [_ranked(r) for r in run.ranked[:show]],
           "candidates": len(run.candidates), "timings": run.timings, "run_id": run.id, "error": run.error,
           "trace": asdict(run.rerank_trace) if run.rerank_trace is not None else None,
           "context_filter": run.context_filter.to_dict() if getattr(run, "context_filter", None) else None}
    answer = run.answer
    if answer is not None:
        by_index = {item.index: item for item in answer.context}
        out["answer"] = answer.text
        support = getattr(answer, "support", None)
        unsupported = set(support.unsupported_numbers) if support is not None else set()
        out["citations"] = [{"n": n, "chunk_id": by_index[n].chunk_id, "source": by_index[n].candidate.source,
                             "title": by_index[n].title,
                             "supported": None if support is None else n not in unsupported}
                            for n in answer.citations.valid]
        out["support"] = support.to_dict() if support is not None else None
        out["answer_marked"] = answer.marked_text if support is not None else answer.text
        out["invalid_citations"] = list(answer.citations.invalid)
        out["abstained"] = answer.abstained
        out["context"] = [{"n": i.index, "chunk_id": i.chunk_id, "source": i.candidate.source, "tokens": i.tokens,
                           "truncated": i.truncated} for i in answer.context]
        out["model"] = answer.completion.model
    return out


def print_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def save_json(path, obj: dict) -> None:
    """obj as an indented UTF-8 JSON file for scripts (--json OUT), its folder made if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
