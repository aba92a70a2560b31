"""Compare mode: one question through two or three strategies, side by side; sources only one strategy used
are marked so the difference reranking made is visible at a glance."""
from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from assistant.pipeline import AskOptions, ask
from assistant.tui.errors import ReportsWorkerErrors, Stop
from assistant.tui.format import answer_content, duration, movement
from assistant.tui.turn import Turn

TOP = 5


class CompareColumn(VerticalScroll):
    """One strategy's top sources and answer."""

    def __init__(self, turn: Turn) -> None:
        super().__init__(classes="compare-column")
        self.turn = turn
        self.unique: set[int] = set()

    def compose(self) -> ComposeResult:
        yield Static(classes="col-title")
        yield Static(classes="col-sources")
        yield Static(classes="col-answer")

    def on_mount(self) -> None:
        self.redraw()

    def top_ids(self) -> set[int]:
        return {row.chunk_id for row in self.turn.sources(TOP)}

    def redraw(self) -> None:
        t = self.turn
        name = t.requested if not t.strategy or t.strategy == t.requested else f"{t.requested}→{t.strategy}"
        extra = ""
        if t.stage == "done" and getattr(self.app, "show_timings", True):
            extra = f" · {duration(t.timings.get('total_ms'))}"
        elif t.stage not in ("done", "failed"):
            extra = f" · {t.stage}…"
        self.query_one(".col-title", Static).update(Content.assemble((name, "bold $secondary"),
                                                                     (extra, "italic $text-muted")))
        lines = []
        for row in t.sources(TOP):
            number = f"[{row.number}]" if row.number is not None else "–"
            lines.append(Content.assemble(
                (number, "bold $accent"), " ",
                ("◆" if row.chunk_id in self.unique else " ", "bold $warning"),
                ("★" if row.cited else " ", "bold $warning"), " ",
                (Path(row.source).name, "bold $warning" if row.chunk_id in self.unique else ""), " ",
                (movement(row.recall_rank, row.rank), "$text-muted")))
        self.query_one(".col-sources", Static).update(Content("\n").join(lines) if lines else "…")
        valid, invalid = t.citation_numbers()
        body = answer_content(t.text, t.number, valid, invalid) if t.text else Content("")
        if t.answer is not None and not valid and not getattr(t.answer, "abstained", False):
            body = Content("\n").join([body, Content.styled("⚠ no citations", "bold $warning")])
        if t.error:
            body = Content("\n").join([body, Content.styled(f"✗ {t.error}", "bold $error")])
        self.query_one(".col-answer", Static).update(body)


class CompareScreen(ReportsWorkerErrors, Screen):
    BINDINGS = [("escape", "close", "Back")]

    class ColumnDone(Message):
        def __init__(self, index: int, error: BaseException | None) -> None:
            super().__init__()
            self.index, self.error = index, error

    def __init__(self, question: str, strategies: list[str]) -> None:
        super().__init__(id="compare")
        self.question = question
        self.turns = [Turn(number=i + 1, question=question, requested=s, model="", stage="waiting")
                      for i, s in enumerate(strategies)]
        self.columns = [CompareColumn(turn) for turn in self.turns]
        self.reported: set[type] = set()

    def compose(self) -> ComposeResult:
        yield Static(id="compare-question")
        with Horizontal(id="compare-columns"):
            yield from self.columns
        yield Static(Content.assemble(("◆", "bold $warning"), " only this strategy gave it to the model  ",
                                      ("★", "bold $warning"), " cited  #recall→#rerank"), id="compare-legend")
        yield Footer()

    def on_mount(self) -> None:
        for turn in self.turns:
            turn.model = self.app.model
        self.query_one("#compare-question", Static).update(Content.assemble(
            ("Compare ", "bold"), (self.question, "italic"), (f"  · {self.app.model}", "$text-muted")))
        self._run()

    @work(thread=True, exit_on_error=False, group="compare")
    def _run(self) -> None:
        worker = get_current_worker()
        app = self.app
        for index, turn in enumerate(self.turns):
            column = self.columns[index]

            def on_event(event, turn=turn, column=column) -> None:
                if worker.is_cancelled:
                    raise Stop()
                try:
                    app.call_from_thread(self._apply, turn, column, event)
                except RuntimeError as exc:
                    raise Stop() from exc

            if worker.is_cancelled:
                return
            app.call_from_thread(self._start_column, turn, column)
            try:
                ask(self.question, AskOptions(strategy=turn.requested, model=turn.model, experiment="tui-compare"),
                    app.services, on_event)
            except Stop:
                return
            except BaseException as exc:
                self.post_message(self.ColumnDone(index, exc))
            else:
                self.post_message(self.ColumnDone(index, None))

    def _start_column(self, turn: Turn, column: CompareColumn) -> None:
        turn.stage = "recalling"
        column.redraw()

    def _apply(self, turn: Turn, column: CompareColumn, event) -> None:
        turn.apply(event)
        if event.kind in ("rerank", "context", "done"):
            self._mark_differences()
        column.redraw()

    def _mark_differences(self) -> None:
        columns = self.columns
        tops = [c.top_ids() if c.turn.ranked else None for c in columns]
        for i, column in enumerate(columns):
            others = [t for j, t in enumerate(tops) if j != i and t is not None]
            column.unique = (tops[i] - set().union(*others)) if tops[i] is not None and others else set()
            column.redraw()

    def on_compare_screen_column_done(self, message: ColumnDone) -> None:
        turn = self.turns[message.index]
        if message.error is not None:
            turn.stage = "failed"
            turn.error = turn.error or str(message.error)
            # One notification per kind of failure: a model that is down fails every column the same way.
            if type(message.error) not in self.reported:
                self.reported.add(type(message.error))
                self.app.report(message.error, f"comparing: {turn.requested}")
        self._mark_differences()

    def action_cite(self, column: int, number: int) -> None:
        """A citation marker was clicked: open that source's document."""
        from assistant.tui.screens.document import DocumentScreen
        rows = [r for r in self.turns[column - 1].sources() if r.number == number]
        if rows:
            self.app.push_screen(DocumentScreen(rows[0]))

    def action_close(self) -> None:
        self.workers.cancel_group(self, "compare")
        self.dismiss()
