"""`cross-encoder`: a sentence-transformers CrossEncoder scoring (query, passage) pairs in process.

The model is the house model shipped in the package (the default), a trained model's name under
settings.rerankers_dir, a local directory, or a hub id (online, or already in the Hugging Face cache). Without
the house model (a damaged install) "no model" gets one clear message, and `auto` routes around it.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from assistant.rerank.base import Reranker, RerankerUnavailable, RerankResult, Trace
from assistant.rerank.cache import ScoreCache, rank_pointwise
from assistant.types import Candidate

WAYS_OUT = (
    "Three ways out: (1) train one from the bundled MiniLM: `assistant reranker train ...`; "
    "(2) point at a local CrossEncoder directory: ASSISTANT_CROSS_ENCODER=/path/to/model; "
    "(3) name a Hugging Face id while online: ASSISTANT_CROSS_ENCODER=cross-encoder/ms-marco-MiniLM-L-6-v2 "
    "with HF_HUB_OFFLINE=0.")
NO_MODEL = "no cross-encoder model is available. " + WAYS_OUT


@dataclass(frozen=True)
class ModelChoice:
    target: str
    """What CrossEncoder() loads: a directory or a hub id."""
    model_id: str
    """Label for traces and the score cache; changes when a local model's weights change."""
    origin: str
    """'house', 'trained', 'directory' or 'hub'."""
    card: dict = field(default_factory=dict)


def hub_offline() -> bool:
    """Hugging Face's own switch; the CLI and tests set it to 1 unless the user says otherwise."""
    return os.environ.get("HF_HUB_OFFLINE", "0").strip().upper() in {"1", "ON", "YES", "TRUE"}


def read_card(model_dir: Path) -> dict:
    """card.json written by `assistant reranker train` (empty when absent or unreadable)."""
    try:
        card = json.loads((model_dir / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def _created(model_dir: Path, card: dict) -> float:
    stamp = card.get("created_at")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return (model_dir / "config.json").stat().st_mtime


def fusion_weight(card: dict) -> float | None:
    """The weight on the cross-encoder when its card says to fuse its scores with recall's (None: do not)."""
    w = card.get("fusion_weight")
    return float(w) if isinstance(w, (int, float)) and 0 <= w <= 1 else None


def _per_language(card: dict) -> dict[str, dict]:
    """The card's per-language serving table ({} for cards without one)."""
    serving = card.get("serving")
    ok = isinstance(serving, dict) and all(isinstance(v, dict) for v in serving.values())
    return serving if ok else {}


def serving_for(card: dict, query: str) -> tuple[str, float | None]:
    """(which questions the card serves in the query's language: 'all', 'constrained' or 'none'; fusion weight).

    Cards of recipe-trained models say it per language ("serving"); older cards have one global fusion weight.
    """
    serving = _per_language(card)
    if serving:
        from assistant.language import language_of

        entry = serving.get(language_of(query)) or {"questions": "none", "way": None}
        way = entry.get("way")
        weight = None if way in (None, "alone") else float(way)
        return str(entry.get("questions", "none")), weight
    return "all", fusion_weight(card)


DEFAULT_EXCLUSION_WEIGHT = 0.1
"""For models whose card measured no exclusion weight (chosen on house v1's held-out questions, docs/EVAL.md)."""


def exclusion_weight_for(card: dict, query: str) -> float:
    """The weight the card measured for ranking down what a question in this language rules out, else the default."""
    from assistant.language import language_of

    w = (_per_language(card).get(language_of(query)) or {}).get("exclusion_weight")
    return float(w) if isinstance(w, (int, float)) and 0 <= w <= 10 else DEFAULT_EXCLUSION_WEIGHT


def measured_useful(card: dict) -> bool:
    """Not marked worse than recall: alone (beats_recall) or as served, fused with recall (fusion.beats_recall)."""
    serving = _per_language(card)
    if serving:
        return any(v.get("questions") in ("all", "constrained") for v in serving.values())
    fused = card.get("fusion") if isinstance(card.get("fusion"), dict) else {}
    fused_ok = fusion_weight(card) is not None and fused.get("beats_recall") is True
    return card.get("beats_recall") is not False or fused_ok


def trained_models(rerankers_dir: Path) -> list[tuple[str, Path, dict]]:
    """(name, directory, card) of every model under rerankers_dir, newest first."""
    if not rerankers_dir.is_dir():
        return []
    found = [(d.name, d, read_card(d)) for d in rerankers_dir.iterdir() if (d / "config.json").is_file()]
    return sorted(found, key=lambda t: _created(t[1], t[2]), reverse=True)


def _fingerprint(model_dir: Path) -> str:
    # Size and mtime of the files, not their bytes: retraining under the same name must not reuse old scores,
    # and hashing hundreds of MB on every start would cost more than it protects.
    h = hashlib.sha256()
    for f in sorted(model_dir.iterdir()):
        if f.is_file() and f.name != "card.json":
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:12]


def _from_dir(model_dir: Path, origin: str, label: str) -> ModelChoice:
    try:
        archs = json.loads((model_dir / "config.json").read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, ValueError, AttributeError):
        archs = []
    if archs and (model_dir / "1_Pooling").is_dir() and not any("ForSequenceClassification" in a for a in archs):
        # A bi-encoder would load with a freshly random head: different scores on every start, all meaningless.
        raise RerankerUnavailable(f"{model_dir} is a sentence-embedding model, not a cross-encoder (it has no trained "
                                  "classification head). " + WAYS_OUT)
    return ModelChoice(str(model_dir), f"{label}@{_fingerprint(model_dir)}", origin, read_card(model_dir))


def _hub_cached(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


@lru_cache(maxsize=4)
def _house_checked(directory: str, stamp: tuple) -> ModelChoice:
    from assistant.rerank import house

    card = house.verify(Path(directory))
    digest = hashlib.sha256("".join(sorted(card["files"].values())).encode()).hexdigest()[:12]
    return ModelChoice(directory, f"house@{digest}", "house", card)


def house_choice(directory: Path | None = None) -> ModelChoice | None:
    """The shipped house model once its sha256 checks out; None when the package has none."""
    from assistant.rerank import house

    directory = Path(directory or house.HOUSE_DIR)
    if not house.available(directory):
        return None
    # Hashing 45 MB on every question would cost more than the rerank: check once per file state.
    stamp = tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(directory.iterdir()) if f.is_file())
    return _house_checked(str(directory), stamp)


def resolve_model(settings) -> ModelChoice:
    """The model settings point at, or RerankerUnavailable saying what to do."""
    name = settings.cross_encoder
    if name == "house" and not (settings.rerankers_dir / name / "config.json").is_file():
        name = None
    if not name:
        shipped = house_choice()
        if shipped is not None:
            return shipped
        models = trained_models(settings.rerankers_dir)
        usable = [m for m in models if measured_useful(m[2])]
        if usable:
            mname, mdir, _ = usable[0]
            return _from_dir(mdir, "trained", f"trained:{mname}")
        if models:
            names = ", ".join(m[0] for m in models)
            raise RerankerUnavailable(
                f"no cross-encoder is used by default: the trained models in {settings.rerankers_dir} ({names}) are "
                "marked worse than recall (card.json beats_recall: false). Use one anyway with "
                f"ASSISTANT_CROSS_ENCODER={models[0][0]}, or: " + WAYS_OUT)
        raise RerankerUnavailable(NO_MODEL)
    trained = settings.rerankers_dir / name
    if "/" not in name and (trained / "config.json").is_file():
        return _from_dir(trained, "trained", f"trained:{name}")
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise RerankerUnavailable(f"{path} is not a model directory (no config.json). " + WAYS_OUT)
        return _from_dir(path.resolve(), "directory", str(path.resolve()))
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        if hub_offline() and not _hub_cached(name):
            raise RerankerUnavailable(
                f"cross-encoder {name!r} is a hub id, but HF_HUB_OFFLINE=1 and it is not in the local Hugging Face "
                "cache. Set HF_HUB_OFFLINE=0 while online to download it once, or: " + WAYS_OUT)
        return ModelChoice(name, name, "hub")
    known = ", ".join(m[0] for m in trained_models(settings.rerankers_dir)) or "none"
    raise RerankerUnavailable(
        f"cross-encoder {name!r} is neither a trained model in {settings.rerankers_dir} (trained: {known}), a "
        "directory, nor a hub id. " + WAYS_OUT)


def passage_text(candidate: Candidate) -> str:
    """What the cross-encoder reads of a chunk: its title/heading (the topic) and its text."""
    return f"{candidate.label}\n{candidate.text}" if candidate.label else candidate.text


def load_model(choice: ModelChoice, max_length: int, device: str | None = None):
    """A sentence_transformers CrossEncoder for the choice; RerankerUnavailable when it cannot load."""
    try:
        from sentence_transformers import CrossEncoder
    except ImportError as exc:
        raise RerankerUnavailable("the cross-encoder needs sentence-transformers: pip install "
                                  "'sentence-transformers>=5'") from exc
    import torch

    try:
        # Weights may be stored in fp16 (the shipped model): CPU kernels are fastest, and exact, in float32.
        return CrossEncoder(choice.target, max_length=max_length, device=device,
                            local_files_only=choice.origin != "hub" or hub_offline(),
                            model_kwargs={"dtype": torch.float32})
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RerankerUnavailable(f"cannot load cross-encoder {choice.target!r}: {first}. " + WAYS_OUT) from exc


class CrossEncoderReranker(Reranker):
    name = "cross-encoder"

    def __init__(self, model, model_id: str, *, max_length: int = 384, batch_size: int = 32,
                 cache: ScoreCache | None = None, card: dict | None = None, exclusion_weight: float | None = 0.0):
        self.model = model
        self.exclusion_weight = exclusion_weight
        self.model_id = model_id
        self.max_length = max_length
        self.batch_size = max(1, batch_size)
        self.cache = cache
        self.card = card or {}
        self.fusion_weight = fusion_weight(self.card)

    def serves(self, query: str) -> str:
        """'all', 'constrained' (measured to help only questions auto marks as constrained) or 'none' (measured
        to hurt this language's questions): auto's guide; an explicit --rerank cross-encoder runs regardless."""
        return serving_for(self.card, query)[0]

    def describe(self) -> str:
        return f"cross-encoder {self.model_id}"

    def _score(self, query: str, cands: Sequence[Candidate], trace: Trace) -> list[float]:
        # The tokenizer truncates to max_length tokens; cutting absurdly long texts first only saves
        # tokenizing what would be thrown away (8 chars per token is generous for any script).
        limit = self.max_length * 8
        pairs = [(query, passage_text(c)[:limit]) for c in cands]
        scores: list[float] = []
        for i in range(0, len(pairs), self.batch_size):
            batch = pairs[i:i + self.batch_size]
            t = time.perf_counter()
            out = self.model.predict(batch, batch_size=len(batch), show_progress_bar=False, convert_to_numpy=True)
            scores.extend(float(x) for x in out.reshape(len(batch), -1)[:, 0])
            trace.calls.append({"batch": len(batch), "seconds": round(time.perf_counter() - t, 4)})
        return scores

    def rerank(self, query: str, candidates: Sequence[Candidate], top_k: int | None = None) -> RerankResult:
        """Score every (query, passage) pair not already cached; best first."""
        start = time.perf_counter()
        trace = Trace(self.name, model=self.model_id)
        if not measured_useful(self.card):
            trace.notes.append("this trained model is marked worse than recall in its card.json")
        questions, weight = serving_for(self.card, query)
        if questions == "none":
            trace.notes.append("the card measured this model below recall for questions in this language")
        if weight is not None:
            w = weight
            trace.notes.append(f"scores fused with recall as card.json says: {w:g} * z(cross-encoder) + "
                               f"{1 - w:g} * z(recall score)")
        # None: as the card measured for this language (the user's setting wins when given).
        x_weight = exclusion_weight_for(self.card, query) if self.exclusion_weight is None else self.exclusion_weight
        if x_weight > 0:
            from assistant.rerank.exclusion import excluded

            trace.excluded = excluded(query)
            if trace.excluded:
                trace.notes.append(f"passages about what the question rules out ({', '.join(trace.excluded)}) "
                                   f"ranked down, weight {x_weight:g}")
        ranked = rank_pointwise(query, candidates, top_k, score=lambda q, cs: self._score(q, cs, trace),
                                cache=self.cache, trace=trace, fusion_weight=weight, excluded=trace.excluded,
                                exclusion_weight=x_weight)
        trace.seconds = time.perf_counter() - start
        return RerankResult(ranked, trace)


def served_max_length(settings, choice: ModelChoice) -> int:
    """Serve as trained: a longer window than the model saw costs time and buys nothing."""
    trained_len = (choice.card.get("training") or {}).get("max_length")
    return min(settings.cross_encoder_max_length, int(trained_len)) if trained_len else \
        settings.cross_encoder_max_length


def build(services) -> CrossEncoderReranker:
    """The cross-encoder the settings point at, loaded once."""
    settings = services.settings
    choice = resolve_model(settings)
    max_length = served_max_length(settings, choice)
    from assistant.rerank import onnx_backend

    loaded = onnx_backend.load(choice, max_length, settings.cross_encoder_backend, settings.data_dir,
                               lambda: load_model(choice, max_length))
    model, model_id = loaded.model, onnx_backend.cache_model_id(choice.model_id, loaded.backend)
    cache = ScoreCache(services.db, model_id, settings.rerank_cache) if settings.rerank_cache else None
    return CrossEncoderReranker(model, model_id, max_length=max_length,
                                batch_size=settings.cross_encoder_batch, cache=cache, card=choice.card,
                                exclusion_weight=settings.exclusion_weight)


def unavailable_reason(services) -> str | None:
    """Why the cross-encoder cannot run (None: it can); never loads the model."""
    try:
        resolve_model(services.settings)
    except RerankerUnavailable as exc:
        return str(exc)
    return None
