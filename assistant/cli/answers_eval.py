"""`assistant eval-answers`: answer quality per strategy on a gold question set (forbidden citations, expected
sources, abstentions, citation support, agreement across repeats, answer time)."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from rich import box
from rich.markup import escape
from rich.table import Table

from assistant.cli.common import build_services, console, err_console, progress_bar


def register(sub) -> None:
    p = sub.add_parser("eval-answers", help="measure answers on a gold question set: forbidden citations, expected "
                                            "sources, abstention, citation support, agreement, answer time")
    p.add_argument("--gold", required=True, type=Path, help="gold questions, one JSON object a line "
                                                            "(bench/gold_demo.jsonl for the demo knowledge base)")
    p.add_argument("--strategies", default="auto,none", help="comma-separated rerank strategies (default: auto,none)")
    p.add_argument("--runs", type=int, default=1, help="times each question is asked per strategy; agreement "
                                                       "needs at least 2 (default: 1)")
    p.add_argument("--limit", type=int, default=None,
                   help="only the first N questions (bench/gold_demo.jsonl interleaves kinds and languages, "
                        "so any head of it mixes them)")
    p.add_argument("--temperature", type=float, default=None, help="answer temperature (default: settings)")
    p.add_argument("--model", default=None, help="litellm model string for the answers (default: settings)")
    p.add_argument("--json", type=Path, default=None, help="also write {strategies: {NAME: figures}} to this file")
    p.add_argument("--plot", type=Path, default=None,
                   help="where to draw the figures (default: <data_dir>/eval/answers.png)")
    p.add_argument("--experiment", default=None, metavar="TAG",
                   help="score the runs already logged under this experiment tag (e.g. one stopped part way) "
                        "instead of asking again")
    p.set_defaults(func=cmd_eval_answers)


def cmd_eval_answers(args, settings, services=None) -> int:
    from assistant.answer.gold import GoldError, load_gold
    from assistant.db import runlog
    from assistant.eval.answers import ask_all, score, spread
    from assistant.eval.answers_plot import history_path, load_history, plot_answers
    from assistant.eval.plot import append_result
    from assistant.pipeline import STRATEGIES

    try:
        gold = load_gold(args.gold)
    except GoldError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 2
    strategies = list(dict.fromkeys(s.strip() for s in args.strategies.split(",") if s.strip()))
    unknown = [s for s in strategies if s not in STRATEGIES]
    if not strategies or unknown:
        err_console.print(f"[bold red]error:[/] unknown strategy {', '.join(unknown) or '(none given)'}: use "
                          f"{', '.join(STRATEGIES)}")
        return 2
    if args.runs < 1 or (args.limit is not None and args.limit < 1):
        err_console.print("[bold red]error:[/] --runs and --limit must be at least 1")
        return 2
    questions = spread(gold, args.limit)
    services = services or build_services(settings)
    model = args.model or settings.llm_model
    start = time.perf_counter()
    if args.experiment:
        tag, asked = args.experiment, []
    else:
        with err_console.status(f"preparing {model}…"):
            from assistant.models.registry import preload
            preload(services.completer_for(model))
        tag = "eval-answers:" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        with progress_bar(f"asking {len(questions)} questions × {args.runs} × {len(strategies)} strategies",
                          transient=False) as update:
            asked = ask_all(questions, services, strategies=strategies, runs=args.runs, tag=tag,
                            temperature=args.temperature, model=args.model, on_progress=update)
    with services.db.connection() as conn:
        rows = runlog.list_runs(conn, experiment=tag, limit=0)
        candidates = runlog.candidates_for(conn, [r["id"] for r in rows])
    if args.experiment:
        if not rows:
            err_console.print(f"[bold red]error:[/] no runs logged under experiment {escape(tag)}")
            return 2
        # What was asked is read back from the log: the questions, and temperature and model as logged.
        asked_q = {r["question"] for r in rows}
        questions = [q for q in gold if q.question in asked_q]
        opts = rows[0]["options"] or {}
        args.temperature = opts.get("temperature", args.temperature)
        model = rows[0]["model"] or model
        counts = {}
        for r in rows:
            key = (r["question"], (r["options"] or {}).get("strategy"))
            counts[key] = counts.get(key, 0) + 1
        args.runs = max(counts.values())
    figures = score(questions, rows, candidates)
    temperature = settings.temperature if args.temperature is None else args.temperature
    record = {"kind": "answers", "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "experiment": tag, "gold": str(args.gold), "questions": len(questions), "of": len(gold),
              "runs": args.runs, "temperature": temperature, "model": model, "embedder": services.embedder.model_id,
              "seconds": round(time.perf_counter() - start, 1),
              "thresholds": {k: getattr(settings, k) for k in (
                  "context_min_score", "context_min_score_zh", "context_confident_score", "support_min_score",
                  "support_min_similarity")},
              "strategies": {s: figures.get(s) for s in strategies}}
    _print_table(record)
    failed = [a for a in asked if a["error"]]
    if failed:
        err_console.print(f"[yellow]{len(failed)} runs failed[/], first: {escape(failed[0]['error'])}")
    history = history_path(settings)
    append_result(history, record)
    if args.json:
        from assistant.cli.jsonout import save_json

        save_json(args.json, record)
        console.print(f"results: {args.json}")
    plot = plot_answers(load_history(history), args.plot or settings.data_dir / "eval" / "answers.png")
    console.print(f"history: {history}" + (f"\nplot: {plot}" if plot else "") + f"\nrun log experiment: {tag}")
    return 1 if asked and len(failed) == len(asked) else 0


def _cell(metric: str, value) -> str:
    from assistant.eval.answers import meets

    if value is None:
        return "–"
    text = f"{value:.1f}" if metric == "answer_s_p50" else f"{value:.2f}"
    ok = meets(metric, value)
    return text if ok is None else (f"[green]{text}[/]" if ok else f"[red]{text}[/]")


def _print_table(record: dict) -> None:
    from assistant.eval.answers import LABELS, METRICS, TARGETS

    title = (f"{Path(record['gold']).name}: {record['questions']} of {record['of']} questions × {record['runs']} "
             f"runs, temperature {record['temperature']:g}, {record['model']}")
    table = Table(box=box.SIMPLE_HEAD, title=title)
    table.add_column("strategy")
    for m in METRICS:
        target = f"\n{TARGETS[m][0]} {TARGETS[m][1]:g}" if m in TARGETS else ""
        table.add_column(LABELS[m] + target, justify="right", no_wrap=True)
    table.add_column("answers", justify="right")
    for name, fig in record["strategies"].items():
        if fig is None:
            table.add_row(name, *["–"] * len(METRICS), "0")
            continue
        c = fig["counts"]
        table.add_row(name, *[_cell(m, fig[m]) for m in METRICS],
                      f"{c['ok']}" + (f" ({c['errors']} failed)" if c["errors"] else ""))
    console.print(table)
