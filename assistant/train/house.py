"""A recipe that mixes several labelled sources into one cross-encoder: the house model the product ships.

A recipe is a TOML file (assistant/train/recipes/<name>.toml, or a path). Each source is a train/dev split of a
BEIR folder (its corpus indexed in the same schema `assistant eval` uses, so hard negatives come from the
product's own recall) or the product's constraint questions over a knowledge base. Sources are weighted by how
often their questions are seen; the held-out check runs per source, and its figures decide how the model is
served (alone, fused with recall at a weight, and for every question or only for constrained ones).
"""
from __future__ import annotations

import datetime
import random
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Sequence

from assistant.train import data
from assistant.train.heldout import (HeldoutResult, best_exclusion_weight, evaluate_heldout, exclusion_heldout, score,
                                     split_heldout)
from assistant.train.trainer import LOSSES, TrainConfig, resolve_base, save_model, train

RECIPES_DIR = Path(__file__).parent / "recipes"
KINDS = ("qrels", "constraints")
MIN_GROUP = 5
"""Held-out questions of one source in one language below this are too few to judge serving on."""
Stage = Callable[[str], ContextManager[Callable[[int, int, str], None]]]


class RecipeError(ValueError):
    """A recipe file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Source:
    name: str
    kind: str = "qrels"
    path: str = ""
    """BEIR folder, relative to the eval root (qrels sources)."""
    split: str = "train"
    heldout_split: str | None = None
    """Hold out this split of the folder instead of a share of the training questions."""
    heldout: float = 0.1
    heldout_limit: int | None = None
    limit: int | None = None
    weight: float = 1.0
    negatives: int = 3
    negative_ranks: tuple[int, int] = (4, 30)
    named: bool = False
    """Add the set's named near misses (NevIR's twin passage, ExcluIR's violating passage) as hard negatives."""
    constrained: bool = False
    about: bool = False
    """Also train what exclusion-aware reranking asks: the excluded thing alone, its named near miss first."""
    n: int = 200
    """Constraint pairs to build (constraints sources)."""
    hold_out_terms: tuple[str, ...] = ()
    """Constraint questions naming any of these (case-insensitive) are never trained on."""


@dataclass(frozen=True)
class HouseRecipe:
    name: str
    sources: tuple[Source, ...]
    base: str | None = None
    recall_mode: str = "hybrid"
    heldout_k: int = 20
    config: TrainConfig = field(default_factory=TrainConfig)
    path: Path | None = None


def recipe_path(name_or_path: str) -> Path:
    """A bundled recipe by name ('house') or a TOML file path."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".toml" or "/" in name_or_path:
        return path
    return RECIPES_DIR / f"{name_or_path}.toml"


def _ranks(text: str, where: str) -> tuple[int, int]:
    lo, _, hi = str(text).partition("-")
    try:
        lo_i, hi_i = int(lo), int(hi or lo)
    except ValueError:
        raise RecipeError(f"{where}: negative_ranks {text!r} is not FROM-TO") from None
    if lo_i < 1 or hi_i < lo_i:
        raise RecipeError(f"{where}: negative_ranks {text!r}: use FROM-TO with 1 <= FROM <= TO")
    return lo_i, hi_i


def load_recipe(name_or_path: str) -> HouseRecipe:
    """Parse and check a recipe file; RecipeError names the file and what is wrong."""
    path = recipe_path(name_or_path)
    if not path.is_file():
        have = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))) or "none"
        raise RecipeError(f"no recipe {name_or_path!r} ({path} is not a file); bundled recipes: {have}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RecipeError(f"{path}: {exc}") from exc
    known_src = {f for f in Source.__dataclass_fields__}
    sources = []
    for i, s in enumerate(raw.get("source", []), start=1):
        where = f"{path} [[source]] #{i}"
        unknown = set(s) - known_src
        if unknown:
            raise RecipeError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        if s.get("kind", "qrels") not in KINDS:
            raise RecipeError(f"{where}: kind {s.get('kind')!r}: use one of {', '.join(KINDS)}")
        if s.get("kind", "qrels") == "qrels" and not s.get("path"):
            raise RecipeError(f"{where}: a qrels source needs path (a BEIR folder under the eval root)")
        if float(s.get("weight", 1.0)) <= 0:
            raise RecipeError(f"{where}: weight must be > 0")
        s = dict(s)
        if "negative_ranks" in s:
            s["negative_ranks"] = _ranks(s["negative_ranks"], where)
        if "hold_out_terms" in s:
            s["hold_out_terms"] = tuple(str(t).lower() for t in s["hold_out_terms"])
        sources.append(Source(**s))
    if not sources:
        raise RecipeError(f"{path}: no [[source]] tables")
    if len({s.name for s in sources}) != len(sources):
        raise RecipeError(f"{path}: two sources share a name")
    training = dict(raw.get("training", {}))
    unknown = set(training) - set(TrainConfig.__dataclass_fields__)
    if unknown:
        raise RecipeError(f"{path} [training]: unknown field(s) {', '.join(sorted(unknown))}")
    if training.get("loss", "bce") not in LOSSES:
        raise RecipeError(f"{path} [training]: loss {training['loss']!r}: use one of {', '.join(LOSSES)}")
    config = TrainConfig(**{**training, "seed": int(raw.get("seed", training.get("seed", 0)))})
    return HouseRecipe(name=str(raw.get("name") or path.stem), sources=tuple(sources), base=raw.get("base") or None,
                       recall_mode=str(raw.get("recall_mode", "hybrid")), heldout_k=int(raw.get("heldout_k", 20)),
                       config=config, path=path)


@dataclass
class SourceData:
    """One source opened: its questions split into train and held out, with the recall that serves them."""
    source: Source
    services: object
    train: list[data.TrainQuestion]
    held: list[data.TrainQuestion]
    info: dict = field(default_factory=dict)
    groups: list[data.TrainGroup] = field(default_factory=list)
    about: list[data.TrainGroup] = field(default_factory=list)


def _named_negatives(folder: Path, split: str) -> dict[str, list[str]]:
    """Query id -> named near-miss doc ids: ExcluIR's negatives/<split>.tsv, or the other half of a NevIR pair."""
    from assistant.eval.beir import load_negatives, load_pairs

    out = {q: list(d) for q, d in (load_negatives(folder, split) or {}).items()}
    for p in load_pairs(folder, split) or []:
        out.setdefault(p.q1, []).append(p.doc2)
        out.setdefault(p.q2, []).append(p.doc1)
    return out


def _with_named(db, folder: Path, split: str, questions: list[data.TrainQuestion]) -> list[data.TrainQuestion]:
    from dataclasses import replace

    from assistant.db import trainstore
    from assistant.eval.beir import dataset_name
    from assistant.eval.ingest import source_for

    name = dataset_name(folder)
    named = _named_negatives(folder, split)
    sources = {source_for(name, d) for docs in named.values() for d in docs}
    with db.connection() as conn:
        doc_ids = trainstore.documents_by_source(conn, sources)
        chunk_of = trainstore.first_chunks(conn, doc_ids.values())
    out = []
    for q in questions:
        qid = q.qid.split(":", 1)[1]
        negs = tuple(chunk_of[doc_ids[s]] for s in (source_for(name, d) for d in named.get(qid, []))
                     if s in doc_ids and doc_ids[s] in chunk_of and doc_ids[s] not in q.relevant_docs)
        out.append(replace(q, negatives=negs) if negs else q)
    return out


def _qrels_source(src: Source, settings, eval_root: Path, stage: Stage, seed: int) -> SourceData:
    from assistant.eval.beir import DatasetError, dataset_name, iter_corpus
    from assistant.eval.ingest import ingest_corpus, open_eval_database
    from assistant.services import Services

    folder = (eval_root / src.path).resolve()
    try:
        total = sum(1 for _ in iter_corpus(folder))
    except DatasetError as exc:
        raise RecipeError(f"source {src.name}: {exc}") from exc
    db = open_eval_database(settings, dataset_name(folder))
    services = Services(settings.replace(schema=db.schema), db=db)
    with stage(f"indexing {folder.name}") as update:
        report = ingest_corpus(folder, dataset_name(folder), services.ingestor, total, update)
    qs, skipped = data.qrels_questions(db, folder, src.split, src.limit)
    if src.named:
        qs = _with_named(db, folder, src.split, qs)
    if src.heldout_split:
        held, _ = data.qrels_questions(db, folder, src.heldout_split, src.heldout_limit)
        if src.named:
            held = _with_named(db, folder, src.heldout_split, held)
        train_qs = qs
    else:
        train_qs, held = split_heldout(qs, src.heldout, seed)
        held = held[: src.heldout_limit] if src.heldout_limit else held
    info = {"kind": "qrels", "path": str(folder), "split": src.split, "schema": db.schema,
            "index": report.summary(), "skipped": skipped,
            "heldout_from": src.heldout_split or f"{src.heldout:g} of {src.split}"}
    return SourceData(src, services, train_qs, held, info)


def _constraints_source(src: Source, settings, stage: Stage, seed: int) -> SourceData:
    from assistant.db import open_database
    from assistant.eval.ingest import embedder_slug
    from assistant.ingest.demo import ensure_demo
    from assistant.services import Services
    from assistant.train.constraints import KINDS as CKINDS, build_constraint_questions

    db = open_database(settings, schema=f"train_{src.name.replace('-', '_')}_{embedder_slug(settings.embedder)}"[:63])
    services = Services(settings.replace(schema=db.schema), db=db)
    with stage("indexing the demo knowledge base") as update:
        ensure_demo(db, services.ingestor, update)
    with stage("constraint pairs") as update:
        rep = build_constraint_questions(db, n=src.n, seed=seed, on_progress=update)
    qs = data.stored_questions(db, list(CKINDS))
    dropped = [q for q in qs if any(t in q.text.lower() for t in src.hold_out_terms)]
    qs = [q for q in qs if q not in dropped]
    train_qs, held = split_heldout(qs, src.heldout, seed)
    info = {"kind": "constraints", "schema": db.schema, "built": rep.summary(),
            "held_out_terms": list(src.hold_out_terms), "dropped_for_terms": len(dropped),
            "examples": [q.text for q in train_qs[:6]]}
    return SourceData(src, services, train_qs, held, info)


def weighted(groups: Sequence[data.TrainGroup], weight: float, seed: int) -> list[data.TrainGroup]:
    """Each group int(weight) times, plus a seeded share (the fraction) of the groups once more."""
    whole, frac = int(weight), weight - int(weight)
    out = [g for _ in range(whole) for g in groups]
    if frac > 0:
        rng = random.Random(seed)
        out += [g for g in groups if rng.random() < frac]
    return out


def named_right_rank(model, questions: Sequence[data.TrainQuestion], db) -> tuple[float, int] | None:
    """Share of held-out questions whose positive outscores each named near miss (None: no named near misses)."""
    from assistant.db import store, trainstore

    pairs = []
    for q in questions:
        if not q.negatives:
            continue
        pos = list(q.positives)
        if not pos:
            with db.connection() as conn:
                pos = list(trainstore.first_chunks(conn, q.relevant_docs).values())
        pairs.append((q.text, pos[:1], list(q.negatives)))
    if not pairs:
        return None
    ids = sorted({i for _, p, n in pairs for i in p + n})
    with db.connection() as conn:
        chunks = store.chunks_by_id(conn, ids)
    right = counted = 0
    for text, pos, negs in pairs:
        cands = [chunks[i] for i in pos + negs if i in chunks]
        if len(cands) != len(pos) + len(negs):
            continue
        s = score(model, text, cands)
        counted += 1
        right += all(s[0] > x for x in s[1:])
    return (right / counted if counted else 0.0), counted


def choose_serving(held: dict[str, dict], constrained: set[str]) -> dict:
    """How to serve the model, from held-out figures of one language's sources: never below recall where served.

    Alone when it beats recall on every source; else the fusion weight (highest mean nDCG@10) that is at least
    recall on every source; else, for constrained questions only, the way that is best on the constrained sources.
    """
    def ndcg(h: dict, way: str) -> float:
        m = h["reranked"] if way == "alone" else h["fused"].get(way, {})
        return m.get("nDCG@10", 0.0)

    ways = ["alone"] + sorted({w for h in held.values() for w in h["fused"]}, key=float)

    def best(names: Sequence[str]) -> str | None:
        ok = [w for w in ways if names and all(ndcg(held[n], w) >= held[n]["recall"].get("nDCG@10", 0.0)
                                              for n in names)]
        if not ok:
            return None
        # Best mean; on a tie the model alone (simplest), then the weight leaning least on the model.
        return max(ok, key=lambda w: (round(sum(ndcg(held[n], w) for n in names) / len(names), 4), w == "alone",
                                      -float(w) if w != "alone" else 0.0))

    everywhere = best(list(held))
    if everywhere is not None:
        return {"questions": "all", "way": everywhere, "sources": sorted(held)}
    cons = [n for n in held if n in constrained]
    way = best(cons)
    if way is not None:
        return {"questions": "constrained", "way": way, "sources": sorted(cons)}
    return {"questions": "none", "way": None, "sources": sorted(held)}


def serving_by_language(held: dict[str, dict], constrained: set[str]) -> dict[str, dict]:
    """choose_serving for each language over that language's held-out groups (keys 'source' or 'source:lang')."""
    out = {}
    for lang in sorted({h["language"] for h in held.values()}):
        mine = {k: h for k, h in held.items() if h["language"] == lang and h["queries"]}
        out[lang] = choose_serving(mine, {k for k in mine if k.split(":")[0] in constrained})
    return out


def held_groups(sd: SourceData) -> dict[str, list[data.TrainQuestion]]:
    """A source's held-out questions by language, keyed as the card keys them ('source' or 'source:lang')."""
    by_lang: dict[str, list[data.TrainQuestion]] = {}
    for q in sd.held:
        by_lang.setdefault(data.language_of(q.text), []).append(q)
    return {(sd.source.name if len(by_lang) == 1 else f"{sd.source.name}:{lang}"): qs
            for lang, qs in sorted(by_lang.items()) if len(qs) >= MIN_GROUP}


def exclusion_serving(model, opened: Sequence[SourceData], held: dict[str, dict], serving: dict[str, dict],
                      recipe: HouseRecipe, stage: Stage) -> None:
    """Choose each language's exclusion weight on the held-out questions of the `about` sources, as served.

    Writes the sweep into held[key]["exclusion"] and the chosen weight into serving[lang]["exclusion_weight"];
    a language with no such held-out questions gets none (the setting's default then applies).
    """
    sweeps: dict[str, list[dict]] = {}
    for sd in opened:
        if not sd.source.about:
            continue
        for key, qs in held_groups(sd).items():
            lang = held.get(key, {}).get("language")
            if serving.get(lang, {}).get("questions") in (None, "none"):
                continue
            with stage(f"exclusion check: {key}") as update:
                sweep = exclusion_heldout(model, qs, sd.services.recaller, sd.services.db, k=recipe.heldout_k,
                                          mode=recipe.recall_mode, way=serving[lang]["way"], on_progress=update)
            held[key]["exclusion"] = sweep
            sweeps.setdefault(lang, []).append(sweep)
    for lang, found in sweeps.items():
        w = best_exclusion_weight(found)
        if w is not None:
            serving[lang]["exclusion_weight"] = w


@dataclass
class HouseOutcome:
    path: Path
    card: dict


def run_house(recipe: HouseRecipe, *, settings, eval_root: Path, stage: Stage, log=lambda s: None) -> HouseOutcome:
    """Open every source, mine, weight, train, check per source, decide how to serve, save with the card."""
    start = time.perf_counter()
    seed = recipe.config.seed
    base_target, base_label = resolve_base(recipe.base, settings.rerankers_dir)
    opened: list[SourceData] = []
    try:
        for src in recipe.sources:
            sd = (_qrels_source(src, settings, eval_root, stage, seed) if src.kind == "qrels"
                  else _constraints_source(src, settings, stage, seed))
            lo, hi = src.negative_ranks
            with stage(f"hard negatives: {src.name}") as update:
                sd.groups = data.mine_groups(sd.train, sd.services.recaller, sd.services.db, depth=hi, skip=lo - 1,
                                             negatives=src.negatives, mode=recipe.recall_mode, seed=seed,
                                             on_progress=update)
            if src.about:
                sd.about = data.about_groups(sd.train, sd.groups)
                sd.groups += sd.about
            log(f"{src.name}: {len(sd.train)} train questions, {len(sd.groups)} groups "
                f"({len(sd.about)} about what is excluded), {len(sd.held)} held out")
            opened.append(sd)
        groups = [g for sd in opened for g in weighted(sd.groups, sd.source.weight, seed)]
        with stage("training") as update:
            result = train(groups, base_target, recipe.config, on_progress=update)
        held: dict[str, dict] = {}
        for sd in opened:
            for key, qs in held_groups(sd).items():
                lang = data.language_of(qs[0].text)
                with stage(f"held-out check: {key}") as update:
                    h: HeldoutResult = evaluate_heldout(result.model, qs, sd.services.recaller, k=recipe.heldout_k,
                                                        mode=recipe.recall_mode, on_progress=update)
                held[key] = {**h.to_dict(), "language": lang}
                rr = named_right_rank(result.model, qs, sd.services.db)
                if rr is not None:
                    held[key]["named_right_rank"] = {"share": round(rr[0], 4), "questions": rr[1]}
                log(f"held out {key}: recall {h.recall.get('nDCG@10', 0):.3f} -> "
                    f"{h.reranked.get('nDCG@10', 0):.3f}")
        serving = serving_by_language(held, {sd.source.name for sd in opened if sd.source.constrained})
        exclusion_serving(result.model, opened, held, serving, recipe, stage)
        card = _card(recipe, opened, result, held, serving, base_label, settings, time.perf_counter() - start)
        path = save_model(result.model, settings.rerankers_dir / recipe.name, card)
    finally:
        for sd in opened:
            sd.services.close()
    return HouseOutcome(path, card)


def _card(recipe: HouseRecipe, opened: Sequence[SourceData], result, held: dict, serving: dict, base_label: str,
          settings, seconds: float) -> dict:
    data_info = {}
    for sd in opened:
        data_info[sd.source.name] = {
            **sd.info, "weight": sd.source.weight, "negatives": sd.source.negatives,
            "negative_ranks": list(sd.source.negative_ranks), "named": sd.source.named,
            "constrained": sd.source.constrained, "train_questions": len(sd.train), "groups": len(sd.groups),
            "about_groups": len(sd.about),
            "heldout_questions": len(sd.held),
            # What was seen, so nobody reports a figure on it: BEIR query ids, or the question texts.
            "trained_ids": [q.qid.split(":", 1)[1] if sd.source.kind == "qrels" else q.text for q in sd.train],
            "heldout_ids": [q.qid.split(":", 1)[1] if sd.source.kind == "qrels" else q.text for q in sd.held]}
    card = {
        "name": recipe.name,
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "base_model": base_label,
        "recipe": str(recipe.path) if recipe.path else None,
        "data": data_info,
        "counts": {"questions": {sd.source.name: len(sd.train) + len(sd.held) for sd in opened},
                   "train_questions": sum(len(sd.train) for sd in opened),
                   "heldout_questions": sum(len(sd.held) for sd in opened),
                   "groups": result.groups, "pairs": result.pairs, "positives": result.positives,
                   "negatives": result.negatives},
        "training": {**asdict(recipe.config), "steps": result.steps, "seconds": round(result.seconds, 1),
                     "device": result.device, "recall_mode": recipe.recall_mode, "embedder": settings.embedder,
                     "last_losses": result.losses[-5:]},
        "metrics": {"heldout_by_source": held},
        # Per question language: which questions get the model ('all', 'constrained', 'none') and how
        # ('alone' or a fusion weight on the cross-encoder), each chosen on that language's held-out sources.
        "serving": serving,
        "beats_recall": any(v["way"] == "alone" for v in serving.values()),
        "seconds_total": round(seconds, 1),
    }
    return card
