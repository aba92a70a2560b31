"""Known failures as a notification title and a message that says what to do; never a traceback on screen."""
from __future__ import annotations

import logging

log = logging.getLogger("assistant.tui")


class Stop(KeyboardInterrupt):
    """Raised inside a pipeline callback when its worker was cancelled; the run is logged as interrupted.

    A KeyboardInterrupt subclass so that `except Exception` inside model backends does not swallow it.
    """

    def __init__(self, message: str = "stopped by the user") -> None:
        super().__init__(message)


def _classify(exc: BaseException) -> tuple[str, str]:
    from assistant.db.server import DatabaseError
    from assistant.db.store import EmbedderMismatch
    from assistant.models.completer import LLMError
    from assistant.models.embedder import ModelUnavailable
    from assistant.rerank.base import RerankerUnavailable

    if isinstance(exc, LLMError):
        return "Answer model failed", (f"{exc}\nSwitch the model with F3, or check that its server is running; "
                                       "retrieval and sources still work.")
    if isinstance(exc, RerankerUnavailable):
        return "Reranker unavailable", f"{exc}\nPick another strategy with F2 (none and auto always work)."
    if isinstance(exc, DatabaseError):
        return "Database problem", str(exc)
    if isinstance(exc, EmbedderMismatch):
        return "Embedding model mismatch", str(exc)
    if isinstance(exc, ModelUnavailable):
        return "Model unavailable", str(exc)
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, PermissionError)):
        return "File problem", str(exc)
    if isinstance(exc, ValueError):
        return "Invalid choice", str(exc)
    return "Unexpected error", f"{type(exc).__name__}: {exc}"


def describe(exc: BaseException, doing: str = "", log_file=None) -> tuple[str, str]:
    """(title, message) for a notification about exc; unexpected errors are logged with their traceback."""
    title, message = _classify(exc)
    if title == "Unexpected error":
        log.error("while %s", doing or "working", exc_info=exc)
        if log_file:
            message += f"\nThe traceback is in {log_file}."
    else:
        log.warning("%s: %s", title, exc)
    return (f"{title} ({doing})" if doing else title), message


class ReportsWorkerErrors:
    """Mixin for apps and screens: a worker that dies of an unexpected error becomes a notification.

    Workers run with exit_on_error=False, so a failure in a background task never takes the app down with a
    traceback on screen; the traceback goes to the log file instead.
    """

    def on_worker_state_changed(self, event) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.report(event.worker.error, event.worker.name or "a background task")
