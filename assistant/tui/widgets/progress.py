"""A one-line progress strip for long work (startup, ingest, model loading), hidden when idle."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar


class WorkProgress(Horizontal):
    """Hidden by the stylesheet until show(); a class rather than .display, so a message that arrives before
    mount still shows."""

    def compose(self) -> ComposeResult:
        yield Label("", id="work-label")
        yield ProgressBar(show_eta=False, id="work-bar")

    @property
    def active(self) -> bool:
        return self.has_class("-active")

    def show(self, label: str, done: int = 0, total: int = 0) -> None:
        """Show label with a bar (indeterminate when total is 0)."""
        self.add_class("-active")
        self.query_one(Label).update(label)
        bar = self.query_one(ProgressBar)
        bar.update(total=total or None, progress=done)

    def hide(self) -> None:
        self.remove_class("-active")
