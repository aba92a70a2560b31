"""One training run end to end: questions from each source, held-out split, hard negatives, training, the
held-out check, and the saved model with its card. The CLI and the tests call this; it takes no global state.
"""
from __future__ import annotations

import datetime
import re
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, ContextManager

from assistant.train import data
from assistant.train.heldout import HeldoutResult, evaluate_heldout, split_heldout
from assistant.train.trainer import TrainConfig, resolve_base, save_model, train

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Stage = Callable[[str], ContextManager[Callable[[int, int, str], None]]]


@contextmanager
def _quiet(description: str):
    yield lambda done, total, current="": None


def check_name(name: str) -> str:
    """A model name is a directory name under rerankers_dir: letters, digits, '_', '.', '-'."""
    if not _NAME.match(name or ""):
        raise ValueError(f"invalid model name {name!r}: use letters, digits, '_', '.' or '-' (no '/')")
    return name


@dataclass(frozen=True)
class Recipe:
    name: str
    qrels: Path | None = None
    """A BEIR folder whose qrels split gives labelled questions (its corpus must be in the db passed in)."""
    split: str = "train"
    limit_queries: int | None = None
    synthetic: int = 0
    """Chunks to write synthetic questions for (0: none; those stored earlier are used either way)."""
    constraints: int = 0
    """Constraint pairs to build (0: none; stored ones are used either way when > 0)."""
    base: str | None = None
    negatives: int = 4
    """Hard negatives per question, sampled from recall ranks skip+1..depth."""
    skip: int = 3
    depth: int = 30
    recall_mode: str = "vector"
    heldout: float = 0.1
    heldout_k: int = 20
    config: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class Outcome:
    path: Path
    card: dict
    heldout: HeldoutResult
    notes: list[str] = field(default_factory=list)


def gather_questions(recipe: Recipe, db, recaller, completer, stage: Stage, notes: list[str],
                     prompts_dir=None) -> tuple[list[data.TrainQuestion], dict]:
    """Every training question the recipe asks for, and what each source contributed (for the card)."""
    from assistant.train.constraints import KINDS, build_constraint_questions
    from assistant.train.synthetic import KIND, generate_questions

    questions: list[data.TrainQuestion] = []
    sources: dict = {}
    if recipe.qrels is not None:
        qs, skipped = data.qrels_questions(db, recipe.qrels, recipe.split, recipe.limit_queries)
        questions += qs
        sources["qrels"] = {"path": str(recipe.qrels), "split": recipe.split, "questions": len(qs),
                            "skipped": skipped}
    if recipe.synthetic > 0:
        if completer is None:
            raise ValueError("synthetic questions need an LLM (configure llm_model)")
        with stage("synthetic questions") as update:
            rep = generate_questions(db, completer, recaller, n=recipe.synthetic, mode=recipe.recall_mode,
                                     seed=recipe.config.seed, prompts_dir=prompts_dir, on_progress=update)
        notes.append(f"synthetic: {rep.summary()}")
        qs = data.stored_questions(db, [KIND])
        questions += qs
        sources["synthetic"] = {"model": rep.model, "requested": recipe.synthetic, "asked_now": rep.asked,
                                "kept_now": rep.kept, "dropped_now": dict(rep.dropped), "questions": len(qs)}
    if recipe.constraints > 0:
        with stage("constraint pairs") as update:
            rep = build_constraint_questions(db, n=recipe.constraints, seed=recipe.config.seed, on_progress=update)
        notes.append(f"constraints: {rep.summary()}")
        qs = data.stored_questions(db, list(KINDS))
        questions += qs
        sources["constraints"] = {"requested": recipe.constraints, "made_now": rep.made, "questions": len(qs),
                                  "examples": rep.examples}
    return questions, sources


def run_recipe(recipe: Recipe, *, settings, db, recaller, completer=None, stage: Stage = _quiet,
               embedder_id: str = "") -> Outcome:
    """Train, check on held-out questions, save to settings.rerankers_dir/<name> with card.json."""
    check_name(recipe.name)
    start = time.perf_counter()
    notes: list[str] = []
    base_target, base_label = resolve_base(recipe.base, settings.rerankers_dir)
    questions, sources = gather_questions(recipe, db, recaller, completer, stage, notes, settings.prompts_dir)
    if not questions:
        raise ValueError("no training questions: give --qrels, --synthetic N or --constraints N")
    train_qs, held_qs = split_heldout(questions, recipe.heldout, recipe.config.seed)
    with stage("mining hard negatives") as update:
        groups = data.mine_groups(train_qs, recaller, db, depth=recipe.depth, skip=recipe.skip,
                                  negatives=recipe.negatives, mode=recipe.recall_mode, seed=recipe.config.seed,
                                  on_progress=update)
    with stage("training") as update:
        result = train(groups, base_target, recipe.config, on_progress=update)
    with stage("held-out check") as update:
        held = evaluate_heldout(result.model, held_qs, recaller, k=recipe.heldout_k, mode=recipe.recall_mode,
                                on_progress=update)
    kinds: dict[str, int] = {}
    for q in questions:
        kinds[q.kind] = kinds.get(q.kind, 0) + 1
    card = {
        "name": recipe.name,
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "base_model": base_label,
        "data": sources,
        "counts": {"questions": kinds, "train_questions": len(train_qs), "heldout_questions": len(held_qs),
                   "mined_groups": len(groups), "groups": result.groups, "pairs": result.pairs,
                   "positives": result.positives, "negatives": result.negatives},
        "training": {**asdict(recipe.config), "steps": result.steps, "seconds": round(result.seconds, 1),
                     "device": result.device, "negatives_per_question": recipe.negatives,
                     "negative_ranks": [recipe.skip + 1, recipe.depth], "recall_mode": recipe.recall_mode,
                     "embedder": embedder_id, "schema": db.schema, "last_losses": result.losses[-5:]},
        "metrics": {"heldout": held.to_dict()},
        "beats_recall": held.beats_recall,
        "seconds_total": round(time.perf_counter() - start, 1),
    }
    if held.fused_beats_recall and held.best_weight is not None:
        card["fusion_weight"] = held.best_weight
        card["fusion"] = {"method": "weight * z(cross-encoder) + (1 - weight) * z(recall score), z per candidate list",
                          "recall_mode": recipe.recall_mode, "candidates": recipe.heldout_k, "beats_recall": True,
                          # Chosen and checked on the same held-out questions: optimistic, so confirm with eval.
                          "chosen_on": f"{held.queries} held-out questions"}
    path = save_model(result.model, settings.rerankers_dir / recipe.name, card)
    return Outcome(path, card, held, notes)
