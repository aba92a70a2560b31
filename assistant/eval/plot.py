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
    return _latest(records, metric, lambda rec, s: s["metrics"][metric])


def latest_query_counts(records: list[dict], metric: str = "nDCG@10") -> dict[tuple[str, str], dict[str, int]]:
    """(dataset, embedder) -> {strategy: queries of the run that latest_scores took it from}."""
    return _latest(records, metric, lambda rec, s: int(rec.get("queries") or 0))


def _latest(records: list[dict], metric: str, value) -> dict[tuple[str, str], dict]:
    # One walk for every per-strategy figure, so scores and their query counts always come from the same run.
    table: dict[tuple[str, str], dict] = {}
    for rec in records:
        key = (rec.get("dataset", "?"), rec.get("embedder_name", rec.get("embedder", "?")))
        for s in rec.get("strategies", []):
            if s.get("skipped") or metric not in s.get("metrics", {}):
                continue
            table.setdefault(key, {})[s["strategy"]] = value(rec, s)
    return table


def plot_ndcg(records: list[dict], out: Path, metric: str = "nDCG@10") -> Path | None:
    """One panel per dataset and embedder, one bar per strategy, each bar labelled with its value and the number
    of queries it was measured on (runs with --limit measure fewer). None when nothing to draw."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, nothing opens a window

    table = latest_scores(records, metric)
    if not table:
        return None
    counts = latest_query_counts(records, metric)
    groups = sorted(table)
    strategies = list(dict.fromkeys(s for g in groups for s in table[g]))
    colours = {s: f"C{i % 10}" for i, s in enumerate(strategies)}
    cols = min(3, len(groups))
    rows = (len(groups) + cols - 1) // cols
    most = max(len(table[g]) for g in groups)
    fig = Figure(figsize=(cols * max(3.2, 0.75 * most + 1.0), rows * 3.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
    for ax, group in zip(axes.flat, groups):
        names = [s for s in strategies if s in table[group]]
        ys = [table[group][s] for s in names]
        bars = ax.bar(range(len(names)), ys, 0.7, color=[colours[s] for s in names])
        ax.bar_label(bars, labels=[f"{y:.3f}" for y in ys], fontsize=7, padding=2)
        ax.set_xticks(range(len(names)), [f"{s.replace('+', chr(10) + '+')}\n{counts[group][s]} q" for s in names],
                     fontsize=7)
        ax.set_title(f"{group[0]} ({group[1]})", fontsize=9)
        ax.set_ylim(0, 1.1)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(metric)
    fig.suptitle(f"{metric} per strategy (latest run of each)", fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out
