"""The results history (one JSON line per eval run) and the nDCG@10 plot drawn from it."""
from __future__ import annotations

import json
from pathlib import Path


def results_path(settings) -> Path:
    return settings.data_dir / "eval" / "results.jsonl"


def append_result(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def load_results(path: Path) -> list[dict]:
    """Every record of the history, oldest first; unreadable lines are skipped (a crash mid-write)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def latest_scores(records: list[dict], metric: str = "nDCG@10") -> dict[tuple[str, str], dict[str, float]]:
    """(dataset, embedder) -> {strategy: metric}, the newest run of each strategy winning."""
    table: dict[tuple[str, str], dict[str, float]] = {}
    for rec in records:
        key = (rec.get("dataset", "?"), rec.get("embedder_name", rec.get("embedder", "?")))
        for s in rec.get("strategies", []):
            if s.get("skipped") or metric not in s.get("metrics", {}):
                continue
            table.setdefault(key, {})[s["strategy"]] = s["metrics"][metric]
    return table


def plot_ndcg(records: list[dict], out: Path, metric: str = "nDCG@10") -> Path | None:
    """Grouped bars: one group per dataset (and embedder), one bar per strategy. None when nothing to draw."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, nothing opens a window

    table = latest_scores(records, metric)
    if not table:
        return None
    groups = sorted(table)
    strategies = list(dict.fromkeys(s for g in groups for s in table[g]))
    width = 0.8 / len(strategies)
    fig = Figure(figsize=(max(6.0, 1.6 * len(groups) * max(1, len(strategies)) / 2), 4.5), layout="constrained")
    ax = fig.add_subplot()
    for i, strategy in enumerate(strategies):
        xs = [g + (i - (len(strategies) - 1) / 2) * width for g in range(len(groups))]
        ys = [table[g].get(strategy, 0.0) for g in groups]
        bars = ax.bar(xs, ys, width, label=strategy)
        ax.bar_label(bars, labels=[f"{table[g][strategy]:.3f}" if strategy in table[g] else "" for g in groups],
                     fontsize=7, padding=2)
    ax.set_xticks(range(len(groups)), [f"{d}\n({e})" for d, e in groups])
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1.15)  # headroom for the value labels and the legend
    ax.set_title(f"{metric} per strategy (latest run of each)")
    ax.legend(fontsize=8, ncols=min(len(strategies), 4), loc="upper right")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out
