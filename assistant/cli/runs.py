"""Run-log commands: `consistency` (experiment + report), `report` (recomputed from logged runs), `runs` (list,
show one)."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from assistant.cli.common import build_services, clean, console, err_console, plain, progress_bar, snippet

DEFAULT_STRATEGIES = "none,cross-encoder,llm"


def register(sub) -> None:
    p = sub.add_parser("consistency", help="ask a question (and paraphrases) N times per strategy and measure "
                                           "how much the runs agree")
    p.add_argument("question")
    p.add_argument("--runs", type=int, default=10, help="repetitions per question and strategy (default 10)")
    p.add_argument("--strategies", default=DEFAULT_STRATEGIES,
                   help=f"comma-separated rerank strategies (default {DEFAULT_STRATEGIES})")
    p.add_argument("--paraphrases", type=Path, metavar="FILE", help="more phrasings of the question, one a line")
    p.add_argument("--temperature", type=float, default=None, help="answer temperature (default: settings)")
    p.add_argument("--no-answer", action="store_true", help="retrieval only: compare rankings, no LLM answers")
    p.add_argument("--same-seed", action="store_true", help="give every repetition the same seed (default: "
                                                            "seed + repetition, so sampling differs)")
    p.add_argument("--tag", help="experiment tag (default: consistency-<time>-<random>)")
    _measure_args(p)
    p.set_defaults(func=cmd_consistency)

    p = sub.add_parser("report", help="recompute the consistency report from logged runs")
    p.add_argument("--question", action="append", help="runs of this question (repeat for paraphrases)")
    p.add_argument("--experiment", help="runs of this experiment tag")
    p.add_argument("--since", help="runs since: 30m, 6h, 2d, 1w or an ISO date")
    p.add_argument("--strategies", help="only these strategies (comma-separated)")
    _measure_args(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("runs", help="list recent runs; `runs show ID` shows one in full")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--question", help="only runs of this question")
    p.add_argument("--experiment", help="only runs of this experiment tag")
    p.set_defaults(func=cmd_runs)
    runs_sub = p.add_subparsers(dest="runs_command", metavar="show")
    show = runs_sub.add_parser("show", help="one run in full: candidates, context, citations, answer")
    show.add_argument("id", type=int)
    show.set_defaults(func=cmd_show)


def _measure_args(p) -> None:
    p.add_argument("--k", type=int, default=5, help="top-k depth for overlap and RBO (default 5)")
    p.add_argument("--p", type=float, default=0.9, help="RBO persistence: weight kept per rank (default 0.9)")
    p.add_argument("--no-plot", action="store_true", help="print the table only")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")


def _strategies(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def cmd_consistency(args, settings) -> int:
    from assistant.runs.experiment import new_tag, read_paraphrases, run_experiment
    from assistant.runs.report import report_from_db

    from assistant.pipeline import STRATEGIES

    strategies = _strategies(args.strategies) or []
    unknown = [s for s in strategies if s not in STRATEGIES]
    if not strategies or unknown or args.runs < 1:
        err_console.print(f"[bold red]error:[/] --strategies takes a comma-separated list of {', '.join(STRATEGIES)}"
                          + (f" (unknown: {', '.join(unknown)})" if unknown else "") + "; --runs at least 1")
        return 2
    paraphrases = read_paraphrases(args.paraphrases) if args.paraphrases else []
    tag = args.tag or new_tag()
    services = build_services(settings)
    n = args.runs * (1 + len(paraphrases)) * len(strategies)
    # Said first, so that an interrupted experiment can still be reported on from what it logged.
    err_console.print(f"[dim]experiment {tag}: {n} runs ({args.runs} × {1 + len(paraphrases)} phrasings × "
                      f"{len(strategies)} strategies)[/]")
    with progress_bar("consistency", transient=False) as update:
        # The bar shows Path(current).name; keep slashes of questions from cutting the label.
        result = run_experiment(args.question, services, strategies=strategies, runs=args.runs,
                                paraphrases=paraphrases, temperature=args.temperature, tag=tag,
                                answer=not args.no_answer, vary_seed=not args.same_seed,
                                on_progress=lambda d, t, c: update(d, t, c.replace("/", "∕")))
    for strategy, why in result.skipped.items():
        err_console.print(f"[yellow]skipped {strategy}[/]: {why}")
    if result.failures:
        err_console.print(f"[yellow]{len(result.failures)} run(s) failed[/] (logged; first: "
                          f"{snippet(result.failures[0][2], 200)})")
    report = report_from_db(services.db, services.embedder, experiment=result.tag, strategies=strategies,
                            k=args.k, p=args.p)
    _print_report(report)
    console.print(f"experiment tag: [bold]{result.tag}[/]  (recompute: assistant report --experiment {result.tag})")
    _outputs(report, args, settings, result.tag)
    return 0 if any(r.runs for r in report.strategies) else 1


def cmd_report(args, settings) -> int:
    from assistant.runs.report import parse_since, report_from_db

    services = build_services(settings, ensure_kb=False)
    if not (args.question or args.experiment or args.since):
        _print_experiments(services)
        err_console.print("choose runs with --experiment TAG, --question TEXT or --since 2d")
        return 2
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 2
    report = report_from_db(services.db, services.embedder, experiment=args.experiment, questions=args.question,
                            since=since, strategies=_strategies(args.strategies), k=args.k, p=args.p)
    if not report.strategies:
        err_console.print(f"no runs match ({report.selection})")
        return 1
    _print_report(report)
    _outputs(report, args, settings, args.experiment)
    return 0


def _outputs(report, args, settings, name: str | None) -> None:
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"figures: {args.json}")
    if not args.no_plot and any(r.runs for r in report.strategies):
        from assistant.runs.plot import plot_report, reports_dir

        console.print(f"plot: [bold]{plot_report(report, reports_dir(settings), name)}[/]")


def _print_experiments(services) -> None:
    from assistant.db import runreports

    with services.db.connection() as conn:
        rows = runreports.experiments(conn)
    if not rows:
        err_console.print("no experiments logged yet: run `assistant consistency \"question\"` first")
        return
    table = Table(title="recent experiments")
    for col in ("experiment", "runs", "failed", "questions", "strategies", "last run"):
        table.add_column(col)
    for r in rows:
        table.add_row(plain(r["experiment"]), str(r["runs"]), str(r["failed"]), str(r["questions"]),
                      ", ".join(sorted(r["strategies"])), f"{r['last'].astimezone():%Y-%m-%d %H:%M}")
    console.print(table)


def _print_report(report) -> None:
    from assistant.runs.report import LABELS, SCOPE_LABELS, fmt

    console.print(f"[bold]consistency[/] · {report.selection} · top k = {report.k} · RBO p = {report.p}")
    for i, q in enumerate(report.questions, start=1):
        console.print(Text.assemble(("  Q%d " % i, "dim"), clean(q)))
    for scope in report.scopes or ["within"]:
        table = Table(title=SCOPE_LABELS[scope], title_justify="left", title_style="bold")
        table.add_column("strategy", no_wrap=True)
        table.add_column("runs", justify="right")
        for m in report.measures:
            table.add_column(LABELS[m], justify="right")
        answers = "answer_exact" in report.measures
        if scope == "within" and answers:
            table.add_column("cited any", justify="right")
        for sr in report.strategies:
            runs = f"{len(sr.runs)}" + (f" [red](+{sr.failed} failed)[/]" if sr.failed else "")
            cells = [fmt(sr.stat(scope, m)) for m in report.measures]
            extra = ([f"{sr.cited_share:.0%}" if sr.cited_share is not None else "–"]
                     if scope == "within" and answers else [])
            table.add_row(plain(sr.label), runs, *cells, *extra)
        console.print(table)
    console.print("[dim]mean over pairs of runs [95% bootstrap CI: runs resampled within a question, questions "
                  "across paraphrases]; 1 = identical. Kendall τ over the candidates both runs ranked; answers "
                  "compared without citation markers, and by embedding cosine.[/]")
    for error in report.errors:
        err_console.print(Text.assemble(("failed run: ", "yellow"), snippet(error, 200)))


def cmd_runs(args, settings) -> int:
    from assistant.db import runlog

    services = build_services(settings, ensure_kb=False)
    with services.db.connection() as conn:
        rows = runlog.list_runs(conn, limit=args.limit, question=args.question, experiment=args.experiment)
    if not rows:
        err_console.print("no runs logged yet: ask something first (`assistant ask \"question\"`)")
        return 0
    table = Table(title=f"recent runs ({len(rows)})", expand=True)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("when", no_wrap=True)
    table.add_column("strategy", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("question", ratio=2, overflow="fold")
    table.add_column("answer / error", ratio=3, overflow="fold")
    for r in rows:
        requested = (r["options"] or {}).get("strategy") or r["strategy"]
        strategy = requested if requested == r["strategy"] else f"{requested}→{r['strategy']}"
        status = {"ok": "[green]ok[/]", "error": "[red]error[/]"}.get(r["status"], f"[yellow]{r['status']}[/]")
        outcome = plain(snippet(r["error"], 100), "red") if r["error"] else plain(snippet(r["answer"] or "(no answer)",
                                                                                            100))
        total = (r["timings"] or {}).get("total_ms")
        table.add_row(str(r["id"]), f"{r['created_at'].astimezone():%m-%d %H:%M:%S}", strategy, status,
                      f"{total:.0f}" if total is not None else "",
                      Text.assemble(snippet(r["question"], 80), ("\n" + clean(r["experiment"]), "dim") if r["experiment"]
                                    else ""), outcome)
    console.print(table)
    return 0


def cmd_show(args, settings) -> int:
    from assistant.db import runlog, store

    services = build_services(settings, ensure_kb=False)
    with services.db.connection() as conn:
        run = runlog.get_run(conn, args.id)
        chunks = store.chunks_by_id(conn, [c["chunk_id"] for c in run["candidates"]]) if run else {}
    if run is None:
        err_console.print(f"no run with id {args.id}")
        return 1
    console.print(_summary(run))
    if run["candidates"]:
        console.print(_candidates_table(run, chunks))
    else:
        # Candidates are written when a run ends; a run killed outright (not an error) never got there.
        console.print("[dim]no candidates recorded" + (" (the run never finished)" if run["status"] == "started"
                                                       else "") + "[/]")
    context = sorted((c for c in run["candidates"] if c["in_context"]), key=lambda c: c["context_index"] or 0)
    if context:
        parts = []
        for c in context:
            chunk = chunks.get(c["chunk_id"])
            body = chunk.text if chunk else "(chunk no longer in the knowledge base)"
            parts.append(Text.assemble((f"[{c['context_index']}] ", "bold"),
                                       (f"{clean(c['source'])}  #{c['chunk_id']}\n", "dim"), clean(body) + "\n"))
        console.print(Panel(Group(*parts), title="context given to the model", title_align="left"))
    if run["citations"] is not None:
        console.print(Panel(plain(json.dumps(run["citations"], ensure_ascii=False)), title="citations",
                            title_align="left"))
    if run["answer"] is not None:
        console.print(Panel(plain(run["answer"]), title="answer", title_align="left", border_style="green"))
    if run["error"]:
        console.print(Panel(plain(run["error"]), title="error", title_align="left", border_style="red"))
    return 0


def _summary(run: dict) -> Table:
    opts = run["options"] or {}
    requested = opts.get("strategy") or run["strategy"]
    table = Table(show_header=False, box=None, title=f"run {run['id']}", title_justify="left", title_style="bold")
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("question", plain(run["question"]))
    table.add_row("when", f"{run['created_at'].astimezone():%Y-%m-%d %H:%M:%S %Z}")
    table.add_row("status", run["status"])
    table.add_row("strategy", requested if requested == run["strategy"] else f"{requested} → {run['strategy']}")
    decision = run["policy_decision"]
    if decision:
        table.add_row("decision", plain(f"{decision.get('strategy')}: {decision.get('reason', '')}"
                                        + (f" ({', '.join(decision.get('signals') or [])})"
                                           if decision.get("signals") else "")))
    if run["experiment"]:
        table.add_row("experiment", plain(run["experiment"]))
    table.add_row("recall", f"{run['recall_mode']} · {opts.get('recall_k', '?')} candidates · {run['embed_model']}")
    trace = (run["trace"] or {}).get("rerank") or {}
    if trace:
        bits = [trace.get("reranker") or "", trace.get("model") or ""]
        bits += [f"parse_ok={trace['parse_ok']}"] if trace.get("parse_ok") is not None else []
        bits += [f"fallback: {trace['fallback']}"] if trace.get("fallback") else []
        bits += [f"cache hits {trace['cache_hits']}"] if trace.get("cache_hits") else []
        table.add_row("rerank", plain(" · ".join(b for b in bits if b)))
    table.add_row("model", plain(f"{run['model'] or '(no answer asked)'}"
                                 + f" · temperature {opts.get('temperature')} · seed {opts.get('seed')}"))
    if run["prompt_sha"]:
        table.add_row("prompt sha256", run["prompt_sha"][:16])
    timings = run["timings"] or {}
    table.add_row("timings", " · ".join(f"{k.removesuffix('_ms')} {v:.0f} ms" for k, v in timings.items()) or "–")
    tokens = run["tokens"] or {}
    if tokens:
        table.add_row("tokens", " · ".join(f"{k} {v}" for k, v in tokens.items()))
    return table


def _candidates_table(run: dict, chunks: dict) -> Table:
    table = Table(title=f"candidates ({len(run['candidates'])}), in reranked order", title_justify="left",
                  expand=True)
    for col, just in (("rerank", "right"), ("score", "right"), ("recall", "right"), ("score ", "right"),
                      ("ctx", "right"), ("cited", "center")):
        table.add_column(col, justify=just, no_wrap=True)
    table.add_column("chunk", overflow="fold", ratio=1)
    for c in run["candidates"]:
        chunk = chunks.get(c["chunk_id"])
        label = plain(f"#{c['chunk_id']} {chunk.label if chunk else Path(c['source'] or '').name}")
        moved = ""
        if c["rerank_rank"] is not None and c["recall_rank"] is not None and c["rerank_rank"] != c["recall_rank"]:
            moved = " [green]↑[/]" if c["rerank_rank"] < c["recall_rank"] else " [red]↓[/]"
        table.add_row(_num(c["rerank_rank"]) + moved, _score(c["rerank_score"]), _num(c["recall_rank"]),
                      _score(c["recall_score"]), f"[{c['context_index']}]" if c["in_context"] else "",
                      "✓" if c["cited"] else "", label)
    return table


def _num(x) -> str:
    return "–" if x is None else str(x)


def _score(x) -> str:
    return "" if x is None else f"{x:.3f}"
