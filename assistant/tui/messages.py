"""Lifecycle messages posted from workers to the UI (thread-safe through post_message)."""
from __future__ import annotations

from textual.message import Message


class Phase(Message):
    """Long work moved on: a label, and done/total when it is countable (total 0: indeterminate)."""

    def __init__(self, label: str, done: int = 0, total: int = 0) -> None:
        super().__init__()
        self.label, self.done, self.total = label, done, total


class PhaseDone(Message):
    """The long work behind the progress line finished (or failed)."""


class ServicesReady(Message):
    """Database, embedder and knowledge base are up: questions can be asked."""

    def __init__(self, reasons: dict[str, str | None], corpus: str, db_label: str, embed_label: str,
                 ingested: str | None = None) -> None:
        super().__init__()
        self.reasons, self.corpus, self.db_label, self.embed_label = reasons, corpus, db_label, embed_label
        self.ingested = ingested
        """Summary of the demo knowledge base ingest on a first run (None when nothing was ingested)."""


class StartupFailed(Message):
    """The app could not open its database or embedder; the error says what to do."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class WorkFailed(Message):
    """A worker hit an error that the user should see as a notification."""

    def __init__(self, error: BaseException, doing: str) -> None:
        super().__init__()
        self.error, self.doing = error, doing


class IngestFinished(Message):
    def __init__(self, summary: str, skipped: list[tuple[str, str]]) -> None:
        super().__init__()
        self.summary, self.skipped = summary, skipped


class AskFinished(Message):
    """One question went through the pipeline (run is None when it failed before producing one)."""

    def __init__(self, turn: int, run, error: BaseException | None = None) -> None:
        super().__init__()
        self.turn, self.run, self.error = turn, run, error
