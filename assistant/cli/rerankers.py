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
    t.add_argument("--name", default=None,
                   help="name to save it under (use it with ASSISTANT_CROSS_ENCODER=NAME); with --recipe, the "
                        "recipe's name by default")
    t.add_argument("--recipe", default=None, metavar="NAME|FILE",
                   help="train from a recipe file that mixes several sources (bundled: house); the other data "
                        "flags are then ignored")
    t.add_argument("--eval-root", type=Path, default=None,
                   help="folder holding the recipe's BEIR sets (default: $ASSISTANT_EVAL_ROOT or ../shared/eval)")
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

    sh = rsub.add_parser("ship", help="copy a trained model into the package as the shipped house model "
                                      "(fp16 safetensors, sha256 in its card)")
    sh.add_argument("name", help="a trained model's name (see `assistant reranker list`)")
    sh.add_argument("--to", type=Path, default=None, help="target directory (default: the package's house model)")
    sh.set_defaults(func=cmd_ship)


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

    if args.recipe:
        return _train_recipe(args, settings)
    if not args.name:
        err_console.print("[bold red]error:[/] give --name NAME (or --recipe house)")
        return 2
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
    _export_for_serving(settings, args.name)
    _print_card(outcome.card)
    console.print(f"saved: {outcome.path}\nuse it: ASSISTANT_CROSS_ENCODER={args.name} assistant ask --rerank "
                  "cross-encoder ...")
    return 0


def default_eval_root() -> Path:
    import os
    env = os.environ.get("ASSISTANT_EVAL_ROOT")
    if env:
        return Path(env).expanduser()
    for cand in (Path.cwd() / ".." / "shared" / "eval", Path(__file__).resolve().parents[3] / "shared" / "eval"):
        if cand.is_dir():
            return cand.resolve()
    return Path("../shared/eval")


def _train_recipe(args, settings) -> int:
    from dataclasses import replace

    from assistant.train.house import RecipeError, load_recipe, run_house
    from assistant.train.recipe import check_name

    try:
        recipe = load_recipe(args.recipe)
        if args.name:
            recipe = replace(recipe, name=args.name)
        check_name(recipe.name)
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 2
    root = args.eval_root or default_eval_root()
    if not root.is_dir():
        err_console.print(f"[bold red]error:[/] eval root {root} is not a folder: pass --eval-root or set "
                          "ASSISTANT_EVAL_ROOT")
        return 2
    try:
        outcome = run_house(recipe, settings=settings, eval_root=root,
                            stage=lambda d: progress_bar(d, transient=False),
                            log=lambda s: err_console.print(f"[dim]{s}[/]"))
    except (RecipeError, ValueError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 2
    card = outcome.card
    table = Table(title=f"{card['name']}: held-out check per source (recall top {recipe.heldout_k}, "
                        f"{recipe.recall_mode})")
    for col in ("source", "questions", "recall", "cross-encoder", "best fused", "named right"):
        table.add_column(col, justify="right" if col != "source" else "left")
    for name, h in card["metrics"]["heldout_by_source"].items():
        fused = max(h["fused"].items(), key=lambda kv: kv[1].get("nDCG@10", 0), default=("", {}))
        rr = h.get("named_right_rank", {})
        table.add_row(name, str(h["queries"]), f"{h['recall'].get('nDCG@10', 0):.3f}",
                      f"{h['reranked'].get('nDCG@10', 0):.3f}",
                      f"{fused[1].get('nDCG@10', 0):.3f} (w {fused[0]})" if fused[0] else "",
                      f"{rr['share']:.3f}" if rr else "")
    console.print(table)
    tr = card["training"]
    console.print(f"{card['counts']['pairs']} pairs, {tr['steps']} steps in {tr['seconds']:.0f} s on {tr['device']}; "
                  f"served: {card['serving']}")
    _export_for_serving(settings, recipe.name)
    console.print(f"saved: {outcome.path}")
    return 0


def _export_for_serving(settings, name: str) -> None:
    """Export a model just trained for the configured backend, so that its first question does not wait for it."""
    from assistant.rerank import onnx_backend
    from assistant.rerank.base import RerankerUnavailable
    from assistant.rerank.cross_encoder import load_model, resolve_model, served_max_length

    backend = settings.cross_encoder_backend
    if not onnx_backend.exports(backend):
        return
    try:
        choice = resolve_model(settings.replace(cross_encoder=name))
        max_length = served_max_length(settings, choice)
        err_console.print(f"exporting {name} for the {backend} backend (a minute or two) ...")
        directory = onnx_backend.prepare(choice, max_length, backend, settings.data_dir,
                                         lambda: load_model(choice, max_length))
    except (onnx_backend.BackendUnavailable, RerankerUnavailable) as exc:
        err_console.print(f"[yellow]warning:[/] {exc}; it will be served with torch")
        return
    err_console.print(f"[dim]exported for {backend}: {directory}[/]")


def cmd_ship(args, settings) -> int:
    import json

    from sentence_transformers import CrossEncoder

    from assistant.rerank.house import ship
    from assistant.train.trainer import resolve_base

    src = settings.rerankers_dir / args.name
    if not (src / "config.json").is_file():
        err_console.print(f"[bold red]error:[/] no trained model {args.name!r} in {settings.rerankers_dir}")
        return 2
    card = json.loads((src / "card.json").read_text(encoding="utf-8"))
    model = CrossEncoder(str(src), device="cpu", local_files_only=True)
    training = card.get("training") or {}
    dropped = 0
    if training.get("add_cjk"):
        from assistant.train.vocab import drop_untrained_cjk

        base_target, _ = resolve_base(None if str(card.get("base_model", "")).startswith("sentence-transformers/")
                                      else card.get("base_model"), settings.rerankers_dir)
        dropped = drop_untrained_cjk(model, base_target, int(training["add_cjk"]), int(training.get("seed", 0)))
    card["shipped"] = {"from": str(src), "untrained_characters_dropped": dropped,
                       "vocabulary": len(model.tokenizer)}
    out = ship(model, card, args.to)
    size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    console.print(f"shipped {args.name} -> {out} ({size:.1f} MB; {dropped} characters training never saw dropped)")
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
    from assistant.rerank.cross_encoder import house_choice, trained_models
    from assistant.rerank.house import HOUSE_DIR, available

    if available():
        try:
            shipped = house_choice()
            card = shipped.card
            serving = "; ".join(f"{lang}: {v.get('questions')} ({v.get('way')})"
                                for lang, v in (card.get("serving") or {}).items())
            console.print(f"shipped: [bold]house[/] ({shipped.model_id}, sha256 checked), trained "
                          f"{str(card.get('created_at', ''))[:10]} on {card.get('counts', {}).get('pairs', '?')} pairs; "
                          f"served {serving}. The default unless ASSISTANT_CROSS_ENCODER names another.")
        except Exception as exc:  # a damaged shipped model is reported, the trained ones still listed
            err_console.print(f"[yellow]shipped house model in {HOUSE_DIR} is unusable:[/] {exc}")
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
