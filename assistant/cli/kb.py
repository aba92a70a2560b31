"""Knowledge-base commands: migrate, ingest, forget, reset, status, reembed."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from assistant.cli.common import build_services, clean, console, err_console, plain, progress_bar


def register(sub) -> None:
    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("ingest", help="add Markdown, text, HTML and PDF files (or folders) to the knowledge base")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--no-prune", action="store_true",
                   help="keep documents of files that are gone from an ingested folder (default: remove them)")
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("forget", help="remove the documents of files, or of everything inside folders, from the "
                                      "knowledge base (the run log keeps its history)")
    p.add_argument("paths", nargs="+", type=Path)
    p.set_defaults(func=cmd_forget)
    p = sub.add_parser("reset", help="delete the knowledge base and run log of this schema and start afresh")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_reset)
    p = sub.add_parser("status", help="show the database, embedding model and knowledge-base size")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("reembed", help="re-embed the knowledge base with the configured embedder "
                                       "(after changing ASSISTANT_EMBEDDER; no source files needed)")
    p.set_defaults(func=cmd_reembed)


def cmd_migrate(args, settings) -> int:
    from assistant.db import open_database
    from assistant.db.migrate import migrate

    db = open_database(settings, migrate=False)
    applied = migrate(db)
    console.print(f"{db.label}: " + (f"applied {', '.join(applied)}" if applied else "schema is up to date"))
    return 0


def cmd_ingest(args, settings) -> int:
    services = build_services(settings, ensure_kb=False)
    with progress_bar("ingesting", transient=False) as update:
        report = services.ingestor.ingest_paths(args.paths, update)
    for path, reason in report.skipped:
        err_console.print(Text.assemble(("skipped ", "yellow"), clean(f"{path}: {reason}")))
    console.print(report.summary())
    if not args.no_prune:
        from assistant.ingest.pipeline import prune_missing

        folders = [p for p in args.paths if p.is_dir()]
        gone = prune_missing(services.db, folders)
        if gone:
            console.print(f"removed {len(gone)} document(s) whose files are gone from "
                          f"{', '.join(str(f) for f in folders)} (keep them with --no-prune)")
    return 1 if report.skipped and not (report.added or report.updated or report.unchanged) else 0


def cmd_forget(args, settings) -> int:
    from assistant.ingest.pipeline import forget

    services = build_services(settings, ensure_kb=False)
    removed = forget(services.db, args.paths)
    for source in removed:
        console.print(plain(f"removed {source}"))
    if not removed:
        err_console.print("no documents match those paths (see `assistant status`; sources are absolute paths)")
        return 1
    console.print(f"{len(removed)} document(s) removed; runs that used them stay in the run log")
    return 0


def cmd_status(args, settings) -> int:
    from assistant.db import store

    services = build_services(settings, ensure_kb=False)
    with services.db.connection() as conn:
        docs, chunks = store.counts(conn)
        meta = store.index_meta(conn)
    table = Table(show_header=False, box=None)
    table.add_row("database", services.db.label)
    table.add_row("schema", settings.schema)
    table.add_row("documents", str(docs))
    table.add_row("chunks", str(chunks))
    table.add_row("index model", f"{meta.get('embed_model', '(none yet)')} ({meta.get('embed_dim', '?')} dims)")
    table.add_row("configured embedder", settings.embedder)
    table.add_row("answer model", settings.llm_model)
    table.add_row("rerank default", settings.rerank)
    console.print(table)
    from assistant.models.embedder import BUNDLED_MODEL_IDS

    configured = BUNDLED_MODEL_IDS.get(settings.embedder.lower())
    if meta.get("embed_model") and configured and configured != meta["embed_model"]:
        err_console.print(f"[yellow]the index was built by {meta['embed_model']}, not the configured "
                          f"{settings.embedder}[/]: search and ask refuse it until you run `assistant reembed` "
                          f"(or set ASSISTANT_EMBEDDER back)", highlight=False)
    return 0


def cmd_reembed(args, settings) -> int:
    from assistant.ingest.reembed import reembed

    services = build_services(settings, ensure_kb=False)
    with progress_bar(f"re-embedding with {settings.embedder}", transient=False) as update:
        report = reembed(services.db, services.embedder, settings.embed_batch, update)
    console.print(plain(f"{report.chunks} chunk(s) now embedded by {report.new_model} (was {report.old_model}; "
                        f"{report.embedded} embedded now, {report.chunks - report.embedded} from the cache)"))
    return 0


def cmd_reset(args, settings) -> int:
    from assistant.db import open_database
    from assistant.db.migrate import migrate

    db = open_database(settings, migrate=False)
    if not args.yes:
        answer = input(f"delete every document, chunk and run in schema {settings.schema!r} of {db.label}? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            err_console.print("nothing deleted")
            return 1
    from assistant.db.store import drop_schema

    drop_schema(db)
    migrate(db)
    console.print(f"schema {settings.schema!r} is empty again; the next run ingests the demo knowledge base")
    return 0
