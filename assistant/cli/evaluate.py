"""`assistant eval`: retrieval quality and latency per strategy on a BEIR-layout dataset."""
from __future__ import annotations

import time
from pathlib import Path

from rich import box
from rich.table import Table

from assistant.cli.common import console, err_console, progress_bar


def register(sub) -> None:
    from assistant.eval.runner import DEFAULT_STRATEGIES

    p = sub.add_parser("eval", help="measure recall and reranking on a BEIR-layout dataset (nDCG@10, MRR@10, "
                                    "Recall@10/100, latency)")
    p.add_argument("--dataset", required=True, type=Path,
                   help="folder with corpus.jsonl, queries.jsonl, qrels/<split>.tsv (and pairs.jsonl for NevIR)")
    p.add_argument("--split", default="test", help="qrels split to evaluate (default: test)")
    p.add_argument("--strategies", default=DEFAULT_STRATEGIES,
                   help="comma-separated: none (vector recall), hybrid, fts, cross-encoder, llm, remote, auto, "
                        f"or MODE+RERANK such as hybrid+cross-encoder (default: {DEFAULT_STRATEGIES})")
    p.add_argument("--candidates", type=int, default=100, help="chunks recalled per query before reranking")
    p.add_argument("--limit", type=int, default=None, help="only the first N queries of the split")
    p.add_argument("--embedder", default=None, help="embedding model for this run (default: the setting); each "
                                                    "embedder indexes the dataset in its own schema")
    p.add_argument("--ef-search", type=int, default=None, help="HNSW ef_search (default: the setting)")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON to this file")
    p.add_argument("--plot", type=Path, default=None,
                   help="where to draw nDCG@10 per strategy per dataset (default: <data_dir>/eval/ndcg10.png)")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args, settings) -> int:
    from assistant.eval.beir import DatasetError, load_dataset
    from assistant.eval.ingest import ingest_corpus, open_eval_database
    from assistant.eval.plot import append_result, load_results, plot_ndcg, results_path
    from assistant.eval.runner import make_record, parse_strategies, run_all
    from assistant.services import Services

    settings = settings.replace(embedder=args.embedder or settings.embedder,
                                ef_search=args.ef_search or settings.ef_search)
    try:
        strategies = parse_strategies(args.strategies)
        dataset = load_dataset(args.dataset, args.split)
    except (ValueError, DatasetError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 2
    if args.candidates < 1:
        err_console.print("[bold red]error:[/] --candidates must be at least 1")
        return 2

    start = time.perf_counter()
    db = open_eval_database(settings, dataset.name)
    services = Services(settings.replace(schema=db.schema), db=db)
    try:
        t = time.perf_counter()
        with progress_bar(f"indexing {dataset.name} ({settings.embedder})", transient=False) as update:
            report = ingest_corpus(dataset.path, dataset.name, services.ingestor, dataset.corpus_size, update)
        ingest = {"added": len(report.added), "updated": len(report.updated), "unchanged": len(report.unchanged),
                  "skipped": len(report.skipped), "chunks": report.chunks, "embedded": report.embedded,
                  "seconds": round(time.perf_counter() - t, 1)}
        err_console.print(f"[dim]{db.schema}: {report.summary()} in {ingest['seconds']} s[/]")

        dataset = dataset.limited(args.limit)
        with progress_bar(f"evaluating {len(dataset.queries)} queries", transient=False) as update:
            results = run_all(dataset, strategies, services, args.candidates, update)
        record = make_record(dataset, results, settings=settings, embedder_id=services.embedder.model_id,
                             schema=db.schema, candidates=args.candidates, limit=args.limit, ingest=ingest,
                             seconds=time.perf_counter() - start)
    finally:
        services.close()

    _print_table(record)
    history = results_path(settings)
    append_result(history, record)
    if args.json:
        from assistant.cli.jsonout import save_json

        save_json(args.json, record)
        console.print(f"results: {args.json}")
    plot = plot_ndcg(load_results(history), args.plot or settings.data_dir / "eval" / "ndcg10.png")
    console.print(f"history: {history}" + (f"\nplot: {plot}" if plot else ""))
    return 1 if all(s["skipped"] for s in record["strategies"]) else 0


def _print_table(record: dict) -> None:
    pairs = next((s["pairs"] for s in record["strategies"] if s["paired_accuracy"] is not None), None)
    limit = f" (first {record['queries']})" if record["limit"] else ""
    table = Table(box=box.SIMPLE_HEAD, title=f"{record['dataset']} {record['split']}: {record['queries']} queries{limit}"
                        + (f", {pairs} pairs" if pairs is not None else "")
                        + f"; {record['embedder_name']}, {record['candidates']} candidates")
    errors = any(s["errors"] for s in record["strategies"])
    right = any(s.get("right_rank") is not None for s in record["strategies"])
    table.add_column("strategy", overflow="fold")
    for name in ("nDCG@10", "MRR@10", "R@10", "R@100") + (("paired",) if pairs is not None else ()) \
            + (("right",) if right else ()):
        table.add_column(name, justify="right", no_wrap=True, min_width=6)
    table.add_column("ms p50/p95", justify="right", no_wrap=True)
    if errors:
        table.add_column("errors", justify="right", no_wrap=True)
    for s in record["strategies"]:
        if s["skipped"]:
            table.add_row(s["strategy"], "[yellow]skipped[/]")
            continue
        m, lat = s["metrics"], s["latency_ms"]
        row = [s["strategy"]] + [f"{m[k]:.4f}" for k in ("nDCG@10", "MRR@10", "Recall@10", "Recall@100")]
        if pairs is not None:
            row.append(f"{s['paired_accuracy']:.4f}")
        if right:
            row.append(f"{s['right_rank']:.4f}" if s.get("right_rank") is not None else "")
        row.append(f"{lat.get('p50', 0):.0f}/{lat.get('p95', 0):.0f}")
        if errors:
            row.append(str(s["errors"]))
        table.add_row(*row)
    console.print(table)
    for s in record["strategies"]:
        if s["skipped"]:
            err_console.print(f"[yellow]{s['strategy']} skipped[/]: {s['skipped']}")
        if s["first_error"]:
            err_console.print(f"[yellow]{s['strategy']}[/]: {s['errors']} queries failed, first: {s['first_error']}")
