"""Consistency view: the current question N times per strategy (a cancellable worker), then the agreement table
and an in-terminal bar chart, computed from the run log by assistant.runs."""
from __future__ import annotations

import inspect

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, ProgressBar, Static
from textual.worker import get_current_worker

from assistant.tui.errors import ReportsWorkerErrors, Stop
from assistant.tui.format import bar

COLUMNS = (("jaccard", "top-5"), ("rbo", "RBO"), ("kendall", "τ"), ("citations", "cites"),
           ("answer_exact", "exact"), ("answer_semantic", "sem."))
CHART = (("jaccard", "top-5 overlap"), ("citations", "citations"), ("answer_exact", "same answer"))


def _mean(stat) -> float | None:
    return stat.mean if stat.ok and stat.mean == stat.mean else None


def table_rows(report) -> list[tuple]:
    """One row per strategy: name (auto with what it chose), runs ok/failed, the mean of each measure."""
    rows = []
    for sr in report.strategies:
        name = sr.strategy
        if sr.resolved:
            name += " (" + ", ".join(f"{k}×{v}" for k, v in sr.resolved.items()) + ")"
        values = [_mean(sr.stat("within", m)) for m, _ in COLUMNS]
        rows.append((name, f"{len(sr.runs)}/{len(sr.runs) + sr.failed}",
                     *["–" if v is None else f"{v:.2f}" for v in values]))
    return rows


def chart(report, width: int = 30) -> Content:
    """Bars of the main measures per strategy, 0..1."""
    lines: list[Content] = []
    label_w = max((len(sr.strategy) for sr in report.strategies), default=4)
    for sr in report.strategies:
        for i, (measure, label) in enumerate(CHART):
            value = _mean(sr.stat("within", measure))
            lines.append(Content.assemble(
                ((sr.strategy if i == 0 else "").ljust(label_w), "bold"), f" {label:<13} ",
                (bar(value, width).ljust(width), "$accent"), f" {'–' if value is None else f'{value:.2f}'}"))
    return Content("\n").join(lines)


class ConsistencyScreen(ReportsWorkerErrors, Screen):
    BINDINGS = [("escape", "close", "Stop / back")]

    class Progress(Message):
        def __init__(self, done: int, total: int, label: str) -> None:
            super().__init__()
            self.done, self.total, self.label = done, total, label

    class Finished(Message):
        def __init__(self, report, result, error: BaseException | None, stopped: bool) -> None:
            super().__init__()
            self.report, self.result, self.error, self.stopped = report, result, error, stopped

    def __init__(self, question: str, strategies: list[str], runs: int) -> None:
        super().__init__(id="consistency")
        self.question, self.strategies, self.runs = question, strategies, runs
        self.done = False

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Content.assemble(("Consistency ", "bold"), (self.question, "italic"), "\n",
                                          (f"{self.runs} runs × {', '.join(self.strategies)}", "$text-muted")),
                         id="consistency-question")
            yield Label("starting…", id="consistency-label")
            yield ProgressBar(total=self.runs * len(self.strategies), show_eta=True, id="consistency-bar")
            yield DataTable(id="consistency-table", zebra_stripes=True, cursor_type="row")
            yield Static("", id="consistency-chart")
            yield Static("", id="consistency-notes")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("strategy", "ok", *[label for _, label in COLUMNS])
        self._run(self.app.model)

    @work(thread=True, exit_on_error=False, group="consistency")
    def _run(self, model: str) -> None:
        from assistant.runs.experiment import run_experiment
        from assistant.runs.report import report_from_db

        worker = get_current_worker()
        services = self.app.services

        def progress(done: int, total: int, label: str) -> None:
            if worker.is_cancelled:
                raise Stop()
            self.post_message(self.Progress(done, total, label))

        kwargs = {"model": model} if "model" in inspect.signature(run_experiment).parameters else {}
        result, error, stopped = None, None, False
        try:
            result = run_experiment(self.question, services, strategies=self.strategies, runs=self.runs,
                                    on_progress=progress, **kwargs)
            tag = result.tag
        except Stop:
            stopped, tag = True, None
        except Exception as exc:
            error, tag = exc, None
        report = None
        try:
            if tag is not None:
                report = report_from_db(services.db, services.embedder, experiment=tag, strategies=self.strategies,
                                        n_boot=200)
        except Exception as exc:
            error = error or exc
        self.post_message(self.Finished(report, result, error, stopped))

    def on_consistency_screen_progress(self, message: Progress) -> None:
        self.query_one("#consistency-label", Label).update(Content(f"{message.done}/{message.total}  {message.label}"))
        self.query_one(ProgressBar).update(total=message.total, progress=message.done)

    def on_consistency_screen_finished(self, message: Finished) -> None:
        self.done = True
        label = self.query_one("#consistency-label", Label)
        if message.stopped:
            label.update("stopped: the runs that finished are in the run log (history, `assistant report`)")
        if message.error is not None:
            self.app.report(message.error, "running the consistency experiment")
            label.update("failed: see the notification")
        if message.report is None:
            return
        report = message.report
        label.update(Content(f"done: experiment {message.result.tag} (re-read it any time: "
                             f"assistant report --experiment {message.result.tag})"))
        table = self.query_one(DataTable)
        for row in table_rows(report):
            table.add_row(*[Text(cell) for cell in row])
        self.query_one("#consistency-chart", Static).update(chart(report))
        notes = [f"{s}: skipped, {why}" for s, why in message.result.skipped.items()]
        notes += [f"error: {e}" for e in report.errors]
        if not any(sr.runs for sr in report.strategies):
            notes.append("no run finished: nothing to measure")
        if model_note := self._model_note():
            notes.append(model_note)
        self.query_one("#consistency-notes", Static).update(Content.styled("\n".join(notes), "$warning"))

    def _model_note(self) -> str:
        from assistant.runs.experiment import run_experiment
        if "model" not in inspect.signature(run_experiment).parameters and self.app.model != \
                self.app.settings.llm_model:
            return f"answers used the configured model {self.app.settings.llm_model}, not {self.app.model}"
        return ""

    def action_close(self) -> None:
        if not self.done:
            self.workers.cancel_group(self, "consistency")
            self.query_one("#consistency-label", Label).update("stopping after the current run…")
            self.done = True
            return
        self.dismiss()
