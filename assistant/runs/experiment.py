"""Consistency experiments: ask a question and its paraphrases N times per strategy, every run logged under a tag.

The experiment only produces runs; the figures come from the run log afterwards (assistant.runs.report), so an
interrupted experiment still leaves measurable runs and a report can be recomputed later.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from assistant.pipeline import STRATEGIES, AskOptions, ask
from assistant.rerank.base import RerankerUnavailable

Progress = Callable[[int, int, str], None]


@dataclass
class ExperimentResult:
    tag: str
    questions: list[str]
    strategies: list[str]
    run_ids: list[int] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    """(strategy, question, error) of runs that failed; they are logged as failed runs too."""
    skipped: dict[str, str] = field(default_factory=dict)
    """strategy -> why it cannot run here; its first run is logged as failed, the rest are not attempted."""


def new_tag() -> str:
    """A fresh experiment tag: consistency-YYYYmmdd-HHMMSS-xxxx."""
    return f"consistency-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def read_paraphrases(path: str | Path) -> list[str]:
    """One paraphrase per line; blank lines and lines starting with # are ignored."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")]


def run_experiment(question: str, services, *, strategies: list[str], runs: int = 10,
                   paraphrases: list[str] | None = None, temperature: float | None = None, tag: str | None = None,
                   answer: bool = True, vary_seed: bool = True, model: str | None = None,
                   on_progress: Progress | None = None) -> ExperimentResult:
    """Run every (question or paraphrase, strategy) pair `runs` times through pipeline.ask, logged under one tag.

    Repetitions are interleaved (rep 1 of everything, then rep 2, ...) so that drift over time (warm caches,
    a loaded machine) does not favour one strategy. With vary_seed, repetition i uses seed settings.seed + i for
    every question and strategy: a fixed seed would make sampled answers identical and the agreement meaningless,
    and sharing it across strategies keeps the comparison paired. A failed run is recorded and the experiment
    goes on; a strategy that cannot run here (RerankerUnavailable) is skipped for the rest of the experiment.
    """
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategy {', '.join(unknown)}: use {', '.join(STRATEGIES)}")
    if runs < 1:
        raise ValueError("runs must be at least 1")
    questions = list(dict.fromkeys([question, *(paraphrases or [])]))
    result = ExperimentResult(tag or new_tag(), questions, list(strategies))
    base_seed = services.settings.seed or 0
    total, done = runs * len(questions) * len(strategies), 0
    progress = on_progress or (lambda done, total, current: None)
    progress(0, total, "")
    for rep in range(runs):
        for q in questions:
            for strategy in strategies:
                label = f"{strategy} · run {rep + 1}/{runs} · {q}"
                if strategy in result.skipped:
                    done += 1
                    progress(done, total, label)
                    continue
                options = AskOptions(strategy=strategy, temperature=temperature, experiment=result.tag,
                                     answer=answer, seed=base_seed + rep if vary_seed else None, model=model)
                try:
                    run = ask(q, options, services)
                    if run.id is not None:
                        result.run_ids.append(run.id)
                except RerankerUnavailable as exc:
                    result.skipped[strategy] = str(exc)
                except Exception as exc:  # noqa: BLE001 - the pipeline logged it; one bad run must not end the rest
                    result.failures.append((strategy, q, f"{type(exc).__name__}: {exc}"))
                done += 1
                progress(done, total, label)
    return result
