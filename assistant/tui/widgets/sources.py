"""The sources of the selected answer: rank, score, movement through reranking, path, and the chunk text."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from assistant.tui.format import movement, score, short_path
from assistant.tui.turn import SourceRow, Turn


def row_prompt(row: SourceRow, width: int) -> Content:
    """Two lines: '[1] ★ #4→#1 ↑3  0.823' and the source path."""
    number = f"[{row.number}]" if row.number is not None else "  –"
    star = ("★ ", "bold $warning") if row.cited else ("  ", "")
    line1 = Content.assemble((number, "bold $accent"), " ", star, movement(row.recall_rank, row.rank),
                             ("  " + score(row.score), "$text-muted"))
    return Content("\n").join([line1, Content.styled(short_path(row.source, width), "$text-muted")])


def row_detail(row: SourceRow) -> Content:
    """The chunk with what the reader needs to judge it."""
    head = Content.assemble((row.label or row.source, "bold"), "\n", (row.source, "$text-muted underline"))
    facts = f"recall #{row.recall_rank} ({score(row.recall_score)})"
    if row.rank is not None:
        facts += f" → #{row.rank}" + (f" ({score(row.rerank_score)})" if row.rerank_score is not None else "")
    cited = (Content.styled("★ cited in the answer", "bold $warning") if row.cited
             else Content.styled("not cited", "$text-muted"))
    text = Content.styled(row.text, "" if row.cited else "$text-muted")
    hint = Content.styled("Enter / o: open the whole document", "italic $text-muted")
    return Content("\n").join([head, Content.styled(facts, "$text-muted"), cited, Content(""), text, Content(""),
                               hint])


class SourcesPanel(Vertical):
    """Lists the selected answer's sources; the highlighted one is shown in full below the list."""

    BINDINGS = [("o", "open", "open document")]

    class OpenDocument(Message):
        def __init__(self, row: SourceRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.turn: Turn | None = None
        self.rows: list[SourceRow] = []

    def compose(self) -> ComposeResult:
        yield Static("Sources", id="sources-title")
        yield OptionList(id="source-list")
        with VerticalScroll(id="source-detail-scroll"):
            yield Static("Ask a question: the sources of the selected answer show here.", id="source-detail")

    def show(self, turn: Turn | None, source: int | None = None) -> None:
        """Show this turn's sources, highlighting source number `source` (or keeping the highlight)."""
        keep = self.query_one(OptionList).highlighted if turn is self.turn and source is None else None
        self.turn = turn
        self.rows = turn.sources() if turn else []
        title = self.query_one("#sources-title", Static)
        options = self.query_one(OptionList)
        if turn is None:
            title.update("Sources")
            options.clear_options()
            return
        cited = sum(r.cited for r in self.rows)
        title.update(Content.assemble((f"Sources of #{turn.number}", "bold"),
                                      (f"  {len(self.rows)} shown, {cited} cited", "$text-muted")))
        width = max(10, (self.size.width or 34) - 4)
        options.clear_options()
        options.add_options([Option(row_prompt(r, width), id=f"s{i}") for i, r in enumerate(self.rows)])
        index = keep
        if source is not None:
            index = next((i for i, r in enumerate(self.rows) if r.number == source), None)
            if index is None:
                self.app.notify(f"#{turn.number} has no source [{source}].", severity="warning")
        if self.rows:
            options.highlighted = index if index is not None and index < len(self.rows) else 0
            self._detail(options.highlighted)
        else:
            self.query_one("#source-detail", Static).update(
                "No sources yet." if turn.stage not in ("done", "failed") else "This run found no sources.")

    def _detail(self, index: int | None) -> None:
        if index is None or index >= len(self.rows):
            return
        self.query_one("#source-detail", Static).update(row_detail(self.rows[index]))
        self.query_one("#source-detail-scroll", VerticalScroll).scroll_home(animate=False)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._detail(event.option_index)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.OpenDocument(self.rows[event.option_index]))

    def action_open(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None and index < len(self.rows):
            self.post_message(self.OpenDocument(self.rows[index]))

    def focus_list(self) -> None:
        self.query_one(OptionList).focus()
