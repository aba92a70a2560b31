"""Past runs from the run log: browse them, read one, and ask it again (Enter)."""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from assistant.tui.errors import ReportsWorkerErrors
from assistant.tui.format import clip, duration, movement, score

LIMIT = 200


def run_detail(run: dict) -> Content:
    """The answer, status, timings and top candidates of one logged run."""
    timings = run.get("timings") or {}
    head = Content.assemble((f"run {run['id']}", "bold"), f"  {run['created_at']:%Y-%m-%d %H:%M}  ",
                            (run["strategy"], "$secondary"), f"  {run.get('model') or ''}  ",
                            (run["status"], "$success" if run["status"] == "ok" else "$error"),
                            f"  total {duration(timings.get('total_ms'))}")
    parts = [head, Content.styled(run["question"], "italic")]
    if run.get("answer"):
        parts.append(Content(run["answer"]))
    if run.get("error"):
        parts.append(Content.styled(run["error"], "$error"))
    cands = run.get("candidates") or []
    shown = [c for c in cands if c["in_context"]] or cands[:5]
    for c in shown:
        parts.append(Content.assemble(
            (f"[{c['context_index']}] " if c.get("context_index") else "    ", "bold $accent"),
            ("★ " if c["cited"] else "  ", "bold $warning"), movement(c["recall_rank"], c["rerank_rank"]), "  ",
            (score(c["rerank_score"] if c["rerank_score"] is not None else c["recall_score"]), "$text-muted"), "  ",
            Path(c["source"] or "?").name))
    return Content("\n").join(parts)


class HistoryScreen(ReportsWorkerErrors, Screen):
    BINDINGS = [("escape", "dismiss_none", "Back"), ("enter", "reask", "Ask again")]

    def __init__(self) -> None:
        super().__init__(id="history")
        self.runs: list[dict] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("History: ↑↓ browse · Enter ask again · Esc back", id="history-title")
            yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="history-detail-scroll"):
                yield Static("loading…", id="history-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("id", "when", "strategy", "status", "question")
        self._load()

    @work(thread=True, exit_on_error=False, group="history")
    def _load(self) -> None:
        from assistant.db import runlog
        try:
            with self.app.services.db.connection() as conn:
                runs = runlog.list_runs(conn, limit=LIMIT)
        except Exception as exc:
            self.app.call_from_thread(self.app.report, exc, "reading the run log")
            return
        self.app.call_from_thread(self._fill, runs)

    def _fill(self, runs: list[dict]) -> None:
        self.runs = runs
        table = self.query_one(DataTable)
        for run in runs:
            table.add_row(str(run["id"]), f"{run['created_at']:%m-%d %H:%M}", Text(run["strategy"]),
                          Text(run["status"]), Text(clip(run["question"], 60)), key=str(run["id"]))
        if not runs:
            self.query_one("#history-detail", Static).update("No runs yet: ask something first.")
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            self._detail(int(event.row_key.value))

    @work(thread=True, exit_on_error=False, group="history-detail", exclusive=True)
    def _detail(self, run_id: int) -> None:
        from assistant.db import runlog
        try:
            with self.app.services.db.connection() as conn:
                run = runlog.get_run(conn, run_id)
        except Exception as exc:
            self.app.call_from_thread(self.app.report, exc, "reading the run log")
            return
        if run is not None:
            self.app.call_from_thread(self.query_one("#history-detail", Static).update, run_detail(run))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_reask()

    def action_reask(self) -> None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row is None or table.cursor_row >= len(self.runs):
            return
        run = self.runs[table.cursor_row]
        requested = (run.get("options") or {}).get("strategy")
        self.dismiss((run["question"], requested))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
