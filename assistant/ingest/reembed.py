"""Move a knowledge base to another embedding model without its source files: `assistant reembed`.

The stored chunks are embedded again as they are (their boundaries were measured with the old model's tokenizer;
re-chunking would need the files, which may be gone). New vectors go to the embedding cache batch by batch, so an
interrupted run resumes where it stopped; then one transaction swaps them in and rebuilds the HNSW index, so
search sees either the old index whole or the new one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from assistant.db import reindex, store
from assistant.ingest.pipeline import StoredChunk, embed_text


@dataclass
class ReembedReport:
    chunks: int
    embedded: int
    """Chunks embedded by this run (the others came from the cache)."""
    old_model: str | None
    new_model: str


def reembed(db, embedder, batch: int = 32,
            on_progress: Callable[[int, int, str], None] | None = None) -> ReembedReport:
    """Re-embed every chunk of db's schema with embedder and bind the index to it."""
    model = embedder.model_id
    with db.connection() as conn:
        old = store.index_meta(conn).get("embed_model")
        total, missing = reindex.count_chunks_to_embed(conn, model)
    if old == model:
        return ReembedReport(total, 0, old, model)  # nothing to move; rebuilding HNSW would only cost time
    done, last_id, embedded = total - missing, 0, 0
    if on_progress:
        on_progress(done, total, "")
    while True:
        with db.connection() as conn:
            rows = reindex.chunks_to_embed(conn, model, last_id, max(1, batch))
        if not rows:
            break
        texts = [embed_text(title, StoredChunk(0, heading, text, 0, sha)) for _, title, heading, text, sha in rows]
        vectors = embedder.embed_batch(texts)
        with db.connection() as conn:
            store.store_embeddings(conn, model, {row[4]: v for row, v in zip(rows, vectors)})
        last_id, embedded, done = rows[-1][0], embedded + len(rows), done + len(rows)
        if on_progress:
            on_progress(min(done, total), total, "")
    with db.connection() as conn:
        reindex.swap_embeddings(conn, model, embedder.dim)
    return ReembedReport(total, embedded, old, model)
