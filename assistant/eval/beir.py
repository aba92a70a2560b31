"""BEIR-layout datasets: corpus.jsonl, queries.jsonl, qrels/<split>.tsv, NevIR's optional pairs[_<split>].jsonl
and ExcluIR's optional negatives/<split>.tsv (the on-topic passage that violates the question's constraint).

All ids are kept as strings (SciFact's numeric ids must not become ints, or "007" and "7" would merge).
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator


class DatasetError(ValueError):
    """A dataset folder that is not usable; the message says which file and why."""


@dataclass(frozen=True)
class BeirDoc:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Pair:
    """Two near-identical documents and one query for each: q1 must rank doc1 above doc2, q2 doc2 above doc1."""

    pair_id: str
    q1: str
    q2: str
    doc1: str
    doc2: str


@dataclass
class Dataset:
    name: str
    path: Path
    split: str
    queries: dict[str, str]
    """Query id -> text, only the queries judged in this split, in qrels file order."""
    qrels: dict[str, dict[str, int]]
    pairs: list[Pair] | None = None
    corpus_size: int = 0
    negatives: dict[str, list[str]] | None = None
    """Query id -> the named passages that must rank below its relevant one (negatives/<split>.tsv), or None."""
    notes: list[str] = field(default_factory=list)

    def limited(self, n: int | None) -> "Dataset":
        """The first n queries of the split (qrels order), with only the pairs whose two queries remain."""
        if not n or n >= len(self.queries):
            return self
        keep = list(self.queries)[:n]
        pairs = None
        kept = set(keep)
        if self.pairs is not None:
            pairs = [p for p in self.pairs if p.q1 in kept and p.q2 in kept]
        negatives = None if self.negatives is None else {q: d for q, d in self.negatives.items() if q in kept}
        return Dataset(self.name, self.path, self.split, {q: self.queries[q] for q in keep},
                       {q: self.qrels[q] for q in keep}, pairs, self.corpus_size, negatives=negatives,
                       notes=list(self.notes))


def dataset_name(folder: Path) -> str:
    """A schema-safe name from the folder name: lower-case letters, digits and _."""
    name = re.sub(r"[^a-z0-9_]+", "_", Path(folder).resolve().name.lower()).strip("_")
    return name or "dataset"


def _jsonl(path: Path) -> Iterator[dict]:
    if not path.is_file():
        raise DatasetError(f"{path} is missing (a BEIR folder has corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{n}: not JSON ({exc.msg})") from exc


def iter_corpus(folder: Path) -> Iterator[BeirDoc]:
    """Documents of corpus.jsonl in file order."""
    path = Path(folder) / "corpus.jsonl"
    for n, row in enumerate(_jsonl(path), start=1):
        if "_id" not in row:
            raise DatasetError(f"{path}: line {n} has no _id")
        yield BeirDoc(str(row["_id"]), str(row.get("title") or ""), str(row.get("text") or ""))


def load_qrels(folder: Path, split: str) -> dict[str, dict[str, int]]:
    """Query id -> {doc id: relevance} from qrels/<split>.tsv (header line skipped), in file order."""
    path = Path(folder) / "qrels" / f"{split}.tsv"
    if not path.is_file():
        have = sorted(p.stem for p in (Path(folder) / "qrels").glob("*.tsv"))
        raise DatasetError(f"{path} is missing; splits here: {', '.join(have) or 'none'}")
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for n, row in enumerate(reader, start=1):
            if not row or (n == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise DatasetError(f"{path}:{n}: expected query-id, corpus-id, score")
            qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
    return qrels


def load_pairs(folder: Path, split: str | None = None) -> list[Pair] | None:
    """NevIR's pairs of a split: pairs_<split>.jsonl when the folder has one, else pairs.jsonl, else None."""
    path = Path(folder) / f"pairs_{split}.jsonl"
    if split is None or not path.is_file():
        path = Path(folder) / "pairs.jsonl"
    if not path.is_file():
        return None
    try:
        return [Pair(str(r["pair_id"]), str(r["q1"]), str(r["q2"]), str(r["doc1"]), str(r["doc2"]))
                for r in _jsonl(path)]
    except KeyError as exc:
        raise DatasetError(f"{path}: every line needs pair_id, q1, q2, doc1, doc2 (missing {exc})") from exc


def load_negatives(folder: Path, split: str) -> dict[str, list[str]] | None:
    """Query id -> named violating passages from negatives/<split>.tsv (header line skipped), or None."""
    path = Path(folder) / "negatives" / f"{split}.tsv"
    if not path.is_file():
        return None
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or (n == 1 and row[0] == "query-id"):
                continue
            if len(row) < 2:
                raise DatasetError(f"{path}:{n}: expected query-id, corpus-id")
            out.setdefault(row[0], []).append(row[1])
    return out


def load_dataset(folder: Path, split: str = "test") -> Dataset:
    """Queries and judgements of one split; the corpus is only counted (ingest streams it)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    qrels = load_qrels(folder, split)
    texts = {str(r["_id"]): str(r.get("text") or "") for r in _jsonl(folder / "queries.jsonl")}
    missing = [q for q in qrels if q not in texts]
    if missing:
        raise DatasetError(f"{len(missing)} judged queries of {split} are not in queries.jsonl (e.g. {missing[0]!r})")
    corpus_size = sum(1 for _ in iter_corpus(folder))
    pairs = load_pairs(folder, split)
    if pairs is not None:
        # pairs.jsonl may pair the queries of another split; only pairs judged in this one count.
        pairs = [p for p in pairs if p.q1 in qrels and p.q2 in qrels] or None
    negatives = load_negatives(folder, split)
    if negatives is not None:
        negatives = {q: d for q, d in negatives.items() if q in qrels}
    return Dataset(dataset_name(folder), folder, split, {q: texts[q] for q in qrels}, qrels, pairs,
                   corpus_size, negatives=negatives)
