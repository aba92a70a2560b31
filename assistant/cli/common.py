"""Shared CLI plumbing: settings from flags, one error handler that turns known failures into advice."""
from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.text import Text
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from assistant.settings import Settings
from assistant.textsafe import clean  # noqa: F401 - the CLI's printers import it from here

console = Console()
err_console = Console(stderr=True)


def load_settings(args) -> Settings:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir).expanduser()
    return Settings.load(config=Path(args.config) if getattr(args, "config", None) else None, **overrides)


def _known_errors() -> tuple[type[BaseException], ...]:
    from assistant.db.server import DatabaseError
    from assistant.db.store import EmbedderMismatch
    from assistant.models.completer import LLMError
    from assistant.models.embedder import ModelUnavailable
    from assistant.rerank.base import RerankerUnavailable
    return DatabaseError, EmbedderMismatch, ModelUnavailable, LLMError, RerankerUnavailable


def run_command(func, args, settings) -> int:
    from assistant.redact import RedactingFilter, redact

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    try:
        return int(func(args, settings) or 0)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: finished documents are saved; run the command again to resume.")
        return 130
    except _known_errors() as exc:
        if args.verbose:
            # A provider error may echo the request, API key included: the traceback is printed redacted.
            import traceback
            err_console.print(Text(redact(traceback.format_exc())))
        err_console.print(Text.assemble(("error: ", "bold red"), redact(clean(str(exc)))))
        return 2


def build_services(settings, *, ensure_kb: bool = True):
    """Services for a command; on an empty database the demo knowledge base is ingested first (with a bar)."""
    from assistant.services import Services

    services = Services(settings)
    if ensure_kb:
        with progress_bar("first run: ingesting the demo knowledge base") as update:
            report = services.ensure_knowledge_base(update)
        if report is not None:
            err_console.print(f"[dim]demo knowledge base: {report.summary()}[/]")
    return services


@contextmanager
def progress_bar(description: str, transient: bool = True, every: float = 10.0):
    """Yields update(done, total, current): a rich bar on a terminal, else a plain line every few seconds."""
    if not sys.stderr.isatty():
        yield _log_progress(description, every)
        return
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("[dim]{task.fields[current]}"),
                        console=err_console, transient=transient)
    with progress:
        task = progress.add_task(description, total=None, current="")

        def update(done: int, total: int, current: str = "") -> None:
            # File paths are shortened to their name; other labels (questions, "run 1/10") are shown whole.
            label = Path(current).name if current and Path(current).is_absolute() else current
            progress.update(task, completed=done, total=total, current=label or "")

        yield update


def _log_progress(description: str, every: float):
    """Progress for logs, pipes and nohup: one line when work starts, then at most one line per `every` seconds."""
    start = time.monotonic()
    last = [start - every, None]

    def update(done: int, total: int, current: str = "") -> None:
        now = time.monotonic()
        finished = bool(total) and done >= total
        if (now - last[0] < every and not finished) or (finished and last[1] == done):
            return
        last[0], last[1] = now, done
        elapsed = now - start
        eta = f", ~{elapsed / done * (total - done):.0f} s left" if done and total and done < total else ""
        label = Path(current).name if current and Path(current).is_absolute() else current
        of = f"/{total}" if total else ""
        print(f"{description}: {done}{of} ({elapsed:.0f} s{eta}){' ' + label if label else ''}", file=sys.stderr,
              flush=True)

    return update


def plain(text: str | None, style: str = "") -> Text:
    """User or document text as a rich Text: printed as written, never read as markup ("[/etc/hosts]")."""
    return Text(clean(text), style=style)


def snippet(text: str, width: int = 160) -> str:
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
