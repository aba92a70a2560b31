"""The eval-answers history (one JSON line per run of the command) and its plot: one panel per figure, one bar
per strategy, from the newest record."""
from __future__ import annotations

from pathlib import Path

from assistant.eval.answers import LABELS, METRICS, TARGETS
from assistant.eval.plot import load_results


def history_path(settings) -> Path:
    return settings.data_dir / "eval" / "answers.jsonl"


def load_history(path: Path) -> list[dict]:
    return [r for r in load_results(path) if r.get("kind") == "answers"]


def plot_answers(records: list[dict], out: Path) -> Path | None:
    """The newest record drawn (target lines dashed); None when there is nothing to draw."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, nothing opens a window

    if not records:
        return None
    rec = records[-1]
    names = [n for n, f in rec["strategies"].items() if f]
    if not names:
        return None
    fig = Figure(figsize=(2.3 * len(METRICS), 3.2), layout="constrained")
    axes = fig.subplots(1, len(METRICS), squeeze=False)[0]
    for ax, metric in zip(axes, METRICS):
        ys = [rec["strategies"][n][metric] for n in names]
        bars = ax.bar(range(len(names)), [y or 0 for y in ys], 0.7, color=[f"C{i}" for i in range(len(names))])
        ax.bar_label(bars, labels=["n/a" if y is None else f"{y:.2f}" for y in ys], fontsize=7, padding=2)
        ax.set_xticks(range(len(names)), names, fontsize=7)
        ax.set_title(LABELS[metric], fontsize=9)
        if metric in TARGETS:
            ax.axhline(TARGETS[metric][1], ls="--", lw=0.8, color="grey")
            ax.set_ylim(0, 1.1)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{Path(rec['gold']).name}: {rec['questions']} questions × {rec['runs']} runs, "
                 f"T={rec['temperature']:g}, {rec['model']}", fontsize=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
