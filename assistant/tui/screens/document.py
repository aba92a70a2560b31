"""The whole document a source came from, with the source's chunk highlighted and scrolled into view."""
from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from assistant.tui.errors import ReportsWorkerErrors
from assistant.tui.turn import SourceRow
from assistant.textsafe import clean


class DocumentScreen(ReportsWorkerErrors, ModalScreen):
    BINDINGS = [("escape,q", "app.pop_screen", "Back")]

    def __init__(self, row: SourceRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        with Vertical(id="document"):
            yield Static(Content.assemble((self.row.label or self.row.source, "bold"), "\n",
                                          (self.row.source, "$text-muted")), id="document-title")
            yield VerticalScroll(Static("loading…"), id="document-body")
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        from assistant.db import store
        try:
            with self.app.services.db.connection() as conn:
                _, _, text = store.document_text(conn, self.row.document_id)
        except Exception as exc:
            self.app.call_from_thread(self.app.report, exc, "opening the document")
            return
        self.app.call_from_thread(self._show, clean(text))

    def _show(self, text: str) -> None:
        body = self.query_one("#document-body", VerticalScroll)
        body.remove_children()
        at = text.find(self.row.text)
        if at < 0:  # the document changed since this run: show it whole, the chunk first
            parts = [Static(Content.styled(self.row.text, "on $accent 20%"), classes="hit"),
                     Static(Content.styled("(this chunk is no longer in the document)", "italic $warning")),
                     Static(Content(text))]
        else:
            parts = [Static(Content(text[:at].rstrip("\n"))) if at else None,
                     Static(Content.styled(self.row.text, "on $accent 20%"), classes="hit"),
                     Static(Content(text[at + len(self.row.text):].lstrip("\n")))]
        body.mount_all([p for p in parts if p is not None])
        self.call_after_refresh(lambda: body.scroll_to_widget(self.query_one(".hit"), top=True, animate=False))
