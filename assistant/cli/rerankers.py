"""`assistant reranker train|list`: train our own cross-encoder and see the trained ones."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table

from assistant.cli.common import build_services, console, err_console, progress_bar


def register(sub) -> None:
    p = sub.add_parser("reranker", help="train a cross-encoder on your documents or labelled pairs; list trained ones")
    rsub = p.add_subparsers(dest="reranker_command", metavar="ACTION")
    p.set_defaults(func=lambda args, settings: (p.print_help(), 2)[1])

    t = rsub.add_parser("train", help="fine-tune a small cross-encoder (the bundled MiniLM by default)")
    t.add_argument("--name", required=True, help="name to save it under (use it with ASSISTANT_CROSS_ENCODER=NAME)")
    t.add_argument("--qrels", type=Path, default=None,
                   help="a BEIR folder: its judged queries are training questions (its corpus is indexed in the "
                        "same schema `assistant eval` uses)")
    t.add_argument("--split", default="train", help="qrels split with --qrels (default: train)")
    t.add_argument("--limit-queries", type=int, default=None, help="only the first N queries of the split")
    t.add_argument("--synthetic", type=int, default=0, metavar="N",
                   help="ask the LLM for a question about each of N chunks (stored; a second run asks only the "
                        "missing ones)")
    t.add_argument("--constraints", type=int, nargs="?", const=200, default=0, metavar="N",
                   help="build N 'X without Y' / 「不使用 Y 的 X」 pairs from near-miss chunks (default N: 200)")
    t.add_argument("--epochs", type=float, default=1.0)
    t.add_argument("--max-pairs", type=int, default=None, help="cap on (query, passage) training pairs")
    t.add_argument("--base", default=None,
                   help="base model: a local directory, a trained model's name (domain adaptation), or a hub id "
                        "when online (default: the bundled all-MiniLM-L6-v2)")
    t.add_argument("--negatives", type=int, default=4, help="hard negatives per question (default: 4)")
    t.add_argument("--negative-ranks", default="4-30",
                   help="recall ranks hard negatives are drawn from (default: 4-30)")
    t.add_argument("--loss", choices=("bce", "lambda"), default="bce",
                   help="bce: pointwise with positives weighted; lambda: listwise LambdaLoss (default: bce)")
    t.add_argument("--lr", type=float, default=3e-5, help="learning rate (default: 3e-5)")
    t.add_argument("--batch-size", type=int, default=16, help="pairs per step (default: 16)")
    t.add_argument("--max-length", type=int, default=256, help="tokens per (query, passage) (default: 256)")
    t.add_argument("--heldout", type=float, default=0.1, help="share of questions held out for the check")
    t.add_argument("--recall-mode", choices=("vector", "fts", "hybrid"), default=None,
                   help="recall used for hard negatives and the check (default: the setting)")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=cmd_train)

    ls = rsub.add_parser("list", help="trained rerankers with their data and held-out figures")
    ls.set_defaults(func=cmd_list)


def _ranks(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    lo_i, hi_i = int(lo), int(hi or lo)
    if lo_i < 1 or hi_i < lo_i:
        raise ValueError(f"--negative-ranks {text!r}: use FROM-TO with 1 <= FROM <= TO")
    return lo_i, hi_i


def cmd_train(args, settings) -> int:
    from assistant.services import Services
    from assistant.train.recipe import Recipe, check_name, run_recipe
    from assistant.train.trainer import TrainConfig

    try:
        check_name(args.name)
        lo, hi = _ranks(args.negative_ranks)
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 2
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                         max_length=args.max_length, seed=args.seed, loss=args.loss, max_pairs=args.max_pairs)
    recipe = Recipe(name=args.name, qrels=args.qrels, split=args.split, limit_queries=args.limit_queries,
                    synthetic=args.synthetic, constraints=args.constraints, base=args.base,
                    negatives=args.negatives, skip=lo - 1, depth=hi,
                    recall_mode=args.recall_mode or settings.recall_mode, heldout=args.heldout, config=config)
    if args.qrels is not None:
        from assistant.eval.beir import DatasetError, dataset_name, iter_corpus
        from assistant.eval.ingest import ingest_corpus, open_eval_database

        try:
            total = sum(1 for _ in iter_corpus(args.qrels))
        except DatasetError as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            return 2
        db = open_eval_database(settings, dataset_name(args.qrels))
        services = Services(settings.replace(schema=db.schema), db=db)
        with progress_bar(f"indexing {args.qrels.name} ({settings.embedder})", transient=False) as update:
            report = ingest_corpus(args.qrels, dataset_name(args.qrels), services.ingestor, total, update)
        err_console.print(f"[dim]{db.schema}: {report.summary()}[/]")
    else:
        services = build_services(settings)
    try:
        completer = services.completer if args.synthetic > 0 else None
        outcome = run_recipe(recipe, settings=services.settings, db=services.db, recaller=services.recaller,
                             completer=completer, stage=lambda d: progress_bar(d, transient=False),
                             embedder_id=services.embedder.model_id)
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 2
    finally:
        services.close()
    for note in outcome.notes:
        err_console.print(f"[dim]{note}[/]")
    _print_card(outcome.card)
    console.print(f"saved: {outcome.path}\nuse it: ASSISTANT_CROSS_ENCODER={args.name} assistant ask --rerank "
                  "cross-encoder ...")
    return 0


def _print_card(card: dict) -> None:
    held = card["metrics"]["heldout"]
    tr, counts = card["training"], card["counts"]
    console.print(f"[bold]{card['name']}[/]: {counts['pairs']} pairs from {counts['train_questions']} questions "
                  f"{counts['questions']}, {tr['steps']} steps in {tr['seconds']:.0f} s on {tr['device']}")
    table = Table(title=f"held-out check ({held['queries']} questions, recall top {held['k']}, "
                        f"{held['recall_mode']})")
    table.add_column("ranking")
    table.add_column("nDCG@10", justify="right")
    table.add_column("MRR@10", justify="right")
    rows = [("recall only", held["recall"]), ("cross-encoder", held["reranked"])]
    rows += [(f"fused, weight {w}", m) for w, m in held["fused"].items()]
    for label, m in rows:
        table.add_row(label, f"{m.get('nDCG@10', 0):.4f}", f"{m.get('MRR@10', 0):.4f}")
    console.print(table)
    verdict = "[green]beats recall[/]" if card["beats_recall"] else "[yellow]does not beat recall on its own[/]"
    console.print(f"cross-encoder alone: {verdict}" + (
        f"; fused with the recall score (weight {card['fusion_weight']}) it does" if "fusion_weight" in card else ""))


def cmd_list(args, settings) -> int:
    from assistant.rerank.cross_encoder import trained_models

    models = trained_models(settings.rerankers_dir)
    if not models:
        console.print(f"no trained rerankers in {settings.rerankers_dir}: `assistant reranker train --name NAME ...`")
        return 0
    table = Table(title=f"trained rerankers ({settings.rerankers_dir})")
    for col in ("name", "created", "base", "questions", "pairs", "held-out nDCG@10 recall → reranked",
                "beats recall", "fusion"):
        table.add_column(col)
    for name, _, card in models:
        held = card.get("metrics", {}).get("heldout", {})
        counts = card.get("counts", {})
        ndcg = (f"{held.get('recall', {}).get('nDCG@10', 0):.3f} → {held.get('reranked', {}).get('nDCG@10', 0):.3f}"
                if held else "")
        beats = card.get("beats_recall")
        table.add_row(name, str(card.get("created_at", ""))[:16], str(card.get("base_model", ""))[:40],
                      str(counts.get("questions", "")), str(counts.get("pairs", "")), ndcg,
                      "" if beats is None else ("yes" if beats else "no"),
                      str(card.get("fusion_weight", "")))
    console.print(table)
    return 0
