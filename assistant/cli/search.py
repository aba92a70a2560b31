"""`assistant search`: recall, and with --rerank what reranking changed (before/after ranks side by side)."""
from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from assistant.cli.common import build_services, clean, console, err_console, plain, snippet

STRATEGIES = ("none", "cross-encoder", "remote", "llm", "auto")


def register(sub) -> None:
    p = sub.add_parser("search", help="show the chunks recalled for a question, and what reranking changes")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="how many chunks to recall (default: recall_k)")
    p.add_argument("--mode", choices=["vector", "fts", "hybrid"], default=None, help="recall mode")
    p.add_argument("--ef-search", type=int, default=None, help="HNSW ef_search (recall/speed trade-off)")
    p.add_argument("--rerank", choices=STRATEGIES, default=None,
                   help="rerank too, and show recall and reranked ranks side by side (auto: let the policy choose)")
    p.add_argument("--show", type=int, default=20, help="rows to show (default 20)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (strategy, decision, results, timings) instead of tables")
    p.set_defaults(func=cmd_search)


def movement(before: int, after: int) -> Text:
    """An arrow and distance from the recall rank to the reranked rank."""
    if after < before:
        return Text(f"▲{before - after}", style="green")
    if after > before:
        return Text(f"▼{after - before}", style="red")
    return Text("=", style="dim")


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def comparison_table(run, show: int = 20) -> Table:
    """Reranked order with each chunk's recall rank, movement arrow and both scores."""
    what = "recall order kept (no reranking)" if run.strategy == "none" else f"{run.strategy} rerank"
    table = Table(title=plain(f"{what} of {len(run.candidates)} recalled chunks for: {run.question}"), expand=True)
    for name, justify in (("new", "right"), ("move", "center"), ("recall", "right"), ("score", "right"),
                          ("recall score", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    table.add_column("source", overflow="fold", max_width=36)
    table.add_column("chunk", overflow="fold", ratio=3)
    for r in run.ranked[:show]:
        c = r.candidate
        table.add_row(str(r.rank), movement(c.rank, r.rank), str(c.rank), _score(r.score), f"{c.score:.3f}",
                      _source_cell(c), Text(snippet(c.text, 120)))
    return table


def _source_cell(c) -> Text:
    # Document text is data, never markup: "[/etc/hosts]" in a title must print as written.
    cell = plain(c.title)
    cell.append("\n" + clean(c.source), style="dim")
    return cell


def summary_lines(run, show: int = 20) -> list[str]:
    """The auto decision and the reranker's trace, in a few lines for people."""
    lines = []
    if run.decision:
        signals = ", ".join(run.decision.get("signals") or []) or "none"
        lines.append(f"[bold]auto[/] → [bold]{run.strategy}[/]: {escape(run.decision['reason'])} "
                     f"[dim](signals: {escape(signals)})[/]")
    t = run.rerank_trace
    if t is not None:
        parts = [f"reranker {t.reranker}"] + ([f"model {t.model}"] if t.model else []) + [f"{t.seconds:.2f} s"]
        if t.reranker in ("cross-encoder", "remote"):
            parts.append(f"scored {t.scored}, cache hits {t.cache_hits}")
        if t.reranker == "llm":
            parts.append(f"{len(t.calls)} model call(s), parse ok: {t.parse_ok}")
        lines.append("[dim]" + " · ".join(parts) + "[/]")
        if t.fallback:
            lines.append(f"[yellow]fallback:[/] {escape(t.fallback)}")
        lines += [f"[yellow]note:[/] {escape(n)}" for n in t.notes]
    shown = {r.chunk_id for r in run.ranked[:show]}
    dropped = [c for c in run.candidates[:show] if c.chunk_id not in shown]
    if dropped:
        lines.append(f"[dim]moved out of the top {show}: " +
                     escape(", ".join(f"#{c.rank} {c.title}" for c in dropped[:8])) + ("…" if len(dropped) > 8 else "") + "[/]")
    return lines


def _recall_table(question: str, mode: str, results) -> Table:
    table = Table(title=plain(f"recall ({mode}) for: {question}"), expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("source", overflow="fold", max_width=40)
    table.add_column("chunk", overflow="fold", ratio=3)
    for c in results:
        table.add_row(str(c.rank), f"{c.score:.3f}", _source_cell(c), Text(snippet(c.text)))
    return table


def cmd_search(args, settings, services=None) -> int:
    from assistant.pipeline import question_problem

    problem = question_problem(args.question, settings)
    if problem:
        err_console.print(Text.assemble(("error: ", "bold red"), problem))
        return 2
    if args.ef_search:
        settings = settings.replace(ef_search=args.ef_search)
    services = services or build_services(settings)
    mode = args.mode or settings.recall_mode
    from assistant.pipeline import AskOptions, ask

    # Without --rerank: recall order, shown through the same run object (so --show and --json apply alike).
    run = ask(args.question, AskOptions(strategy=args.rerank or "none", recall_mode=mode, recall_k=args.k,
                                        answer=False, log=False), services)
    if getattr(args, "json", False):
        from assistant.cli.jsonout import print_json, run_object
        print_json(run_object(run, args.show))
        return 0
    if args.rerank is None:
        console.print(_recall_table(args.question, mode, [r.candidate for r in run.ranked[:args.show]]))
        return 0
    console.print(comparison_table(run, args.show))
    for line in summary_lines(run, args.show):
        console.print(line)
    return 0
