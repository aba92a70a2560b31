"""Two lines at the bottom: strategy, model and last timings; database, embedding model and corpus size."""
from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from assistant.tui.format import duration

WATCHED = ("strategy", "model", "last_strategy", "timings", "db_label", "embed_label", "corpus", "show_timings")


class StatusBar(Static):
    """Reads the app's reactive state; redraws when any of it changes."""

    def on_mount(self) -> None:
        for name in WATCHED:
            self.watch(self.app, name, lambda *_: self.redraw(), init=False)
        self.redraw()

    def redraw(self) -> None:
        app = self.app
        strategy = app.strategy
        if app.last_strategy and app.last_strategy != strategy:
            strategy += f"→{app.last_strategy}" if strategy == "auto" else f" (last ran {app.last_strategy})"
        line1 = Content.assemble(("strategy ", "$text-muted"), (strategy, "bold"), ("  model ", "$text-muted"),
                                 (app.model, "bold"), ("  db ", "$text-muted"), app.db_label or "…")
        parts: list = []
        t = app.timings
        if app.show_timings and t:
            parts += [("recall ", "$text-muted"), duration(t.get("recall_ms")),
                      (" · rerank ", "$text-muted"), duration(t.get("rerank_ms")),
                      (" · 1st token ", "$text-muted"), duration(t.get("first_token_ms")),
                      (" · total ", "$text-muted"), duration(t.get("total_ms")), ("  │ ", "$text-muted")]
        parts += [("embeddings ", "$text-muted"), app.embed_label or "…"]
        if app.corpus:
            parts += [("  ", ""), (app.corpus, "$text-muted")]
        self.update(Content("\n").join([line1, Content.assemble(*parts)]))
