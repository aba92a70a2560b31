"""Training questions from every source, and (query, positive, hard negatives) groups mined with our own recall.

A question knows which documents answer it (BEIR qrels, the chunk a synthetic question was written from, the
positive of a constraint pair) and, for constraint questions, the chunk that must lose. Hard negatives come from
the product's Recaller over the same schema, so the model learns to fix the mistakes recall actually makes.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from assistant.db import store, trainstore
from assistant.language import language_of  # noqa: F401 - re-exported: training code asks data for it

Progress = Callable[[int, int, str], None]

_WORDS = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", re.I)


@dataclass(frozen=True)
class TrainQuestion:
    qid: str
    text: str
    kind: str
    """'qrels', 'synthetic', 'constraint' or 'constraint_with'."""
    relevant_docs: frozenset[int]
    """Document ids that answer the question (evaluation is per document, as in BEIR)."""
    positives: tuple[int, ...] = ()
    """Chunk ids known to answer; empty: the best-recalled chunk of each relevant document."""
    negatives: tuple[int, ...] = ()
    """Chunk ids known not to answer (the near miss of a constraint question)."""
    mine: bool = True
    """Add hard negatives from recall (not for constraint questions: their other near misses may be right)."""
    group: str = ""
    """Questions sharing a group go to the same side of the held-out split (a constraint pair and its mirror)."""


@dataclass
class TrainGroup:
    qid: str
    kind: str
    query: str
    positives: list[str]
    negatives: list[str]
    positive_ids: list[int] = field(default_factory=list)
    negative_ids: list[int] = field(default_factory=list)

    @property
    def pairs(self) -> int:
        return len(self.positives) + len(self.negatives)


def normalise_question(text: str) -> str:
    """Lower case, words only: the duplicate key of a question."""
    return " ".join(_WORDS.findall(text.lower()))


def question_tokens(text: str) -> set[str]:
    return set(_WORDS.findall(text.lower()))


def from_stored(q: trainstore.StoredQuestion) -> TrainQuestion:
    """A stored synthetic or constraint question as a training question."""
    negatives = (q.negative_chunk_id,) if q.negative_chunk_id is not None else ()
    group = f"{q.kind.split('_')[0]}:{'|'.join(sorted(filter(None, [q.chunk_sha, q.negative_chunk_sha])))}"
    return TrainQuestion(qid=f"{q.kind}:{q.id}", text=q.question, kind=q.kind,
                         relevant_docs=frozenset({q.document_id}), positives=(q.chunk_id,), negatives=negatives,
                         mine=q.kind == "synthetic", group=group)


def stored_questions(db, kinds: Sequence[str]) -> list[TrainQuestion]:
    """Kept questions of these kinds whose chunks still exist."""
    with db.connection() as conn:
        return [from_stored(q) for q in trainstore.kept_questions(conn, kinds)]


def qrels_questions(db, folder: Path, split: str = "train", limit: int | None = None) -> tuple[list[TrainQuestion], int]:
    """Judged queries of a BEIR split as training questions; also how many were skipped (documents not ingested)."""
    from assistant.eval.beir import dataset_name, load_dataset
    from assistant.eval.ingest import source_for

    name = dataset_name(folder)
    data = load_dataset(Path(folder), split).limited(limit)
    sources = {source_for(name, d) for docs in data.qrels.values() for d, r in docs.items() if r > 0}
    with db.connection() as conn:
        ids = trainstore.documents_by_source(conn, sources)
    out, skipped = [], 0
    for qid, text in data.queries.items():
        docs = frozenset(ids[s] for s in (source_for(name, d) for d, r in data.qrels[qid].items() if r > 0)
                         if s in ids)
        if not docs or not text.strip():
            skipped += 1
            continue
        out.append(TrainQuestion(qid=f"{name}:{qid}", text=text, kind="qrels", relevant_docs=docs,
                                 group=f"qrels:{qid}"))
    return out, skipped


def passage_text(candidate) -> str:
    """Exactly what the cross-encoder strategy feeds the model for a chunk (train as you serve)."""
    from assistant.rerank.cross_encoder import passage_text as serve_text
    return serve_text(candidate)


def mine_groups(questions: Sequence[TrainQuestion], recaller, db, *, depth: int = 30, skip: int = 3,
                negatives: int = 4, mode: str = "vector", seed: int = 0,
                on_progress: Progress | None = None) -> list[TrainGroup]:
    """Positive and hard-negative passages for each question.

    Negatives are sampled from recall ranks skip+1..depth of other documents: the top few are skipped because
    unjudged relevant documents crowd there (false negatives teach the model the wrong thing).
    """
    rng = random.Random(seed)
    groups: list[TrainGroup] = []
    for i, q in enumerate(questions, start=1):
        cands = recaller.recall(q.text, depth, mode) if (q.mine or not q.positives) else []
        pos_ids = list(q.positives)
        if not pos_ids:
            seen: set[int] = set()
            for c in cands:
                if c.document_id in q.relevant_docs and c.document_id not in seen:
                    pos_ids.append(c.chunk_id)
                    seen.add(c.document_id)
            if q.relevant_docs - seen:
                with db.connection() as conn:
                    pos_ids += list(trainstore.first_chunks(conn, q.relevant_docs - seen).values())
        neg_ids = [n for n in q.negatives if n not in pos_ids]
        if q.mine and negatives > 0:
            pool = [c.chunk_id for c in cands if c.rank > skip and c.document_id not in q.relevant_docs
                    and c.chunk_id not in neg_ids]
            neg_ids += rng.sample(pool, min(negatives, len(pool)))
        known = {c.chunk_id: c for c in cands}
        missing = [c for c in pos_ids + neg_ids if c not in known]
        if missing:
            with db.connection() as conn:
                known.update(store.chunks_by_id(conn, missing))
        pos = [p for p in pos_ids if p in known]
        neg = [n for n in neg_ids if n in known]
        if pos:
            groups.append(TrainGroup(q.qid, q.kind, q.text, [passage_text(known[p]) for p in pos],
                                     [passage_text(known[n]) for n in neg], pos, neg))
        if on_progress:
            on_progress(i, len(questions), q.kind)
    return groups


def about_groups(questions: Sequence[TrainQuestion], groups: Sequence[TrainGroup]) -> list[TrainGroup]:
    """For each question that rules a thing out and names its near miss: the thing alone as the query, the near
    miss (which is about it) above the passage that answers (which is not).

    Exclusion-aware reranking asks the model exactly this second question ("how much is this passage about
    Redis?"); trained only on relevance, it scores every on-topic passage alike for it (docs/EVAL.md).
    """
    from assistant.rerank.exclusion import excluded

    named = {q.qid: set(q.negatives) for q in questions if q.negatives}
    out = []
    for g in groups:
        near = [(i, t) for i, t in zip(g.negative_ids, g.negatives) if i in named.get(g.qid, ())]
        things = excluded(g.query)
        if not near or not things or not g.positives:
            continue
        # The first thing named is the one the question is built around; a second is usually a paraphrase of it.
        out.append(TrainGroup(f"{g.qid}:about", "about", things[0], [t for _, t in near], list(g.positives),
                              [i for i, _ in near], list(g.positive_ids)))
    return out
