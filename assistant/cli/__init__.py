"""The edge: parse arguments, build Settings and Services once, hand over to the pipeline, reports or the TUI."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# One module per command group; each has register(subparsers). Imported eagerly (they import nothing heavy).
COMMAND_MODULES = ("kb", "search", "ask", "runs", "rerankers", "evaluate", "answers_eval")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description=(
        "Q&A over your documents with two-stage retrieval: recall (pgvector), rerank, cited answer. "
        "Run with no command to open the chat."))
    parser.add_argument("--config", help="TOML settings file (default: <data_dir>/config.toml)")
    parser.add_argument("--data-dir", help="data directory (database, models); env ASSISTANT_DATA_DIR")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    tui = sub.add_parser("chat", help="open the terminal chat (the default)")
    tui.set_defaults(func=_run_tui)
    for name in COMMAND_MODULES:
        importlib.import_module(f"assistant.cli.{name}").register(sub)
    return parser


def _run_tui(args, settings) -> int:
    from assistant.tui.app import run_app
    return run_app(settings)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    from assistant.cli.common import err_console, load_settings, run_command
    from rich.markup import escape

    from assistant.settings import SettingsError

    try:
        settings = load_settings(args)
    except SettingsError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    func = getattr(args, "func", _run_tui)
    return run_command(func, args, settings)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
