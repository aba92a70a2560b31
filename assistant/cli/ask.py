"""`assistant ask`: one question through the pipeline, the answer streamed as it is written, then its sources."""
from __future__ import annotations

from rich.markup import escape

from assistant.cli.common import build_services, clean, console, err_console, snippet
from assistant.pipeline import STRATEGIES, AskOptions, Event, ask


def register(sub) -> None:
    p = sub.add_parser("ask", help="answer a question from the knowledge base, with numbered citations")
    p.add_argument("question", nargs="+", help="the question (quote it, or give it as several words)")
    p.add_argument("--rerank", choices=STRATEGIES, default=None,
                   help="rerank strategy (default: settings.rerank; auto lets the policy choose)")
    p.add_argument("--model", default=None,
                   help="litellm model string for the answer, e.g. openai/gpt-4o-mini, ollama/qwen2.5, "
                        "local/qwen2.5-coder-1.5b (default: settings.llm_model)")
    p.add_argument("--recall-mode", choices=["vector", "fts", "hybrid"], default=None, help="recall mode")
    p.add_argument("-k", "--recall-k", type=int, default=None, help="chunks to recall before reranking")
    p.add_argument("--context-k", type=int, default=None, help="at most this many chunks in the answer context")
    p.add_argument("--temperature", type=float, default=None, help="answer temperature (default: settings)")
    p.add_argument("--seed", type=int, default=None, help="sampling seed (default: settings)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (strategy, decision, results, answer, citations, timings) at the end "
                        "instead of streaming")
    p.set_defaults(func=cmd_ask)


class _Printer:
    """Turns pipeline events into progress lines on stderr and the streamed answer on stdout."""

    def __init__(self):
        self.streaming = False

    def __call__(self, event: Event) -> None:
        if event.kind == "token":
            if not self.streaming:
                self.streaming = True
                console.print("[bold]answer[/]")
            console.file.write(clean(event.data))  # a model may echo escape sequences from a document
            console.file.flush()
        elif event.kind == "recall":
            err_console.print(f"[dim]recalled {len(event.data)} chunks[/]")
        elif event.kind == "policy":
            err_console.print(f"[dim]auto → [bold]{event.data['strategy']}[/]: {escape(event.data['reason'])}[/]")
        elif event.kind == "rerank":
            trace = event.data.trace
            note = f" (fallback: {escape(trace.fallback)})" if trace.fallback else ""
            err_console.print(f"[dim]reranked with {trace.reranker}{note}[/]")
        elif event.kind == "context":
            tokens = sum(item.tokens for item in event.data)
            err_console.print(f"[dim]{len(event.data)} sources in context (~{tokens} tokens); asking the model…[/]")


def _source_line(item) -> str:
    cut = " [dim](cut to fit)[/]" if item.truncated else ""
    title, source = escape(clean(item.title)), escape(clean(item.candidate.source))
    return (f"  [bold][{item.index}][/] {title} [dim]— {source}[/]{cut}\n"
            f"      [dim]{escape(snippet(item.text, 140))}[/]")


def report_lines(run) -> list[str]:
    """What follows the streamed answer: cited and uncited sources, citation problems, timings."""
    answer, lines = run.answer, []
    if answer.cited:
        lines.append("[bold]sources cited[/]")
        lines += [_source_line(item) for item in answer.cited]
    if answer.uncited:
        lines.append("[bold]in context, not cited[/]")
        lines += [_source_line(item) for item in answer.uncited]
    check = answer.citations
    if check.invalid:
        shown = ", ".join(f"[{n}]" for n in check.invalid)
        lines.append(f"[bold yellow]invalid citations:[/] {escape(shown)} — the answer cites sources it was not "
                     f"given (only [1]–[{check.n_sources}] exist)")
    lines += support_lines(answer)
    if answer.abstained:
        lines.append("[yellow]the model says the sources do not answer this question[/]")
    elif check.none and answer.context:
        lines.append("[bold yellow]no citations:[/] the answer cites none of its sources; do not trust it "
                     "without checking them")
    lines.append("[dim]" + timing_line(run) + "[/]")
    return lines


def support_lines(answer) -> list[str]:
    """The cited sentences whose source does not appear to back them, dimmed as [n?]."""
    from assistant.answer.support import UNSUPPORTED_NOTE

    support = answer.support
    if support is None or not support.unsupported:
        return []
    lines = [f"[bold yellow]unsupported citations:[/] {len(support.unsupported)} of {len(support.claims)} "
             f"(checked with {escape(support.scorer)})"]
    for claim in support.unsupported:
        lines.append(f"  [dim][{claim.number}?][/] {escape(snippet(clean(claim.sentence), 120))} "
                     f"[dim]— {UNSUPPORTED_NOTE}[/]")
    return lines


def timing_line(run) -> str:
    """recall · rerank · first token · answer (tokens, tok/s) · total · run id."""
    t, comp = run.timings, run.answer.completion
    parts = [f"recall {t.get('recall_ms', 0):.0f} ms", f"rerank {run.strategy} {t.get('rerank_ms', 0):.0f} ms"]
    if comp.first_token_seconds is not None:
        parts.append(f"first token {comp.first_token_seconds:.1f} s")
    answer = f"answer {t.get('answer_ms', 0) / 1000:.1f} s"
    if comp.completion_tokens and comp.first_token_seconds is not None and comp.seconds > comp.first_token_seconds:
        rate = comp.completion_tokens / (comp.seconds - comp.first_token_seconds)
        answer += f" ({comp.completion_tokens} tokens, {rate:.1f} tok/s)"
    parts += [answer, f"total {t.get('total_ms', 0) / 1000:.1f} s", f"model {comp.model}"]
    if run.id is not None:
        parts.append(f"run #{run.id}")
    return " · ".join(parts)


def cmd_ask(args, settings, services=None) -> int:
    from assistant.pipeline import question_problem

    question = " ".join(args.question).strip()
    problem = question_problem(question, settings)
    if problem:
        err_console.print(f"[bold red]error:[/] {escape(problem)}")
        return 2
    services = services or build_services(settings)
    services.recaller  # an index of another embedder is refused now, before a model is loaded
    model = args.model or settings.llm_model
    with err_console.status(f"preparing {model}…"):
        # Done before recall so a missing model or key is reported before any work (and the local model's
        # one-time assembly and load are not counted as answer time).
        from assistant.models.registry import preload
        preload(services.completer_for(model))
    as_json = getattr(args, "json", False)
    printer = _Printer()
    run = ask(question, AskOptions(strategy=args.rerank, recall_mode=args.recall_mode, recall_k=args.recall_k,
                                   context_k=args.context_k, temperature=args.temperature, seed=args.seed,
                                   model=args.model), services, None if as_json else printer)
    if as_json:
        from assistant.cli.jsonout import print_json, run_object
        print_json(run_object(run))
        return 0
    if not printer.streaming:
        console.print("[bold]answer[/]")
        console.print(clean(run.answer.marked_text), markup=False, highlight=False)
    else:
        console.file.write("\n")
    console.print()
    for line in report_lines(run):
        console.print(line, highlight=False)
    return 0
