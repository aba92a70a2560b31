"""The consistency report as one PNG: agreement bars with 95% CIs per strategy, and a rank-stability heatmap per
strategy (how often each chunk landed at each of the top-k ranks across its runs)."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np

from assistant.runs.report import LABELS, SCOPE_LABELS, Report, StrategyReport

# Colour-blind safe (Okabe-Ito), one per strategy in a stable order.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
MAX_ROWS = 14


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    wanted = ("Noto Sans CJK", "Noto Sans SC", "Source Han Sans", "WenQuanYi", "Droid Sans Fallback", "SimHei",
              "Microsoft YaHei", "PingFang", "Heiti", "AR PL")
    for font in font_manager.fontManager.ttflist:
        if any(font.name.startswith(w) for w in wanted):
            return font.name
    return None


_UNDRAWABLE = re.compile(r"[^\u0000-\u024f\u2000-\u206f]+")
"""Beyond Latin and general punctuation: DejaVu Sans (matplotlib's own font) draws empty boxes for these."""


def _safe(text: str, has_cjk: bool, width: int = 48) -> str:
    # Keep what can be drawn and mark what was dropped.
    if not has_cjk:
        text = _UNDRAWABLE.sub("…", text)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _chunk_label(cid: int, report: Report, has_cjk: bool) -> str:
    label = report.labels.get(cid, "")
    if not has_cjk and _UNDRAWABLE.search(label):
        label = report.files.get(cid, label)  # a Chinese title is unreadable as boxes; its file name is not
    return _safe(f"#{cid} {label}", has_cjk, 36)


def rank_table(runs, k: int) -> tuple[list[int], np.ndarray]:
    """(chunk ids, share of runs with chunk i at rank j) over the top k; rows by expected rank, at most MAX_ROWS."""
    ids = list(dict.fromkeys(cid for r in runs for cid in r.ranking[:k]))
    share = np.zeros((len(ids), k))
    row = {cid: i for i, cid in enumerate(ids)}
    for r in runs:
        for rank, cid in enumerate(r.ranking[:k]):
            share[row[cid], rank] += 1
    share /= max(len(runs), 1)
    # Expected rank with "not in top k" counted as k+1, so often-absent chunks sink.
    expected = (share * np.arange(1, k + 1)).sum(axis=1) + (1 - share.sum(axis=1)) * (k + 1)
    keep = np.argsort(expected, kind="stable")[:MAX_ROWS]
    return [ids[i] for i in keep], share[keep]


def _bars(ax, report: Report, scope: str, colours: dict[str, str]) -> None:
    strategies, measures = report.strategies, report.measures
    width = 0.8 / max(len(strategies), 1)
    x = np.arange(len(measures))
    low = 0.0
    for i, sr in enumerate(strategies):
        stats = [sr.stat(scope, m) for m in measures]
        means = np.array([s.mean if s.ok else np.nan for s in stats])
        err = np.array([[s.mean - s.lo if s.ok else 0 for s in stats], [s.hi - s.mean if s.ok else 0 for s in stats]])
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, np.nan_to_num(means), width * 0.92, color=colours[sr.strategy], label=sr.label,
               yerr=np.clip(err, 0, None), capsize=3, error_kw={"elinewidth": 1, "ecolor": "#333333"})
        for px, m, s in zip(pos, means, stats):
            if not s.ok:
                ax.text(px, 0.02, "n/a", ha="center", va="bottom", fontsize=7, color="#888888", rotation=90)
            elif len(strategies) <= 4:
                ax.text(px, max(m, 0) + 0.015, f"{m:.2f}", ha="center", va="bottom", fontsize=7, color="#222222",
                        zorder=5, bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none",
                                        "alpha": 0.85})
        low = min(low, np.nanmin(means) if np.isfinite(means).any() else 0.0, *(s.lo for s in stats if s.ok))
    ax.set_xticks(x, [LABELS[m].replace(" ", "\n", 1) for m in measures], fontsize=9)
    ax.set_ylim(min(-0.05, low - 0.1) if low < 0 else 0, 1.12)
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.set_ylabel("agreement between runs (1 = identical)")
    ax.set_title(SCOPE_LABELS[scope], fontsize=11, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _heatmap(ax, sr: StrategyReport, report: Report, colour: str, has_cjk: bool):
    from matplotlib.colors import LinearSegmentedColormap

    k = report.k
    ax.set_title(f"{sr.label} ({len(sr.runs)} runs)", fontsize=10, loc="left", color=colour)
    ids, share = rank_table(sr.runs, k)
    if not ids:
        ax.text(0.5, 0.5, "no successful runs" if not sr.runs else "no chunks recalled", ha="center", va="center",
                transform=ax.transAxes, color="#888888")
        ax.set_axis_off()
        return None
    grid = np.hstack([share, share.sum(axis=1, keepdims=True)])
    cmap = LinearSegmentedColormap.from_list(sr.strategy, ["#ffffff", colour])
    image = ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if grid[i, j] > 0:
                ax.text(j, i, f"{grid[i, j]:.0%}", ha="center", va="center", fontsize=7,
                        color="white" if grid[i, j] > 0.55 else "#333333")
    ax.axvline(k - 0.5, color="#333333", linewidth=1.2)
    ax.set_xticks(range(k + 1), [str(r) for r in range(1, k + 1)] + [f"top {k}"], fontsize=8)
    ax.set_xlabel("rank", fontsize=8)
    ax.set_yticks(range(len(ids)), [_chunk_label(cid, report, has_cjk) for cid in ids], fontsize=7)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


def plot_report(report: Report, out_dir: Path, name: str | None = None) -> Path:
    """Draw the report into out_dir/<name>.png (Agg backend, no display needed) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cjk = _cjk_font()
    rc = {"font.family": ["DejaVu Sans", cjk] if cjk else ["DejaVu Sans"], "axes.titleweight": "bold"}
    colours = {sr.strategy: PALETTE[i % len(PALETTE)] for i, sr in enumerate(report.strategies)}
    scopes = report.scopes or ["within"]
    n = max(len(report.strategies), 1)
    with plt.rc_context(rc):
        fig = plt.figure(figsize=(max(13, 4.6 * n), 10.5), layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.1])
        bar_axes = top.subplots(1, len(scopes), squeeze=False)[0]
        for ax, scope in zip(bar_axes, scopes):
            _bars(ax, report, scope, colours)
        handles, names = bar_axes[0].get_legend_handles_labels()
        top.legend(handles, names, loc="outside lower center", ncol=n, fontsize=9, frameon=False,
                   title="strategy", title_fontsize=9)
        heat_axes = bottom.subplots(1, n, squeeze=False)[0]
        for ax, sr in zip(heat_axes, report.strategies):
            _heatmap(ax, sr, report, colours[sr.strategy], cjk is not None)
        questions = report.questions
        head = _safe(questions[0], cjk is not None, 90) if questions else report.selection
        extra = len(questions) - 1
        more = f"  (+{extra} paraphrase{'s' if extra > 1 else ''})" if extra else ""
        fig.suptitle(f"Consistency across runs — {head}{more}", fontsize=13, fontweight="bold")
        top.suptitle(f"{report.selection} · top k = {report.k} · RBO p = {report.p} · Kendall τ over all "
                     "candidates both runs ranked\nbars: mean over pairs of runs · whiskers: 95% bootstrap CI "
                     "(runs resampled within a question, questions across paraphrases)", fontsize=8,
                     color="#555555", x=0.0, ha="left", linespacing=1.4)
        bottom.suptitle(f"Rank stability: share of runs in which a chunk sat at each of the top {report.k} ranks",
                        fontsize=11, x=0.0, ha="left")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name or f"consistency-{datetime.now():%Y%m%d-%H%M%S}")
        path = out_dir / f"{stem}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return path


def reports_dir(settings) -> Path:
    """settings.data_dir/reports, where plots are written."""
    return Path(settings.data_dir) / "reports"

